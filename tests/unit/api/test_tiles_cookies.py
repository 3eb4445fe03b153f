"""CloudFront signed cookies for one rider's tiles: policy, CloudFront base64, ECDSA signature."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from hypothesis import given
from hypothesis import strategies as st

from ridelines.auth.tiles_cookies import (
    TILES_COOKIE_NAMES,
    TilesCookieIssuer,
    cloudfront_b64decode,
    cloudfront_b64encode,
    parse_policy,
    tiles_policy,
)

SITE = "https://site.example"


@given(st.binary(max_size=200))
def test_cloudfront_base64_round_trips_and_uses_only_cookie_safe_characters(data: bytes) -> None:
    encoded = cloudfront_b64encode(data)
    assert not set(encoded) & set("+=/")
    assert cloudfront_b64decode(encoded) == data


def test_cloudfront_base64_substitutions() -> None:
    assert cloudfront_b64encode(b"\xfb\xff\xfe") == "-~~-"
    assert cloudfront_b64encode(b"a") == "YQ__"


def test_policy_is_the_riders_prefix_until_the_expiry() -> None:
    policy = tiles_policy(f"{SITE}/", "i1001", 1_900_000_000)
    assert json.loads(policy) == {
        "Statement": [
            {
                "Resource": f"{SITE}/tiles/i1001/*",
                "Condition": {"DateLessThan": {"AWS:EpochTime": 1_900_000_000}},
            }
        ]
    }
    assert b" " not in policy


@pytest.mark.parametrize("athlete_id", ["", "../x", "a/b", "*", "i1001*"])
def test_no_policy_for_something_that_is_not_an_athlete_id(athlete_id: str) -> None:
    with pytest.raises(ValueError):
        tiles_policy(SITE, athlete_id, 1)


def test_cookies_are_signed_by_the_tiles_key(tiles_signer: Any) -> None:
    issuer = TilesCookieIssuer(tiles_signer, SITE, "K2KEY")
    cookies = {c.name: c for c in issuer.cookies("i1001", expires_at=2_000, now=1_000)}
    assert set(cookies) == set(TILES_COOKIE_NAMES)
    assert all(c.max_age == 1_000 and c.path == "/tiles/i1001/" for c in cookies.values())
    assert str(cookies["CloudFront-Key-Pair-Id"]).startswith(
        "CloudFront-Key-Pair-Id=K2KEY; Path=/tiles/i1001/"
    )
    policy = cloudfront_b64decode(cookies["CloudFront-Policy"].value)
    assert (
        parse_policy(cookies["CloudFront-Policy"].value)["Statement"][0]["Resource"]
        == f"{SITE}/tiles/i1001/*"
    )
    public = load_der_public_key(tiles_signer.public_key_der())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    signature = cloudfront_b64decode(cookies["CloudFront-Signature"].value)
    public.verify(signature, policy, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(signature, policy.replace(b"i1001", b"i2002"), ec.ECDSA(hashes.SHA256()))


def test_cleared_cookies_expire_at_once(tiles_signer: Any) -> None:
    cleared = TilesCookieIssuer(tiles_signer, SITE, "K2KEY").cleared("i1001")
    assert {c.name for c in cleared} == set(TILES_COOKIE_NAMES)
    assert all("Max-Age=0" in str(c) and "Path=/tiles/i1001/" in str(c) for c in cleared)


@pytest.mark.parametrize(
    "junk", ["", "not base64!", cloudfront_b64encode(b"[1,2]"), cloudfront_b64encode(b"{")]
)
def test_malformed_policies_are_refused(junk: str) -> None:
    with pytest.raises(ValueError):
        parse_policy(junk)
