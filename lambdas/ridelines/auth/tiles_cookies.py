"""CloudFront signed cookies that let one rider's browser read ``/tiles/{athlete_id}/*`` (DESIGN 5).

A custom policy names the rider's prefix and an expiry no later than the session's; the signature
comes from a KMS ``ECC_NIST_P256`` key (``ECDSA_SHA_256``, RAW message: KMS hashes the policy and
returns a DER signature, the form CloudFront verifies), so the private key never leaves KMS.
CloudFront hashes with SHA-1 unless told otherwise: ``CloudFront-Hash-Algorithm=SHA256`` says so
(KMS has no ECDSA over SHA-1). CloudFront's base64 replaces ``+ = /`` with ``- _ ~``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from ridelines.ports import Signer

POLICY_COOKIE = "CloudFront-Policy"
SIGNATURE_COOKIE = "CloudFront-Signature"
KEY_PAIR_ID_COOKIE = "CloudFront-Key-Pair-Id"
HASH_ALGORITHM_COOKIE = "CloudFront-Hash-Algorithm"
HASH_ALGORITHM = "SHA256"
TILES_COOKIE_NAMES = (POLICY_COOKIE, SIGNATURE_COOKIE, KEY_PAIR_ID_COOKIE, HASH_ALGORITHM_COOKIE)
_TO_CLOUDFRONT = str.maketrans({"+": "-", "=": "_", "/": "~"})
_FROM_CLOUDFRONT = str.maketrans({"-": "+", "_": "=", "~": "/"})
_ATHLETE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def cloudfront_b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").translate(_TO_CLOUDFRONT)


def cloudfront_b64decode(text: str) -> bytes:
    """Strict: anything that is not CloudFront's base64 raises ``ValueError``."""
    return base64.b64decode(text.translate(_FROM_CLOUDFRONT).encode("ascii"), validate=True)


def tiles_path(athlete_id: str) -> str:
    if not _ATHLETE_ID.match(athlete_id):
        raise ValueError("not an athlete id")
    return f"/tiles/{athlete_id}/"


def tiles_policy(site_url: str, athlete_id: str, expires_at: int) -> bytes:
    """The policy statement, compact JSON (the bytes signed are the bytes sent)."""
    statement = {
        "Statement": [
            {
                "Resource": f"{site_url.rstrip('/')}{tiles_path(athlete_id)}*",
                "Condition": {"DateLessThan": {"AWS:EpochTime": int(expires_at)}},
            }
        ]
    }
    return json.dumps(statement, separators=(",", ":")).encode("ascii")


@dataclass(frozen=True)
class TilesCookieIssuer:
    """Builds (and clears) the four cookies for one rider; ``signer`` is the ECDSA tiles key."""

    signer: Signer
    site_url: str
    key_pair_id: str

    def cookies(self, athlete_id: str, *, expires_at: int, now: int) -> list[Cookie]:
        policy = tiles_policy(self.site_url, athlete_id, expires_at)
        values = {
            POLICY_COOKIE: cloudfront_b64encode(policy),
            SIGNATURE_COOKIE: cloudfront_b64encode(self.signer.sign(policy)),
            KEY_PAIR_ID_COOKIE: self.key_pair_id,
            HASH_ALGORITHM_COOKIE: HASH_ALGORITHM,
        }
        max_age = max(0, int(expires_at) - int(now))
        return [_tiles_cookie(name, value, athlete_id, max_age) for name, value in values.items()]

    def cleared(self, athlete_id: str) -> list[Cookie]:
        return [_tiles_cookie(name, "", athlete_id, 0) for name in TILES_COOKIE_NAMES]


def _tiles_cookie(name: str, value: str, athlete_id: str, max_age: int) -> Cookie:
    return Cookie(
        name=name,
        value=value,
        path=tiles_path(athlete_id),
        secure=True,
        http_only=True,
        max_age=max_age,
        same_site=SameSite.STRICT_MODE,
    )


def parse_policy(encoded: str) -> dict[str, Any]:
    """Decode a ``CloudFront-Policy`` value; ``ValueError`` for anything malformed."""
    document = json.loads(cloudfront_b64decode(encoded))
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list):
        raise ValueError("not a policy")
    return document
