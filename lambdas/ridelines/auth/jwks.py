"""The public half of the signing key, published for API Gateway's JWT authorizer (and our own verifier)."""

from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives import serialization
from jose import jwk

from ridelines.auth.tokens import JWT_ALGORITHM, issuer_for, jwks_uri_for
from ridelines.ports import Signer

# The key rarely rotates; an hour of caching lets API Gateway and browsers keep it, while a rotation
# still propagates (API Gateway refetches on an unknown kid anyway).
JWKS_CACHE_CONTROL = "public, max-age=3600"


def public_jwk(public_key_der: bytes, kid: str) -> dict[str, Any]:
    """SubjectPublicKeyInfo DER (KMS GetPublicKey) -> RSA JWK with kid/alg/use, built by python-jose."""
    pem = serialization.load_der_public_key(public_key_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = jwk.construct(pem, algorithm=JWT_ALGORITHM)
    data = {k: (v.decode("ascii") if isinstance(v, bytes) else v) for k, v in key.to_dict().items()}
    if data.get("kty") != "RSA":
        raise ValueError("the signing key is not an RSA key")
    return {"kty": "RSA", "kid": kid, "alg": JWT_ALGORITHM, "use": "sig", "n": data["n"], "e": data["e"]}


class JwksDocument:
    """The JWKS of one signer, fetched from KMS once per container (GetPublicKey is not free)."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        self._cached: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._cached is None:
                self._cached = {"keys": [public_jwk(self._signer.public_key_der(), self._signer.key_id)]}
            return self._cached


def openid_configuration(site_url: str) -> dict[str, Any]:
    issuer = issuer_for(site_url)
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri_for(site_url),
        "authorization_endpoint": f"{issuer}/login",
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [JWT_ALGORITHM],
        "claims_supported": ["iss", "aud", "sub", "name", "iat", "iat_ms", "nbf", "exp", "jti"],
    }
