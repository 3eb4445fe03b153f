"""The user Lambda's routes, behind API Gateway's JWT authorizer: identity is the verified ``sub`` claim."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.shared.cookies import Cookie

from ridelines import settings
from ridelines.api.account import DEFAULT_SYNC_LEASE_SECONDS, AccountService
from ridelines.api.errors import NO_STORE, register_error_handlers
from ridelines.api.models import SyncQueued, SyncStartBody, SyncView, UserProfile
from ridelines.api.observability import count, logger
from ridelines.api.origin import same_origin_guard
from ridelines.api.rider_data import explorer_view, export_location
from ridelines.api.settings import required, url, utc_now
from ridelines.auth.cookies import cleared_session_cookie
from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.auth.sessions import ensure_current
from ridelines.auth.tiles_cookies import TilesCookieIssuer
from ridelines.errors import InvalidInput, Unauthorized
from ridelines.ports import (
    CdnInvalidator,
    ErasableBlobStore,
    Signer,
    SyncInvoker,
    SyncStateRepository,
    TokenCipher,
    UserRepository,
)
from ridelines.privacy import InvalidPrivacy, PrivacySettings, parse_privacy

_ATHLETE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_BODY_BYTES = 1024
MAX_PRIVACY_BODY_BYTES = 8 * 1024  # ten zones fit in well under 1 KB


@dataclass
class UserDeps:
    users: UserRepository
    syncs: SyncStateRepository
    blobs: ErasableBlobStore
    invalidator: CdnInvalidator
    invoker: SyncInvoker
    cipher: TokenCipher
    intervals: IntervalsOAuthClient
    site_url: str
    tiles_signer: Signer  # ECDSA P-256 tiles cookie key (refreshed by GET /api/user)
    tiles_key_pair_id: str
    sync_lease_seconds: int = DEFAULT_SYNC_LEASE_SECONDS
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def from_environment(cls, **overrides: Any) -> UserDeps:
        """Build from the Lambda environment; fields in ``overrides`` (e.g. ``invoker=`` for the local
        stack's in-process sync) are used as is and need no environment variable."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown UserDeps fields: {sorted(unknown)}")

        def blobs() -> ErasableBlobStore:
            from ridelines.adapters.aws.s3 import S3BlobStore

            return S3BlobStore(required(settings.S3_BUCKET))

        def syncs() -> SyncStateRepository:
            from ridelines.adapters.aws.sync_state import DynamoSyncStateRepository

            return DynamoSyncStateRepository(required(settings.SYNC_TABLE_NAME))

        def invalidator() -> CdnInvalidator:
            from ridelines.adapters.aws.cloudfront import CloudFrontInvalidator

            return CloudFrontInvalidator(settings.env(settings.CLOUDFRONT_DISTRIBUTION_ID))

        def invoker() -> SyncInvoker:
            from ridelines.adapters.aws.invoker import LambdaSyncInvoker

            return LambdaSyncInvoker(required(settings.SYNC_LAMBDA_FUNCTION_NAME))

        def users() -> UserRepository:
            from ridelines.adapters.aws.users import DynamoUserRepository

            return DynamoUserRepository(required(settings.USERS_TABLE_NAME))

        def cipher() -> TokenCipher:
            from ridelines.adapters.aws.kms import KmsTokenCipher

            return KmsTokenCipher(required(settings.TOKEN_KMS_KEY_ID))

        def tiles_signer() -> Signer:
            from ridelines.adapters.aws.kms import TILES_SIGNING_ALGORITHM, KmsSigner

            return KmsSigner(required(settings.TILES_SIGNING_KMS_KEY_ID), algorithm=TILES_SIGNING_ALGORITHM)

        builders: dict[str, Callable[[], Any]] = {
            "users": users,
            "syncs": syncs,
            "blobs": blobs,
            "invalidator": invalidator,
            "invoker": invoker,
            "cipher": cipher,
            "intervals": lambda: IntervalsOAuthClient(settings.intervals_url()),
            "site_url": lambda: url(settings.SITE_URL),
            "tiles_signer": tiles_signer,
            "tiles_key_pair_id": lambda: required(settings.TILES_KEY_PAIR_ID),
        }
        values = {name: overrides[name] if name in overrides else build() for name, build in builders.items()}
        for optional in ("sync_lease_seconds", "clock"):
            if optional in overrides:
                values[optional] = overrides[optional]
        return cls(**values)


def create_app(deps: UserDeps) -> APIGatewayHttpResolver:
    # One origin: the app calls /api on its own site, so no CORS configuration at all.
    app = APIGatewayHttpResolver()
    register_error_handlers(app)
    app.use(middlewares=[same_origin_guard(deps.site_url)])
    tiles = TilesCookieIssuer(deps.tiles_signer, deps.site_url, deps.tiles_key_pair_id)
    account = AccountService(
        users=deps.users,
        syncs=deps.syncs,
        blobs=deps.blobs,
        invalidator=deps.invalidator,
        invoker=deps.invoker,
        cipher=deps.cipher,
        intervals=deps.intervals,
        clock=deps.clock,
        sync_lease_seconds=deps.sync_lease_seconds,
    )

    def claims() -> dict[str, Any]:
        return dict(app.current_event.request_context.authorizer.jwt_claim or {})

    def athlete_id() -> str:
        """The authorizer's verified ``sub``: the only source of identity (never body, path or query),
        from a session that was not ended (logout, account deletion) since it was issued."""
        verified = claims()
        sub = verified.get("sub")
        if not isinstance(sub, str) or not _ATHLETE_ID.match(sub):
            raise Unauthorized("missing or invalid identity")
        logger.append_keys(athlete_id=sub)
        user = deps.users.get(sub)
        ensure_current(verified, user.sessions_valid_after if user else None)
        return sub

    def session_expiry() -> int:
        raw = claims().get("exp")
        try:
            return int(str(raw))
        except ValueError:
            raise Unauthorized("the session has no expiry") from None

    @app.get("/api/user")
    def get_user() -> Response:
        rider = athlete_id()
        profile = UserProfile.of(account.user(rider))
        # Fresh tiles cookies, never outliving the session that asked for them.
        now = int(deps.clock().timestamp())
        refreshed = tiles.cookies(rider, expires_at=session_expiry(), now=now)
        return _json(200, profile.model_dump(mode="json"), cookies=refreshed)

    @app.get("/api/user/explorer")
    def get_explorer() -> Response:
        rider = athlete_id()
        account.user(rider)  # 404 for an account that is gone
        return _json(200, explorer_view(deps.blobs, rider).model_dump(mode="json"))

    @app.get("/api/user/export")
    def get_export() -> Response:
        location = export_location(account.user(athlete_id()))
        return Response(status_code=302, body="", headers={"Location": location, **NO_STORE})

    @app.post("/api/sync")
    def post_sync() -> Response:
        rider = athlete_id()
        body = _sync_body(app.current_event.decoded_body)
        record = account.start_sync(rider, full=body.full)
        logger.info("sync queued", extra={"sync_id": record.sync_id, "full": body.full})
        count("SyncStarted")
        return _json(202, SyncQueued(sync_id=record.sync_id, status=record.status).model_dump(mode="json"))

    @app.get("/api/sync")
    def get_sync() -> Response:
        return _json(200, SyncView.of(account.sync_status(athlete_id())).model_dump(mode="json"))

    @app.get("/api/user/privacy")
    def get_privacy() -> Response:
        return _json(200, account.privacy(athlete_id()).model_dump(mode="json"))

    @app.put("/api/user/privacy")
    def put_privacy() -> Response:
        rider = athlete_id()
        settings = _privacy_body(app.current_event.decoded_body)
        stored = account.set_privacy(rider, settings)
        logger.info("privacy settings stored", extra={"zones": len(stored.zones)})
        return _json(200, stored.public.model_dump(mode="json"))

    @app.delete("/api/user")
    def delete_user() -> Response:
        rider = athlete_id()
        account.delete_account(rider)
        logger.info("account deleted")
        count("AccountDeleted")
        # The row is gone; a new one (the rider coming back) refuses every older session.
        return Response(
            status_code=204,
            body="",
            headers=dict(NO_STORE),
            cookies=[cleared_session_cookie(), *tiles.cleared(rider)],
        )

    return app


def _sync_body(raw: str | None) -> SyncStartBody:
    if raw is None or not raw.strip():
        return SyncStartBody()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInput("request body is too large")
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidInput("request body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput('request body must be a JSON object like {"full": false}')
    return SyncStartBody.model_validate(data)


def _privacy_body(raw: str | None) -> PrivacySettings:
    if raw is None or not raw.strip():
        raise InvalidPrivacy("the privacy settings are missing", field="body")
    if len(raw) > MAX_PRIVACY_BODY_BYTES:
        raise InvalidPrivacy("request body is too large", field="body")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except ValueError:
        raise InvalidPrivacy("request body is not JSON", field="body") from None
    return parse_privacy(data)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")  # JSON has no NaN or Infinity


def _json(status: int, body: dict[str, Any], *, cookies: list[Cookie] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers=dict(NO_STORE),
        cookies=cookies,
    )
