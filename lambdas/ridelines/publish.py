"""Publishing a freshly built PMTiles file where the map viewer finds it.

In the cloud (:class:`CdnTilesPublisher`): the file goes to ``tiles/{athlete_id}/{content-hash}.pmtiles``
(immutable, cached for a year), the user's row records the new key, the old object is deleted and
its CloudFront path invalidated, so a removed ride disappears now. Publishing identical bytes
again is a no-op (same content hash, same key). Locally (:class:`FileTilesPublisher`): the file
replaces ``DIR/activities.pmtiles`` atomically.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ridelines.errors import NotFound
from ridelines.ports import BlobStore, CdnInvalidator, UserRepository

TILES_CACHE_CONTROL = "public, max-age=31536000, immutable"
PMTILES_CONTENT_TYPE = "application/vnd.pmtiles"


@dataclass(frozen=True, slots=True)
class PublishResult:
    key: str
    changed: bool  # False when the same bytes were already published
    previous_key: str | None = None
    upload_seconds: float = 0.0
    invalidation_seconds: float = 0.0


class TilesPublisher(Protocol):
    def current_key(self) -> str | None:
        """What the viewer is served now (None before the first publish)."""
        ...

    def publish(self, pmtiles: Path) -> PublishResult: ...


def file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tiles_key(athlete_id: str, content_hash: str) -> str:
    return f"tiles/{athlete_id}/{content_hash}.pmtiles"


class CdnTilesPublisher:
    def __init__(
        self,
        athlete_id: str,
        *,
        blobs: BlobStore,
        users: UserRepository,
        cdn: CdnInvalidator,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.athlete_id = athlete_id
        self._blobs = blobs
        self._users = users
        self._cdn = cdn
        self._clock = clock

    def current_key(self) -> str | None:
        user = self._users.get(self.athlete_id)
        return user.tiles_key if user else None

    def publish(self, pmtiles: Path) -> PublishResult:
        key = tiles_key(self.athlete_id, file_digest(pmtiles))
        previous = self.current_key()
        if previous == key and self._blobs.exists(key):
            return PublishResult(key, changed=False, previous_key=previous)
        started = time.perf_counter()
        self._blobs.put_file(
            key, pmtiles, content_type=PMTILES_CONTENT_TYPE, cache_control=TILES_CACHE_CONTROL
        )
        uploaded = time.perf_counter() - started
        # record first, delete second: the viewer is never pointed at a missing object
        try:
            self._users.set_tiles_key(self.athlete_id, key, self._clock())
        except NotFound:
            # the account was deleted while this sync ran: leave nothing of it behind
            self._blobs.delete(key)
            raise
        invalidated = 0.0
        if previous and previous != key:
            self._blobs.delete(previous)
            started = time.perf_counter()
            self._cdn.invalidate([f"/{previous}"])
            invalidated = time.perf_counter() - started
        return PublishResult(
            key,
            changed=True,
            previous_key=previous,
            upload_seconds=uploaded,
            invalidation_seconds=invalidated,
        )


class FileTilesPublisher:
    """``DIR/activities.pmtiles`` for the command line."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def current_key(self) -> str | None:
        return str(self.path) if self.path.exists() else None

    def publish(self, pmtiles: Path) -> PublishResult:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and file_digest(self.path) == file_digest(pmtiles):
            return PublishResult(str(self.path), changed=False, previous_key=str(self.path))
        started = time.perf_counter()
        partial = self.path.with_name(f".{self.path.name}.partial")
        shutil.copyfile(pmtiles, partial)
        os.replace(partial, self.path)
        return PublishResult(
            str(self.path), changed=True, previous_key=None, upload_seconds=time.perf_counter() - started
        )
