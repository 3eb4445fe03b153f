"""intervals.icu JSON at the edge: pydantic models for what the listing returns.

Only the fields the sync uses are declared; everything else is ignored. A listing entry that
fails validation is skipped with a log line by the client, never a crash.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Bumped when what a listing entry turns into changes (feature properties, conversion), so every
# activity is considered changed once and rebuilt.
CONTENT_HASH_VERSION = "ridelines-activity-v1"

# Sources whose activities have no original file to download.
STRAVA_SOURCE = "STRAVA"
MANUAL_SOURCE = "MANUAL"


class IntervalsActivity(BaseModel):
    """One entry of ``GET /api/v1/athlete/{id}/activities`` (the ``Activity`` schema)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # The id goes into a URL path: accept only what intervals.icu ids look like.
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str | None = None
    type: str | None = None
    source: str | None = None
    start_date: datetime | None = None  # UTC
    start_date_local: datetime | None = None  # athlete's wall clock, no zone
    elapsed_time: int | None = None
    moving_time: int | None = None
    distance: float | None = None
    total_elevation_gain: float | None = None
    trainer: bool | None = None
    file_type: str | None = None
    external_id: str | None = None
    icu_sync_date: str | None = None
    stream_types: list[str] | None = None

    @field_validator("start_date")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def is_strava_stub(self) -> bool:
        return (self.source or "").upper() == STRAVA_SOURCE

    @property
    def is_manual(self) -> bool:
        return (self.source or "").upper() == MANUAL_SOURCE

    @property
    def has_no_file(self) -> bool:
        """Strava stubs and manual entries: nothing to download, never a track."""
        return self.is_strava_stub or self.is_manual

    @property
    def known_without_gps(self) -> bool:
        """intervals.icu lists its streams and there is no ``latlng`` among them."""
        return self.stream_types is not None and "latlng" not in self.stream_types

    @property
    def is_virtual(self) -> bool:
        return "virtual" in (self.type or "").lower()

    @property
    def start(self) -> datetime | None:
        if self.start_date is not None:
            return self.start_date
        if self.start_date_local is not None:
            return self.start_date_local.replace(tzinfo=UTC)
        return None

    def content_hash(self) -> bytes:
        """Stable 16-byte BLAKE2b over a canonical encoding of what the map shows and the file
        identity: a change to any of them (rename, type change, re-upload) means a re-download."""
        start = self.start
        canonical = [
            CONTENT_HASH_VERSION,
            self.id,
            self.name or "",
            self.type or "",
            start.strftime("%Y-%m-%dT%H:%M:%SZ") if start else "",
            self.elapsed_time if self.elapsed_time is not None else -1,
            format(self.distance, ".1f") if self.distance is not None else "",
            bool(self.trainer),
            self.file_type or "",
            self.external_id or "",
            self.icu_sync_date or "",
        ]
        encoded = json.dumps(canonical, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return hashlib.blake2b(encoded, digest_size=16).digest()


class IntervalsAthlete(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value
