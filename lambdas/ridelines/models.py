"""Records shared across the domain and the edges (pydantic at the edges, plain data inside)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ridelines.privacy import StoredPrivacy


class SyncStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in (SyncStatus.QUEUED, SyncStatus.RUNNING)


class SyncPhase(StrEnum):
    QUEUED = "queued"
    LIST = "list"
    DIFF = "diff"
    DOWNLOAD = "download"
    PUBLISH = "publish"
    DONE = "done"


class SyncCounts(BaseModel):
    """The counters of DESIGN 3.1, shown by ``GET /api/sync`` and printed by ``ridelines sync``."""

    model_config = ConfigDict(extra="forbid")

    listed: int = 0
    new: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    downloaded: int = 0
    skipped: int = 0
    failed: int = 0


class SyncRequest(BaseModel):
    """The async event the user Lambda (or a checkpointing sync) sends to the sync Lambda."""

    model_config = ConfigDict(extra="forbid")

    athlete_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    sync_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    full: bool = False
    retile: bool = False  # rebuild the tiles from the archive only (a privacy change): no listing
    checkpoint: dict[str, Any] | None = None


class SyncRecord(BaseModel):
    """One athlete's current (or last) sync: the single-flight lease and its live progress."""

    athlete_id: str
    sync_id: str
    status: SyncStatus
    phase: SyncPhase = SyncPhase.QUEUED
    counts: SyncCounts = Field(default_factory=SyncCounts)
    full: bool = False
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    lease_expires_at: datetime
    checkpoint: dict[str, Any] | None = None

    def holds_lease(self, now: datetime) -> bool:
        return self.status.active and self.lease_expires_at > now

    def as_seen(self, now: datetime) -> SyncRecord:
        """What a reader should be shown: an active sync whose lease ran out is ``failed`` (its runs
        died: killed, or Lambda gave up), never ``running`` for ever. A live leg's heartbeat
        keeps the lease fresh."""
        if not self.status.active or self.lease_expires_at > now:
            return self
        return self.model_copy(
            update={
                "status": SyncStatus.FAILED,
                "finished_at": self.lease_expires_at,
                "error": self.error or "the sync stopped responding (its run was killed); start it again",
            }
        )


class User(BaseModel):
    """One row of the users table, keyed by the intervals.icu athlete id."""

    athlete_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    encrypted_token: bytes | None = None  # ciphertext from TokenCipher; the plaintext is never stored
    tiles_key: str | None = None  # tiles/{athlete_id}/{content-hash}.pmtiles
    last_sync: dict[str, Any] | None = None  # summary of the last finished sync
    # Sessions (JWTs) issued at or before this instant are refused (logout, account re-created).
    sessions_valid_after: datetime | None = None
    privacy: StoredPrivacy | None = None  # zones with their secret offsets, hide_ends_m

    # published artifacts by kind ("tiles", "rides", "export"); rows written before it have tiles_key only
    published: dict[str, str] | None = None
    explorer: dict[str, int] | None = None  # {"tiles": N, "max_square": M} of the published map

    def published_key(self, kind: str) -> str | None:
        """The published object of one kind; ``tiles`` falls back to the old single ``tiles_key``."""
        key = (self.published or {}).get(kind)
        return key or (self.tiles_key if kind == "tiles" else None)


@dataclass(frozen=True)
class ConsumedState:
    """What consuming an OAuth state found: its redirect path when it was used up now; otherwise
    whether it exists but belongs to another browser (then it is left in place)."""

    redirect_path: str | None = None
    binding_mismatch: bool = False


class OAuthCredentials(BaseModel):
    client_id: str
    client_secret: str
