"""intervals.icu JSON at the edge: pydantic models for what the listing returns.

Only the fields the sync uses are declared; well-formed fields it does not know are ignored (an
API addition is not a broken entry). Each listing entry is validated on its own by
:mod:`ridelines.intervals.listing`: one that fails is skipped with its reason, never a crash.

Two hashes per entry (both 16-byte BLAKE2b over a canonical encoding):

* :meth:`IntervalsActivity.file_hash`: the *file identity* (id, start, elapsed time, distance,
  file type, external id, sync date, sport index). It changes when the recording itself changes
  (re-upload, crop): the file is downloaded again.
* :meth:`IntervalsActivity.meta_hash`: what the map shows from the listing (name, type, trainer,
  moving time, elevation gain). It changes alone on a rename or a type change: the feature's
  properties are rewritten from the listing, nothing is downloaded.

:meth:`IntervalsActivity.content_hash` is the version-1 hash of both together, kept so indexes
written before the split migrate without downloading anything (:mod:`ridelines.index`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

# The version-1 (legacy) combined hash; never change it: old indexes are compared with it.
CONTENT_HASH_VERSION = "ridelines-activity-v1"
# Bumped when what a file or a listing entry turns into changes (conversion, properties).
FILE_HASH_VERSION = "ridelines-file-v2"
META_HASH_VERSION = "ridelines-meta-v2"

# Sources whose activities have no original file to download.
STRAVA_SOURCE = "STRAVA"
MANUAL_SOURCE = "MANUAL"

MAX_TEXT = 2000  # characters of a name, type, id-like field: far above anything real
EARLIEST_START = datetime(1900, 1, 1, tzinfo=UTC)  # before this (or after LATEST) a date is absurd
LATEST_START = datetime(2200, 1, 1, tzinfo=UTC)
MAX_SECONDS = 10 * 366 * 86400  # an activity longer than ten years is not a recording
MAX_METRES = 1e8  # 100 000 km


def _encodable(value: str) -> str:
    """Lone surrogates (``"\\ud800"`` in JSON) cannot be stored as UTF-8: refuse the entry."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text holds a lone surrogate (not valid Unicode)") from None
    return value


Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_encodable)]
Seconds = Annotated[int, Field(ge=0, le=MAX_SECONDS)]
Metres = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_METRES, le=MAX_METRES)]


def _sane_start(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST_START <= moment < LATEST_START:
        raise ValueError(f"start {moment.isoformat()} is outside 1900..2200")
    return moment


class IntervalsActivity(BaseModel):
    """One entry of ``GET /api/v1/athlete/{id}/activities`` (the ``Activity`` schema)."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    # The id goes into a URL path: accept only what intervals.icu ids look like.
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: Text | None = None
    type: Text | None = None
    source: Text | None = None
    start_date: datetime | None = None  # UTC
    start_date_local: datetime | None = None  # athlete's wall clock, no zone
    elapsed_time: Seconds | None = None
    moving_time: Seconds | None = None
    distance: Metres | None = None
    total_elevation_gain: Metres | None = None
    trainer: bool | None = None
    file_type: Text | None = None
    external_id: Text | None = None
    icu_sync_date: Text | None = None
    stream_types: list[Text] | None = Field(default=None, max_length=200)
    file_sport_index: int | None = Field(default=None, ge=0, le=1000)

    @field_validator("start_date", "start_date_local")
    @classmethod
    def _start_in_range(cls, value: datetime | None) -> datetime | None:
        return _sane_start(value)

    @field_validator("id", mode="before")
    @classmethod
    def _id_is_text(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError("id is not a string")
        return value

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

    def _start_text(self) -> str:
        start = self.start
        return start.strftime("%Y-%m-%dT%H:%M:%SZ") if start else ""

    @staticmethod
    def _digest(canonical: list[object]) -> bytes:
        encoded = json.dumps(canonical, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return hashlib.blake2b(encoded, digest_size=16).digest()

    def file_hash(self) -> bytes:
        """The identity of the recording: changes on a re-upload or a crop (new download)."""
        return self._digest(
            [
                FILE_HASH_VERSION,
                self.id,
                self._start_text(),
                self.elapsed_time if self.elapsed_time is not None else -1,
                format(self.distance, ".1f") if self.distance is not None else "",
                self.file_type or "",
                self.external_id or "",
                self.icu_sync_date or "",
                self.file_sport_index if self.file_sport_index is not None else -1,
            ]
        )

    def meta_hash(self) -> bytes:
        """What the map shows from the listing alone: changes on a rename, a type change..."""
        return self._digest(
            [
                META_HASH_VERSION,
                self.name or "",
                self.type or "",
                bool(self.trainer),
                self.moving_time if self.moving_time is not None else -1,
                format(self.total_elevation_gain, ".1f") if self.total_elevation_gain is not None else "",
            ]
        )

    def content_hash(self) -> bytes:
        """The version-1 combined hash (indexes written before the file/meta split hold it)."""
        return self._digest(
            [
                CONTENT_HASH_VERSION,
                self.id,
                self.name or "",
                self.type or "",
                self._start_text(),
                self.elapsed_time if self.elapsed_time is not None else -1,
                format(self.distance, ".1f") if self.distance is not None else "",
                bool(self.trainer),
                self.file_type or "",
                self.external_id or "",
                self.icu_sync_date or "",
            ]
        )


class IntervalsAthlete(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value
