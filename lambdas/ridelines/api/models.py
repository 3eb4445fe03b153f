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


class ExplorerSummary(BaseModel):
    """The explorer layer in two numbers: tiles visited and the max square's side (0 before a sync)."""

    tiles: int = 0
    max_square: int = 0


class UserProfile(BaseModel):
    athlete_id: str
    name: str
    created_at: datetime
    tiles_url: str | None
    rides_url: str | None  # same-origin path of the rides list, beside the tiles
    last_sync: dict[str, Any] | None
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)  # without the secret offsets
    explorer: ExplorerSummary

    @classmethod
    def of(cls, user: User) -> UserProfile:
        # Same-origin paths: the browser sends the rider's tiles cookies with them.
        tiles_key = user.published_key("tiles")
        tiles_url = f"/{tiles_key.lstrip('/')}" if tiles_key else None
        rides_key = user.published_key("rides")
        return cls(
            athlete_id=user.athlete_id,
            name=user.name,
            created_at=user.created_at,
            tiles_url=tiles_url,
            rides_url=f"/{rides_key}" if rides_key else None,
            last_sync=user.last_sync,
            privacy=user.privacy.public if user.privacy else PrivacySettings(),
            explorer=ExplorerSummary.model_validate(user.explorer or {}),
        )


class MaxSquareView(BaseModel):
    x: int
    y: int
    size: int


class ExplorerView(BaseModel):
    """``GET /api/user/explorer``: the visited z14 tiles and the max square (top-left tile and side)."""

    zoom: int
    tiles: list[tuple[int, int]]
    max_square: MaxSquareView | None


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
