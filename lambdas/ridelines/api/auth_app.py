"""The auth Lambda's routes: login, callback, OpenID configuration, JWKS (all public)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response, content_types

from ridelines import settings
from ridelines.api.errors import NO_STORE, register_error_handlers
from ridelines.api.models import CallbackQuery
from ridelines.api.observability import count, logger
from ridelines.api.settings import positive_int, required, url, utc_now
from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.auth.jwks import JWKS_CACHE_CONTROL, JwksDocument, openid_configuration
from ridelines.auth.login import LoginFlow
from ridelines.auth.tokens import JwtIssuer, issuer_for
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
    signer: Signer
    cipher: TokenCipher
    credentials: OAuthCredentialsProvider
    intervals: IntervalsOAuthClient
    frontend_url: str
    api_url: str
    jwt_lifetime_seconds: int = settings.DEFAULT_JWT_LIFETIME_SECONDS
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def from_environment(cls, **overrides: Any) -> AuthDeps:
        """Build from the Lambda environment; any field given in ``overrides`` is used as is (and its
        environment variable is then not needed)."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown AuthDeps fields: {sorted(unknown)}")
        from ridelines.adapters.aws.kms import KmsSigner, KmsTokenCipher
        from ridelines.adapters.aws.oauth_state import DynamoOAuthStateRepository
        from ridelines.adapters.aws.secrets import SecretsManagerOAuthCredentials
        from ridelines.adapters.aws.users import DynamoUserRepository

        builders: dict[str, Callable[[], Any]] = {
            "users": lambda: DynamoUserRepository(required(settings.USERS_TABLE_NAME)),
            "states": lambda: DynamoOAuthStateRepository(required(settings.OAUTH_STATE_TABLE_NAME)),
            "signer": lambda: KmsSigner(required(settings.JWT_KMS_KEY_ID)),
            "cipher": lambda: KmsTokenCipher(required(settings.TOKEN_KMS_KEY_ID)),
            "credentials": lambda: SecretsManagerOAuthCredentials(
                required(settings.OAUTH_CREDENTIALS_SECRET_ARN)
            ),
            "intervals": lambda: IntervalsOAuthClient(settings.intervals_url()),
            "frontend_url": lambda: url(settings.FRONTEND_URL),
            "api_url": lambda: url(settings.API_URL),
            "jwt_lifetime_seconds": lambda: positive_int(
                settings.JWT_LIFETIME_SECONDS, settings.DEFAULT_JWT_LIFETIME_SECONDS
            ),
        }
        values = {name: overrides[name] if name in overrides else build() for name, build in builders.items()}
        if "clock" in overrides:
            values["clock"] = overrides["clock"]
        return cls(**values)


def create_app(deps: AuthDeps) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(cors=CORSConfig(allow_origin=deps.frontend_url, max_age=600))
    register_error_handlers(app)
    issuer = issuer_for(deps.api_url)
    flow = LoginFlow(
        states=deps.states,
        users=deps.users,
        cipher=deps.cipher,
        credentials=deps.credentials,
        intervals=deps.intervals,
        jwt_issuer=JwtIssuer(deps.signer, issuer, lifetime_seconds=deps.jwt_lifetime_seconds),
        frontend_url=deps.frontend_url,
        callback_url=f"{deps.api_url}/auth/callback",
    )
    jwks = JwksDocument(deps.signer)
    discovery = openid_configuration(deps.api_url)

    @app.get("/auth/login")
    def login() -> Response:
        redirect_path = app.current_event.get_query_string_value("redirect_path")
        location = flow.begin(redirect_path, deps.clock())
        count("LoginStarted")
        return _redirect(location)

    @app.get("/auth/callback")
    def callback() -> Response:
        query = CallbackQuery.model_validate(app.current_event.query_string_parameters or {})
        now = deps.clock()
        if query.error:
            logger.info("login refused at intervals.icu", extra={"reason": query.error[:64]})
            count("LoginRefused")
            return _redirect(flow.refused(query.error, query.state, now))
        result = flow.complete(query.code, query.state, now)
        logger.append_keys(athlete_id=result.athlete_id)
        logger.info("login completed")
        count("LoginSucceeded")
        return _redirect(result.redirect_url)

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


def _redirect(location: str) -> Response:
    return Response(status_code=302, body="", headers={"Location": location, **NO_STORE})
