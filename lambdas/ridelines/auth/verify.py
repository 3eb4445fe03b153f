"""Bearer-token verification with the rules of API Gateway's native JWT authorizer.

Used by the local gateway (the local stack) in front of the user handler, and by tests. Rules:
``alg`` pinned to RS256 (so ``none`` and HS256-with-the-public-key are refused before any key is
touched), the ``kid`` must name a key of the JWKS, signature, ``iss``, ``aud``, ``exp`` and ``nbf``.
python-jose does the JWK and JWT work. Nothing here accepts a shared secret.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from jose import jwk, jws, jwt
from jose.exceptions import JOSEError

from ridelines.auth.jwks import JwksDocument
from ridelines.auth.tokens import JWT_ALGORITHM
from ridelines.errors import Unauthorized
from ridelines.ports import Signer
from ridelines.settings import JWT_AUDIENCE

JwksSource = Callable[[], Mapping[str, Any]]


class JwtVerifier:
    """``verify(token) -> claims``; raises :class:`ridelines.errors.Unauthorized` for anything else."""

    def __init__(
        self,
        jwks: Mapping[str, Any] | JwksSource,
        *,
        issuer: str,
        audience: str = JWT_AUDIENCE,
        leeway_seconds: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._jwks_source: JwksSource = jwks if callable(jwks) else (lambda: jwks)
        self.issuer = issuer
        self.audience = audience
        # Public so verifiers for several audiences can share one (cached) key source.
        self.jwks_source = self._jwks_source
        self._leeway = leeway_seconds
        self._clock = clock

    @classmethod
    def from_signer(cls, signer: Signer, *, issuer: str, audience: str = JWT_AUDIENCE) -> JwtVerifier:
        """In-process: verify against the same JWKS the auth Lambda serves."""
        return cls(JwksDocument(signer).get, issuer=issuer, audience=audience)

    @classmethod
    def from_url(
        cls,
        jwks_url: str,
        *,
        issuer: str,
        audience: str = JWT_AUDIENCE,
        cache_seconds: float = 300.0,
        timeout: float = 5.0,
    ) -> JwtVerifier:
        """Over HTTP, like API Gateway: fetch the JWKS, cache it, refetch when a kid is unknown."""
        return cls(
            _CachedJwksFetcher(jwks_url, cache_seconds=cache_seconds, timeout=timeout),
            issuer=issuer,
            audience=audience,
        )

    def with_audience(self, audience: str) -> JwtVerifier:
        """The same issuer and key source, another audience (API Gateway accepts any configured one)."""
        return JwtVerifier(
            self._jwks_source,
            issuer=self.issuer,
            audience=audience,
            leeway_seconds=self._leeway,
            clock=self._clock,
        )

    def verify(self, token: str) -> dict[str, Any]:
        if not token or token.count(".") != 2:
            raise Unauthorized("the bearer token is malformed")
        try:
            header = jws.get_unverified_header(token)
        except JOSEError:
            raise Unauthorized("the bearer token is malformed") from None
        if header.get("alg") != JWT_ALGORITHM:
            raise Unauthorized("the bearer token is not signed with RS256")
        key = self._find_key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                jwk.construct(dict(key), algorithm=JWT_ALGORITHM).to_dict(),
                algorithms=[JWT_ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                # exp/nbf are checked below against one (injectable) clock.
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "require_aud": True,
                    "require_iss": True,
                    "require_sub": True,
                },
            )
        except JOSEError as exc:
            raise Unauthorized(f"the bearer token is invalid: {_reason(exc)}") from None
        now = self._clock()
        if not isinstance(claims.get("exp"), int | float) or isinstance(claims.get("exp"), bool):
            raise Unauthorized("the bearer token has no expiry")
        if "nbf" in claims and (
            not isinstance(claims["nbf"], int | float) or isinstance(claims["nbf"], bool)
        ):
            raise Unauthorized("the bearer token is invalid: bad nbf")
        if float(claims["exp"]) <= now - self._leeway:
            raise Unauthorized("the bearer token is invalid: expired")
        if "nbf" in claims and float(claims["nbf"]) > now + self._leeway:
            raise Unauthorized("the bearer token is invalid: not yet valid")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthorized("the bearer token has no subject")
        return claims

    def verify_authorization_header(self, value: str | None) -> dict[str, Any]:
        """``Authorization: Bearer <jwt>`` -> claims (case-insensitive scheme, like API Gateway)."""
        return self.verify(bearer_token(value))

    def _find_key(self, kid: Any) -> Mapping[str, Any]:
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("the bearer token names no key")
        for refresh in (False, True):
            jwks = (
                self._jwks_source.refresh()
                if refresh and isinstance(self._jwks_source, _CachedJwksFetcher)
                else self._jwks_source()
            )
            for key in jwks.get("keys", []):
                if (
                    key.get("kid") == kid
                    and key.get("kty") == "RSA"
                    and key.get("alg", JWT_ALGORITHM) == JWT_ALGORITHM
                    and key.get("use", "sig") == "sig"
                ):
                    return key
            if not isinstance(self._jwks_source, _CachedJwksFetcher):
                break
        raise Unauthorized("the bearer token is signed by an unknown key")


def bearer_token(value: str | None) -> str:
    if not value:
        raise Unauthorized("missing bearer token")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    return token.strip()


def authorizer_context(claims: Mapping[str, Any]) -> dict[str, Any]:
    """``requestContext.authorizer`` of an HTTP API (payload 2.0) event, as API Gateway builds it:
    claim values are passed as strings."""
    return {"jwt": {"claims": {k: _claim_string(v) for k, v in claims.items()}, "scopes": None}}


def _claim_string(value: Any) -> str:
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    return str(value)


def _reason(exc: JOSEError) -> str:
    # python-jose messages are short and never contain the token; cap them anyway.
    return str(exc)[:120] or type(exc).__name__


class _CachedJwksFetcher:
    def __init__(self, url: str, *, cache_seconds: float, timeout: float) -> None:
        self._url = url
        self._cache_seconds = cache_seconds
        self._timeout = timeout
        self._jwks: Mapping[str, Any] | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> Mapping[str, Any]:
        with self._lock:
            if self._jwks is None or time.monotonic() - self._fetched_at > self._cache_seconds:
                self._fetch()
            assert self._jwks is not None
            return self._jwks

    # Tokens naming unknown kids must not turn every request into a JWKS fetch.
    MIN_REFRESH_SECONDS = 10.0

    def refresh(self) -> Mapping[str, Any]:
        with self._lock:
            if self._jwks is None or time.monotonic() - self._fetched_at >= self.MIN_REFRESH_SECONDS:
                self._fetch()
            assert self._jwks is not None
            return self._jwks

    def _fetch(self) -> None:
        try:
            response = requests.get(self._url, timeout=self._timeout)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError):
            raise Unauthorized("the signing keys could not be fetched") from None
        if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            raise Unauthorized("the signing keys could not be fetched")
        self._jwks = body
        self._fetched_at = time.monotonic()
