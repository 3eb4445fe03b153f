"""CloudFront's check of signed cookies on a behaviour with a trusted key group, done locally with the
same public key (a real check, not a bypass).

For a request URL it needs ``CloudFront-Policy`` (custom policy), ``CloudFront-Signature`` and
``CloudFront-Key-Pair-Id`` naming a trusted public key; ``CloudFront-Hash-Algorithm`` picks SHA-256
(SHA-1 when absent, as CloudFront does). The signature (RSA PKCS#1 v1.5 or DER ECDSA) must verify
over the policy bytes; the policy's one statement must match the URL (``*`` any run, ``?`` one
character) and its ``DateLessThan`` be in the future (``DateGreaterThan`` in the past). Anything
else is refused: CloudFront answers 403.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from ridelines.auth.tiles_cookies import (
    HASH_ALGORITHM_COOKIE,
    KEY_PAIR_ID_COOKIE,
    POLICY_COOKIE,
    SIGNATURE_COOKIE,
    cloudfront_b64decode,
    parse_policy,
)

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256}


class Denied(Exception):
    """The request carries no valid signed cookies for this URL (the reason is for the log only)."""


class SignedCookieVerifier:
    def __init__(
        self, public_keys: Mapping[str, bytes | PublicKey], *, clock: Callable[[], float] = time.time
    ) -> None:
        """``public_keys``: key pair id -> SubjectPublicKeyInfo DER (KMS GetPublicKey) or a loaded key."""
        self._keys: dict[str, PublicKey] = {}
        for key_pair_id, key in public_keys.items():
            loaded = load_der_public_key(key) if isinstance(key, bytes) else key
            if not isinstance(loaded, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
                raise ValueError(f"key {key_pair_id}: CloudFront accepts only RSA and ECDSA keys")
            self._keys[key_pair_id] = loaded
        self._clock = clock

    def check(self, url: str, cookies: Mapping[str, str]) -> None:
        """Return when ``cookies`` grant ``url``; else raise :class:`Denied`."""
        try:
            policy_text = cookies[POLICY_COOKIE]
            signature_text = cookies[SIGNATURE_COOKIE]
            key_pair_id = cookies[KEY_PAIR_ID_COOKIE]
        except KeyError as missing:
            raise Denied(f"no {missing.args[0]} cookie") from None
        key = self._keys.get(key_pair_id)
        if key is None:
            raise Denied("the key pair id is not in the trusted key group")
        hash_name = cookies.get(HASH_ALGORITHM_COOKIE, "SHA1")
        if hash_name not in _HASHES:
            raise Denied("unsupported hash algorithm")
        try:
            policy_bytes = cloudfront_b64decode(policy_text)
            signature = cloudfront_b64decode(signature_text)
            policy = parse_policy(policy_text)
        except ValueError:
            raise Denied("malformed policy or signature") from None
        _verify(key, signature, policy_bytes, _HASHES[hash_name]())
        self._check_statement(policy, url)

    def _check_statement(self, policy: Mapping[str, Any], url: str) -> None:
        statements = policy["Statement"]
        if len(statements) != 1 or not isinstance(statements[0], dict):
            raise Denied("a policy has exactly one statement")
        statement = statements[0]
        resource = statement.get("Resource")
        if not isinstance(resource, str) or not _wildcard(resource).fullmatch(url):
            raise Denied("the policy does not cover this URL")
        condition = statement.get("Condition")
        if not isinstance(condition, dict) or set(condition) - {"DateLessThan", "DateGreaterThan"}:
            raise Denied("unsupported policy condition")
        now = self._clock()
        less_than = _epoch(condition.get("DateLessThan"))
        if less_than is None or now >= less_than:
            raise Denied("the signed cookies have expired")
        greater_than = _epoch(condition.get("DateGreaterThan"))
        if "DateGreaterThan" in condition and (greater_than is None or now <= greater_than):
            raise Denied("the signed cookies are not valid yet")


def _verify(key: PublicKey, signature: bytes, message: bytes, digest: hashes.HashAlgorithm) -> None:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(digest))
        else:
            key.verify(signature, message, padding.PKCS1v15(), digest)
    except (InvalidSignature, ValueError):
        raise Denied("bad signature") from None


def _wildcard(resource: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in resource))


def _epoch(condition: Any) -> int | None:
    value = condition.get("AWS:EpochTime") if isinstance(condition, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
