"""The local CloudFront signed-cookie check: RSA or ECDSA keys, SHA-1 or SHA-256, wildcards, dates."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ridelines.auth.tiles_cookies import cloudfront_b64encode
from ridelines_local.localstack.signed_cookies import Denied, SignedCookieVerifier

NOW = 1_800_000_000
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def cookies(statement: dict, *, key: str = "ec", hash_name: str | None = "SHA256") -> dict[str, str]:
    policy = json.dumps({"Statement": [statement]}).encode()
    digest = hashes.SHA256() if hash_name == "SHA256" else hashes.SHA1()
    if key == "rsa":
        signature = RSA_KEY.sign(policy, padding.PKCS1v15(), digest)
    else:
        signature = EC_KEY.sign(policy, ec.ECDSA(digest))
    jar = {
        "CloudFront-Policy": cloudfront_b64encode(policy),
        "CloudFront-Signature": cloudfront_b64encode(signature),
        "CloudFront-Key-Pair-Id": key.upper(),
    }
    if hash_name:
        jar["CloudFront-Hash-Algorithm"] = hash_name
    return jar


def statement(resource: str = "https://s.example/tiles/i1/*", **condition: int) -> dict:
    dates = {name: {"AWS:EpochTime": value} for name, value in condition.items()}
    return {"Resource": resource, "Condition": dates or {"DateLessThan": {"AWS:EpochTime": NOW + 60}}}


@pytest.fixture
def verifier() -> SignedCookieVerifier:
    return SignedCookieVerifier({"EC": EC_KEY.public_key(), "RSA": RSA_KEY.public_key()}, clock=lambda: NOW)


@pytest.mark.parametrize(
    ("key", "hash_name"), [("ec", "SHA256"), ("ec", None), ("rsa", "SHA256"), ("rsa", None)]
)
def test_rsa_and_ecdsa_with_sha256_or_the_sha1_default(verifier, key: str, hash_name: str | None) -> None:
    verifier.check("https://s.example/tiles/i1/a.pmtiles", cookies(statement(), key=key, hash_name=hash_name))


def test_a_signature_over_another_hash_than_claimed_is_refused(verifier) -> None:
    jar = cookies(statement(), hash_name="SHA256")
    jar["CloudFront-Hash-Algorithm"] = "SHA1"
    with pytest.raises(Denied):
        verifier.check("https://s.example/tiles/i1/a.pmtiles", jar)
    jar["CloudFront-Hash-Algorithm"] = "MD5"
    with pytest.raises(Denied):
        verifier.check("https://s.example/tiles/i1/a.pmtiles", jar)


def test_wildcards_match_like_cloudfront(verifier) -> None:
    jar = cookies(statement("https://s.example/tiles/i?/*.pmtiles"))
    verifier.check("https://s.example/tiles/i1/deep/a.pmtiles", jar)
    for url in (
        "https://s.example/tiles/i12/a.pmtiles",
        "https://s.example/tiles/i1/a.json",
        "http://s.example/tiles/i1/a.pmtiles",
    ):
        with pytest.raises(Denied):
            verifier.check(url, jar)


def test_dates(verifier) -> None:
    url = "https://s.example/tiles/i1/a.pmtiles"
    verifier.check(url, cookies(statement(DateLessThan=NOW + 1, DateGreaterThan=NOW - 1)))
    for dates in ({"DateLessThan": NOW}, {"DateLessThan": NOW + 60, "DateGreaterThan": NOW}):
        with pytest.raises(Denied):
            verifier.check(url, cookies(statement(**dates)))
    unsupported = {
        "Resource": "https://s.example/tiles/i1/*",
        "Condition": {"IpAddress": {"AWS:SourceIp": "0.0.0.0/0"}},
    }
    with pytest.raises(Denied):
        verifier.check(url, cookies(unsupported))


def test_only_rsa_or_ecdsa_keys_can_be_trusted() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    with pytest.raises(ValueError):
        SignedCookieVerifier({"ED": ed25519.Ed25519PrivateKey.generate().public_key()})  # type: ignore[dict-item]
