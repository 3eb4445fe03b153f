"""The auth Lambda's routes: login, callback, logout, OpenID configuration, JWKS (all public: no authorizer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.shared.cookies import Cookie

from ridelines import settings
from ridelines.api.errors import NO_STORE, register_error_handlers
from ridelines.api.models import CallbackQuery
from ridelines.api.observability import count, logger
from ridelines.api.origin import same_origin_guard
from ridelines.api.settings import positive_int, required, url, utc_now
from ridelines.auth.cookies import (
    SESSION_COOKIE,
    STATE_COOKIE,
    cleared_session_cookie,
    cleared_state_cookie,
    read_cookies,
    session_cookie,
    state_cookie,
)
from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.auth.jwks import JWKS_CACHE_CONTROL, JwksDocument, openid_configuration
from ridelines.auth.login import LoginFlow
from ridelines.auth.sessions import ensure_current
from ridelines.auth.tiles_cookies import TilesCookieIssuer
from ridelines.auth.tokens import JwtIssuer, issuer_for
from ridelines.auth.verify import JwtVerifier, bearer_token
from ridelines.errors import Unauthorized
from ridelines.ports import (
    OAuthCredentialsProvider,
    OAuthStateRepository,
    Signer,
    TokenCipher,
    UserRepository,
)


@dataclass
class AuthDeps:
    users: UserRepository
    states: OAuthStateRepository
    signer: Signer  # RS256 session key
    tiles_signer: Signer  # ECDSA P-256 tiles cookie key
    cipher: TokenCipher
    credentials: OAuthCredentialsProvider
    intervals: IntervalsOAuthClient
    site_url: str
    tiles_key_pair_id: str
    jwt_lifetime_seconds: int = settings.DEFAULT_JWT_LIFETIME_SECONDS
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def from_environment(cls, **overrides: Any) -> AuthDeps:
        """Build from the Lambda environment; any field given in ``overrides`` is used as is (and its
        environment variable is then not needed)."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown AuthDeps fields: {sorted(unknown)}")
        from ridelines.adapters.aws.kms import TILES_SIGNING_ALGORITHM, KmsSigner, KmsTokenCipher
        from ridelines.adapters.aws.oauth_state import DynamoOAuthStateRepository
        from ridelines.adapters.aws.secrets import SecretsManagerOAuthCredentials
        from ridelines.adapters.aws.users import DynamoUserRepository

        builders: dict[str, Callable[[], Any]] = {
            "users": lambda: DynamoUserRepository(required(settings.USERS_TABLE_NAME)),
            "states": lambda: DynamoOAuthStateRepository(required(settings.OAUTH_STATE_TABLE_NAME)),
            "signer": lambda: KmsSigner(required(settings.JWT_KMS_KEY_ID)),
            "tiles_signer": lambda: KmsSigner(
                required(settings.TILES_SIGNING_KMS_KEY_ID), algorithm=TILES_SIGNING_ALGORITHM
            ),
            "cipher": lambda: KmsTokenCipher(required(settings.TOKEN_KMS_KEY_ID)),
            "credentials": lambda: SecretsManagerOAuthCredentials(
                required(settings.OAUTH_CREDENTIALS_SECRET_ARN)
            ),
            "intervals": lambda: IntervalsOAuthClient(settings.intervals_url()),
            "site_url": lambda: url(settings.SITE_URL),
            "tiles_key_pair_id": lambda: required(settings.TILES_KEY_PAIR_ID),
            "jwt_lifetime_seconds": lambda: positive_int(
                settings.JWT_LIFETIME_SECONDS, settings.DEFAULT_JWT_LIFETIME_SECONDS
            ),
        }
        values = {name: overrides[name] if name in overrides else build() for name, build in builders.items()}
        if "clock" in overrides:
            values["clock"] = overrides["clock"]
        return cls(**values)


def create_app(deps: AuthDeps) -> APIGatewayHttpResolver:
    # One origin: the app calls /auth on its own site, so no CORS configuration at all.
    app = APIGatewayHttpResolver()
    register_error_handlers(app)
    app.use(middlewares=[same_origin_guard(deps.site_url)])
    issuer = issuer_for(deps.site_url)
    flow = LoginFlow(
        states=deps.states,
        users=deps.users,
        cipher=deps.cipher,
        credentials=deps.credentials,
        intervals=deps.intervals,
        jwt_issuer=JwtIssuer(deps.signer, issuer, lifetime_seconds=deps.jwt_lifetime_seconds),
        site_url=deps.site_url,
    )
    tiles = TilesCookieIssuer(deps.tiles_signer, deps.site_url, deps.tiles_key_pair_id)
    jwks = JwksDocument(deps.signer)
    # Logout verifies the session itself (/auth has no authorizer), with the authorizer's rules.
    verifier = JwtVerifier(jwks.get, issuer=issuer, clock=lambda: deps.clock().timestamp())
    discovery = openid_configuration(deps.site_url)

    def cookies() -> dict[str, str]:
        return read_cookies(app.current_event.cookies)

    @app.get("/auth/login")
    def login() -> Response:
        redirect_path = app.current_event.get_query_string_value("redirect_path")
        start = flow.begin(redirect_path, deps.clock())
        count("LoginStarted")
        return _redirect(start.consent_url, [state_cookie(start.binding)])

    @app.get("/auth/callback")
    def callback() -> Response:
        query = CallbackQuery.model_validate(app.current_event.query_string_parameters or {})
        binding = cookies().get(STATE_COOKIE)
        now = deps.clock()
        if query.error:
            logger.info("login refused at intervals.icu", extra={"reason": query.error[:64]})
            count("LoginRefused")
            return _redirect(flow.refused(query.error, query.state, binding, now), [cleared_state_cookie()])
        result = flow.complete(query.code, query.state, binding, now)
        logger.append_keys(athlete_id=result.athlete_id)
        logger.info("login completed")
        count("LoginSucceeded")
        return _redirect(
            result.redirect_url,
            [
                session_cookie(result.token, result.lifetime_seconds),
                cleared_state_cookie(),
                *tiles.cookies(result.athlete_id, expires_at=result.expires_at, now=int(now.timestamp())),
            ],
        )

    @app.post("/auth/logout")
    def logout() -> Response:
        authorization = app.current_event.headers.get("authorization")
        token = bearer_token(authorization) if authorization else cookies().get(SESSION_COOKIE)
        if not token:
            raise Unauthorized("not signed in")
        claims = verifier.verify(token)
        athlete_id = str(claims["sub"])
        user = deps.users.get(athlete_id)
        ensure_current(claims, user.sessions_valid_after if user else None)
        deps.users.end_sessions(athlete_id, deps.clock())
        logger.append_keys(athlete_id=athlete_id)
        logger.info("signed out: every earlier session of this athlete ended")
        count("LoggedOut")
        return Response(
            status_code=204,
            body="",
            headers=dict(NO_STORE),
            cookies=[cleared_session_cookie(), cleared_state_cookie(), *tiles.cleared(athlete_id)],
        )

    @app.get("/auth/.well-known/openid-configuration")
    def openid() -> Response:
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=discovery,
            headers={"Cache-Control": JWKS_CACHE_CONTROL},
        )

    @app.get("/auth/.well-known/jwks.json")
    def jwks_json() -> Response:
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=jwks.get(),
            headers={"Cache-Control": JWKS_CACHE_CONTROL},
        )

    return app


def _redirect(location: str, cookies: list[Cookie]) -> Response:
    return Response(status_code=302, body="", headers={"Location": location, **NO_STORE}, cookies=cookies)
