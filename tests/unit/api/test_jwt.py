"""JWT minting through the Signer port, the JWKS, and verification with the authorizer's rules.

Every token is checked twice: by our JwtVerifier (python-jose) and by PyJWT, an independent library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization

from ridelines.auth.jwks import JwksDocument, openid_configuration, public_jwk
from ridelines.auth.tokens import JwtIssuer, issuer_for
from ridelines.auth.verify import JwtVerifier, authorizer_context, bearer_token
from ridelines.errors import Unauthorized

SITE = "https://site.example"
ISSUER = issuer_for(SITE)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj).encode())


@pytest.fixture
def jwks(signer: Any) -> dict[str, Any]:
    return JwksDocument(signer).get()


@pytest.fixture
def issuer(signer: Any) -> JwtIssuer:
    return JwtIssuer(signer, ISSUER)


def now() -> datetime:
    return datetime.now(UTC)


def pyjwt_verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's rules with PyJWT: kid lookup, RS256 only, iss, aud, exp, nbf."""
    kid = pyjwt.get_unverified_header(token).get("kid")
    keys = {k.key_id: k for k in pyjwt.PyJWKSet.from_dict(jwks).keys}
    if kid not in keys:
        raise pyjwt.InvalidTokenError("unknown kid")
    return pyjwt.decode(
        token,
        keys[kid].key,
        algorithms=["RS256"],
        audience="ridelines",
        issuer=ISSUER,
        options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub"]},
    )


def both_reject(
    token: str,
    jwks: dict[str, Any],
    reason: str,
    pyjwt_error: type[pyjwt.InvalidTokenError] = pyjwt.InvalidTokenError,
) -> None:
    """Both verifiers refuse ``token`` for the stated reason (not for some unrelated flaw of the test)."""
    with pytest.raises(Unauthorized, match=reason):
        JwtVerifier(jwks, issuer=ISSUER).verify(token)
    with pytest.raises(pyjwt_error):
        pyjwt_verify(token, jwks)


def resign(
    token: str, signer: Any, *, header: dict[str, Any] | None = None, claims: dict[str, Any] | None = None
) -> str:
    """Re-sign a modified token with the real key (to test claim checks, not the signature)."""
    h, p, _ = token.split(".")
    header_obj = {**json.loads(base64.urlsafe_b64decode(h + "==")), **(header or {})}
    claims_obj = {**json.loads(base64.urlsafe_b64decode(p + "==")), **(claims or {})}
    signing_input = f"{segment(header_obj)}.{segment(claims_obj)}"
    return f"{signing_input}.{b64(signer.sign(signing_input.encode()))}"


def test_issued_token_has_the_design_header_and_claims(issuer: JwtIssuer, signer: Any, jwks: dict) -> None:
    moment = now()
    token = issuer.issue("i1001", "Demo Rider", moment)
    header = pyjwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": signer.key_id, "typ": "JWT"}
    claims = pyjwt_verify(token, jwks)
    assert claims["iss"] == "https://site.example/auth"
    assert claims["aud"] == "ridelines"
    assert claims["sub"] == "i1001"
    assert claims["name"] == "Demo Rider"
    assert claims["iat"] == claims["nbf"] == int(moment.timestamp())
    assert claims["exp"] - claims["iat"] == 12 * 3600
    assert len(claims["jti"]) >= 16
    assert JwtVerifier(jwks, issuer=ISSUER).verify(token) == claims


def test_jti_is_unique_per_token(issuer: JwtIssuer) -> None:
    moment = now()
    tokens = [issuer.issue("i1", "A", moment) for _ in range(3)]
    jtis = {pyjwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}
    assert len(jtis) == 3


def test_lifetime_is_configurable(signer: Any, jwks: dict) -> None:
    token = JwtIssuer(signer, ISSUER, lifetime_seconds=600).issue("i1", "A", now())
    claims = pyjwt_verify(token, jwks)
    assert claims["exp"] - claims["iat"] == 600


def test_jwks_is_the_signers_public_key(signer: Any, jwks: dict) -> None:
    (key,) = jwks["keys"]
    assert {key["kid"], key["alg"], key["use"], key["kty"]} == {signer.key_id, "RS256", "sig", "RSA"}
    assert set(key) == {"kty", "kid", "alg", "use", "n", "e"}  # no private parts
    public = pyjwt.PyJWK.from_dict(key).key
    expected = serialization.load_der_public_key(signer.public_key_der())
    assert public.public_numbers() == expected.public_numbers()  # type: ignore[union-attr]
    assert public_jwk(signer.public_key_der(), "k")["n"] == key["n"]


def test_jwks_is_fetched_once_per_container(signer: Any) -> None:
    calls = []

    class Counting:
        key_id = signer.key_id

        def public_key_der(self) -> bytes:
            calls.append(1)
            return signer.public_key_der()

    document = JwksDocument(Counting())  # type: ignore[arg-type]
    assert document.get() == document.get()
    assert len(calls) == 1


def test_openid_configuration_points_at_the_jwks() -> None:
    config = openid_configuration(SITE)
    assert config["issuer"] == "https://site.example/auth"
    assert config["jwks_uri"] == "https://site.example/auth/.well-known/jwks.json"
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]


def test_alg_none_is_rejected(issuer: JwtIssuer, jwks: dict, signer: Any) -> None:
    _, payload, _ = issuer.issue("i1", "A", now()).split(".")
    token = f"{segment({'alg': 'none', 'kid': signer.key_id, 'typ': 'JWT'})}.{payload}."
    both_reject(token, jwks, "not signed with RS256", pyjwt.InvalidAlgorithmError)


def test_hs256_signed_with_the_public_key_is_rejected(issuer: JwtIssuer, jwks: dict, signer: Any) -> None:
    _, payload, _ = issuer.issue("i1", "A", now()).split(".")
    signing_input = f"{segment({'alg': 'HS256', 'kid': signer.key_id, 'typ': 'JWT'})}.{payload}"
    for secret in (signer.public_key_pem(), signer.public_key_der()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        both_reject(f"{signing_input}.{b64(mac)}", jwks, "not signed with RS256", pyjwt.InvalidAlgorithmError)


def test_wrong_issuer_is_rejected(issuer: JwtIssuer, jwks: dict, signer: Any) -> None:
    token = resign(issuer.issue("i1", "A", now()), signer, claims={"iss": "https://evil.example/auth"})
    both_reject(token, jwks, "Invalid issuer", pyjwt.InvalidIssuerError)


def test_wrong_audience_is_rejected(issuer: JwtIssuer, jwks: dict, signer: Any) -> None:
    token = resign(issuer.issue("i1", "A", now()), signer, claims={"aud": "someone-else"})
    both_reject(token, jwks, "Invalid audience", pyjwt.InvalidAudienceError)


def test_expired_token_is_rejected(issuer: JwtIssuer, jwks: dict) -> None:
    token = JwtIssuer(issuer.signer, ISSUER, lifetime_seconds=60).issue(
        "i1", "A", datetime.fromtimestamp(time.time() - 3600, UTC)
    )
    both_reject(token, jwks, "expired", pyjwt.ExpiredSignatureError)


def test_not_yet_valid_token_is_rejected(issuer: JwtIssuer, jwks: dict) -> None:
    token = issuer.issue("i1", "A", datetime.fromtimestamp(time.time() + 3600, UTC))
    both_reject(token, jwks, "not yet valid", pyjwt.ImmatureSignatureError)


def test_tampered_payload_is_rejected(issuer: JwtIssuer, jwks: dict) -> None:
    header, _, signature = issuer.issue("i1", "A", now()).split(".")
    forged_claims = pyjwt.decode(issuer.issue("i1", "A", now()), options={"verify_signature": False})
    forged_claims["sub"] = "i2"  # become another rider
    both_reject(
        f"{header}.{segment(forged_claims)}.{signature}",
        jwks,
        "Signature verification failed",
        pyjwt.InvalidSignatureError,
    )


def test_unknown_kid_is_rejected(issuer: JwtIssuer, jwks: dict, signer: Any) -> None:
    token = resign(issuer.issue("i1", "A", now()), signer, header={"kid": "some-other-key"})
    both_reject(token, jwks, "unknown key", pyjwt.InvalidTokenError)


def test_resign_without_changes_is_accepted(issuer: JwtIssuer, jwks: dict, signer: Any) -> None:
    # The control for the tests that re-sign a modified token: re-signing alone breaks nothing.
    token = resign(issuer.issue("i1", "A", now()), signer)
    assert JwtVerifier(jwks, issuer=ISSUER).verify(token) == pyjwt_verify(token, jwks)


def test_missing_subject_is_rejected(issuer: JwtIssuer, jwks: dict, signer: Any) -> None:
    token = resign(issuer.issue("i1", "A", now()), signer, claims={"sub": ""})
    with pytest.raises(Unauthorized):
        JwtVerifier(jwks, issuer=ISSUER).verify(token)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "!!!.!!!.!!!"])
def test_garbage_is_rejected(token: str, jwks: dict) -> None:
    with pytest.raises(Unauthorized):
        JwtVerifier(jwks, issuer=ISSUER).verify(token)


def test_verifier_clock_is_injectable(issuer: JwtIssuer, jwks: dict) -> None:
    moment = now()
    token = issuer.issue("i1", "A", moment)
    later = moment.timestamp() + 12 * 3600 + 1
    with pytest.raises(Unauthorized, match="expired"):
        JwtVerifier(jwks, issuer=ISSUER, clock=lambda: later).verify(token)


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer  abc ") == "abc"
    for bad in (None, "", "Basic abc", "Bearer", "Bearer "):
        with pytest.raises(Unauthorized):
            bearer_token(bad)


def test_authorizer_context_stringifies_claims_like_api_gateway() -> None:
    context = authorizer_context({"sub": "i1", "exp": 123, "aud": ["ridelines"]})
    assert context == {"jwt": {"claims": {"sub": "i1", "exp": "123", "aud": "[ridelines]"}, "scopes": None}}
