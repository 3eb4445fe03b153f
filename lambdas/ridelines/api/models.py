"""Request and response bodies of the HTTP API (DESIGN 3.1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ridelines.models import SyncCounts, SyncPhase, SyncRecord, SyncStatus, User
from ridelines.privacy import PrivacySettings


class SyncStartBody(BaseModel):
    """``POST /api/sync`` body; empty body means ``{"full": false}``."""

    model_config = ConfigDict(extra="forbid")

    full: StrictBool = False


class CallbackQuery(BaseModel):
    """``GET /auth/callback`` query string; lengths bounded so junk is refused before any lookup."""

    model_config = ConfigDict(extra="ignore")

    code: str | None = Field(default=None, min_length=1, max_length=512, pattern=r"^[A-Za-z0-9._~+/=-]+$")
    state: str | None = Field(default=None, max_length=256)
    error: str | None = Field(default=None, max_length=256)


class UserProfile(BaseModel):
    athlete_id: str
    name: str
    created_at: datetime
    tiles_url: str | None
    last_sync: dict[str, Any] | None
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)  # without the secret offsets

    @classmethod
    def of(cls, user: User) -> UserProfile:
        # A same-origin path: the browser sends the rider's tiles cookies with it.
        tiles_url = f"/{user.tiles_key.lstrip('/')}" if user.tiles_key else None
        return cls(
            athlete_id=user.athlete_id,
            name=user.name,
            created_at=user.created_at,
            tiles_url=tiles_url,
            last_sync=user.last_sync,
            privacy=user.privacy.public if user.privacy else PrivacySettings(),
        )


class SyncQueued(BaseModel):
    sync_id: str
    status: SyncStatus


class SyncView(BaseModel):
    sync_id: str
    status: SyncStatus
    phase: SyncPhase
    counts: SyncCounts
    started_at: datetime
    finished_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, record: SyncRecord) -> SyncView:
        return cls(
            sync_id=record.sync_id,
            status=record.status,
            phase=record.phase,
            counts=record.counts,
            started_at=record.started_at,
            finished_at=record.finished_at,
            error=record.error,
        )
