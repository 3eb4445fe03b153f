"""Our session token: a compact RS256 JWT whose signature comes from KMS (through the Signer port).

The private key never leaves KMS, so the token is assembled here and only the signing input is sent
to ``kms:Sign`` (RAW message, RSASSA_PKCS1_V1_5_SHA_256 == JWS "RS256").
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ridelines.auth.sessions import ISSUED_AT_MS_CLAIM, epoch_ms
from ridelines.ports import Signer
from ridelines.settings import DEFAULT_JWT_LIFETIME_SECONDS, JWT_AUDIENCE

JWT_ALGORITHM = "RS256"


def issuer_for(site_url: str) -> str:
    return f"{site_url.rstrip('/')}/auth"


def jwks_uri_for(site_url: str) -> str:
    return f"{issuer_for(site_url)}/.well-known/jwks.json"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(obj: dict[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8"))


@dataclass(frozen=True)
class JwtIssuer:
    signer: Signer
    issuer: str
    audience: str = JWT_AUDIENCE
    lifetime_seconds: int = DEFAULT_JWT_LIFETIME_SECONDS

    def issue(self, athlete_id: str, name: str, now: datetime) -> str:
        issued_at_ms = epoch_ms(now)
        issued_at = issued_at_ms // 1000
        header = {"alg": JWT_ALGORITHM, "kid": self.signer.key_id, "typ": "JWT"}
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": athlete_id,
            "name": name,
            "iat": issued_at,
            ISSUED_AT_MS_CLAIM: issued_at_ms,  # tells a logout in the same second apart (auth.sessions)
            "nbf": issued_at,
            "exp": issued_at + self.lifetime_seconds,
            "jti": secrets.token_urlsafe(16),
        }
        signing_input = f"{_segment(header)}.{_segment(claims)}"
        signature = self.signer.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url(signature)}"
