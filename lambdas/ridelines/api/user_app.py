"""The user Lambda's routes, behind API Gateway's JWT authorizer: identity is the verified ``sub`` claim."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response, content_types

from ridelines import settings
from ridelines.api.account import DEFAULT_SYNC_LEASE_SECONDS, AccountService
from ridelines.api.errors import NO_STORE, register_error_handlers
from ridelines.api.models import SyncQueued, SyncStartBody, SyncView, UserProfile
from ridelines.api.observability import count, logger
from ridelines.api.rider_data import explorer_view, export_location
from ridelines.api.settings import required, url, utc_now
from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.errors import InvalidInput, Unauthorized
from ridelines.ports import (
    BlobStore,
    CdnInvalidator,
    SyncInvoker,
    SyncStateRepository,
    TokenCipher,
    UserRepository,
)

_ATHLETE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_BODY_BYTES = 1024


@dataclass
class UserDeps:
    users: UserRepository
    syncs: SyncStateRepository
    blobs: BlobStore
    invalidator: CdnInvalidator
    invoker: SyncInvoker
    cipher: TokenCipher
    intervals: IntervalsOAuthClient
    frontend_url: str
    tiles_base_url: str
    sync_lease_seconds: int = DEFAULT_SYNC_LEASE_SECONDS
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def from_environment(cls, **overrides: Any) -> UserDeps:
        """Build from the Lambda environment; fields in ``overrides`` (e.g. ``invoker=`` for the local
        stack's in-process sync) are used as is and need no environment variable."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown UserDeps fields: {sorted(unknown)}")

        def blobs() -> BlobStore:
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

        builders: dict[str, Callable[[], Any]] = {
            "users": users,
            "syncs": syncs,
            "blobs": blobs,
            "invalidator": invalidator,
            "invoker": invoker,
            "cipher": cipher,
            "intervals": lambda: IntervalsOAuthClient(settings.intervals_url()),
            "frontend_url": lambda: url(settings.FRONTEND_URL),
            "tiles_base_url": lambda: url(settings.TILES_BASE_URL),
        }
        values = {name: overrides[name] if name in overrides else build() for name, build in builders.items()}
        for optional in ("sync_lease_seconds", "clock"):
            if optional in overrides:
                values[optional] = overrides[optional]
        return cls(**values)


def create_app(deps: UserDeps) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(cors=CORSConfig(allow_origin=deps.frontend_url, max_age=600))
    register_error_handlers(app)
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

    def athlete_id() -> str:
        """The authorizer's verified ``sub``: the only source of identity (never body, path or query)."""
        sub = app.current_event.request_context.authorizer.jwt_claim.get("sub")
        if not isinstance(sub, str) or not _ATHLETE_ID.match(sub):
            raise Unauthorized("missing or invalid identity")
        logger.append_keys(athlete_id=sub)
        return sub

    @app.get("/api/user")
    def get_user() -> Response:
        profile = UserProfile.of(account.user(athlete_id()), deps.tiles_base_url)
        return _json(200, profile.model_dump(mode="json"))

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

    @app.delete("/api/user")
    def delete_user() -> Response:
        account.delete_account(athlete_id())
        logger.info("account deleted")
        count("AccountDeleted")
        return Response(status_code=204, body="", headers=dict(NO_STORE))

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


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=dict(NO_STORE)
    )
