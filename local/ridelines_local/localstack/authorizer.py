"""API Gateway's native JWT authorizer, emulated in front of the protected routes.

The checks themselves (RS256 only, ``kid`` in the JWKS, signature, ``iss``, ``aud``, ``exp``,
``nbf``) are :class:`ridelines.auth.verify.JwtVerifier`'s; this module adds what API Gateway
adds around them: the identity source (``Authorization``, with or without ``Bearer``), the
authorizer configuration read from the template (issuer, audiences), and the JWKS fetched over
HTTP from the auth Lambda's public route, as API Gateway fetches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ridelines.auth.verify import JwtVerifier
from ridelines.errors import Unauthorized
from ridelines_local.localstack.provision import JwtAuthorizerConfig


class Rejected(Exception):
    """No token or an invalid one: API Gateway answers 401 ``{"message":"Unauthorized"}``."""


class JwtAuthorizer:
    def __init__(self, config: JwtAuthorizerConfig, jwks_url: str) -> None:
        self.config = config
        # One verifier per configured audience (API Gateway accepts a token matching any of them).
        first = JwtVerifier.from_url(jwks_url, issuer=config.issuer, audience=config.audience[0])
        self._verifiers = [first, *(first.with_audience(a) for a in config.audience[1:])]

    def authorize(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """The verified claims, or :class:`Rejected`."""
        token = self._token(headers)
        reason = "no audience configured"
        for verifier in self._verifiers:
            try:
                return verifier.verify(token)
            except Unauthorized as exc:
                reason = exc.message
        raise Rejected(reason)

    def _token(self, headers: Mapping[str, str]) -> str:
        name = self.config.identity_source.removeprefix("$request.header.").lower()
        value = (headers.get(name) or "").strip()
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        if not value:
            raise Rejected("no token")
        return value
