"""Publishing the rider's map and what goes with it where the viewer finds it.

In the cloud (:class:`CdnTilesPublisher`) every published file is content-hashed and immutable
(cached for a year) under ``tiles/{athlete_id}/``, read through CloudFront with the rider's cookies:

* ``{hash}.pmtiles``: the map (``tiles_url``);
* ``rides-{hash}.json``: the rides list (``rides_url``);
* ``export-{hash}.geojson``: the rider's true tracks, stored gzip-compressed with
  ``Content-Encoding: gzip`` and ``Content-Disposition: attachment`` (``GET /api/user/export``).

The explorer layer goes to ``athletes/{athlete_id}/explorer.json`` (read by the user API, not
CloudFront). Then one write to the users row records the ``published`` keys (and the old single
``tiles_key``) and the explorer summary; only then are the replaced objects deleted, so the viewer
is never pointed at a missing object. Publishing identical bytes again uploads nothing.

**No CloudFront invalidation per publish.** A new file has a new key that no edge has cached, so
nothing stale can be served for it; the app finds the new key in ``GET /api/user``. The replaced
object is deleted from S3; an edge may still hold it in cache until its TTL, but ``/tiles/{id}/*``
demands that rider's signed cookies on every request, cached or not, so only the rider (holding
the cookies, and the data) could still fetch the old bytes. Invalidating them bought nothing, cost
one CloudFront API call per publish (1,000 free paths a month per account, then $0.005 each) and
slowed every publish by the API's latency. Erasure (``DELETE /api/user``) still invalidates the
rider's whole prefix once, since cached copies must not outlive the account.

Locally (:class:`FileTilesPublisher`): ``DIR/activities.pmtiles``, ``DIR/rides.json`` and
``DIR/explorer.json`` replaced atomically.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ridelines.data_products import DataProducts, export_filename, export_key
from ridelines.errors import NotFound
from ridelines.explorer import explorer_key
from ridelines.ports import BlobStore, UserRepository
from ridelines.rides_list import rides_key

TILES_CACHE_CONTROL = "public, max-age=31536000, immutable"
PMTILES_CONTENT_TYPE = "application/vnd.pmtiles"


RIDES_CONTENT_TYPE = "application/json"
EXPORT_CONTENT_TYPE = "application/geo+json"
EXPLORER_CONTENT_TYPE = "application/json"
ARTIFACTS = ("tiles", "rides", "export")


@dataclass(frozen=True, slots=True)
class PublishResult:
    key: str  # the tiles
    changed: bool  # False when the same bytes were already published
    previous_key: str | None = None
    upload_seconds: float = 0.0
    keys: Mapping[str, str] = field(default_factory=dict)  # every published artifact by kind


class TilesPublisher(Protocol):
    def current_key(self) -> str | None:
        """What the viewer is served now (None before the first publish, or when the published
        set lacks an artifact, so the next sync publishes it)."""
        ...

    def publish(self, pmtiles: Path, products: DataProducts | None = None) -> PublishResult:
        """Publish the tiles and, when given, the rides list, export and explorer layer."""
        ...


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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.athlete_id = athlete_id
        self._blobs = blobs
        self._users = users
        self._clock = clock

    def _published(self) -> dict[str, str]:
        user = self._users.get(self.athlete_id)
        if user is None:
            return {}
        keys = {kind: user.published_key(kind) for kind in ARTIFACTS}
        return {kind: key for kind, key in keys.items() if key}

    def current_key(self) -> str | None:
        published = self._published()
        if any(kind not in published for kind in ARTIFACTS):
            return None  # never published, or before rides list and export existed: publish all
        return published["tiles"]

    def publish(self, pmtiles: Path, products: DataProducts | None = None) -> PublishResult:
        athlete = self.athlete_id
        previous = self._published()
        wanted = {"tiles": tiles_key(athlete, file_digest(pmtiles))}
        if products is not None:
            wanted["rides"] = rides_key(athlete, products.rides_hash)
            wanted["export"] = export_key(athlete, products.export_hash)
        keys = {**previous, **wanted}
        explorer_stored = products is None or self._explorer_unchanged(products)
        if keys == previous and explorer_stored and all(self._blobs.exists(k) for k in wanted.values()):
            return PublishResult(keys["tiles"], changed=False, previous_key=previous.get("tiles"), keys=keys)
        started = time.perf_counter()
        uploaded: list[str] = []
        try:
            for kind, key in wanted.items():
                if previous.get(kind) == key and self._blobs.exists(key):
                    continue
                self._upload(kind, key, pmtiles, products)
                uploaded.append(key)
            if products is not None and not explorer_stored:
                self._blobs.put_file(
                    explorer_key(athlete), products.explorer, content_type=EXPLORER_CONTENT_TYPE
                )
            # record first, delete second: the viewer is never pointed at a missing object
            self._users.set_published(
                athlete,
                keys,
                self._clock(),
                explorer=products.explorer_summary if products is not None else None,
            )
        except NotFound:
            # the account was deleted while this sync ran: leave nothing of it behind
            for key in uploaded:
                self._blobs.delete(key)
            if products is not None:
                self._blobs.delete(explorer_key(athlete))
            raise
        upload_seconds = time.perf_counter() - started
        for kind, old in previous.items():
            if keys.get(kind) != old:
                self._blobs.delete(old)
        return PublishResult(
            keys["tiles"],
            changed=True,
            previous_key=previous.get("tiles"),
            upload_seconds=upload_seconds,
            keys=keys,
        )

    def _explorer_unchanged(self, products: DataProducts) -> bool:
        return self._blobs.get_bytes(explorer_key(self.athlete_id)) == products.explorer.read_bytes()

    def _upload(self, kind: str, key: str, pmtiles: Path, products: DataProducts | None) -> None:
        if kind == "tiles":
            self._blobs.put_file(
                key, pmtiles, content_type=PMTILES_CONTENT_TYPE, cache_control=TILES_CACHE_CONTROL
            )
        elif kind == "rides" and products is not None:
            self._blobs.put_file(
                key, products.rides, content_type=RIDES_CONTENT_TYPE, cache_control=TILES_CACHE_CONTROL
            )
        elif kind == "export" and products is not None:
            self._blobs.put_file(
                key,
                products.export,
                content_type=EXPORT_CONTENT_TYPE,
                cache_control=TILES_CACHE_CONTROL,
                content_encoding="gzip",
                content_disposition=f'attachment; filename="{export_filename(self.athlete_id)}"',
            )


class FileTilesPublisher:
    """``DIR/activities.pmtiles``, ``DIR/rides.json`` and ``DIR/explorer.json`` for the command line."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rides_path = self.path.with_name("rides.json")
        self.explorer_path = self.path.with_name("explorer.json")

    def current_key(self) -> str | None:
        complete = all(p.exists() for p in (self.path, self.rides_path, self.explorer_path))
        return str(self.path) if complete else None

    def publish(self, pmtiles: Path, products: DataProducts | None = None) -> PublishResult:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        changed = _replace_if_different(pmtiles, self.path)
        if products is not None:
            changed = _replace_if_different(products.rides, self.rides_path) or changed
            changed = _replace_if_different(products.explorer, self.explorer_path) or changed
        return PublishResult(
            str(self.path),
            changed=changed,
            previous_key=None if changed else str(self.path),
            upload_seconds=time.perf_counter() - started,
            keys={"tiles": str(self.path), "rides": str(self.rides_path)},
        )


def _replace_if_different(source: Path, target: Path) -> bool:
    if target.exists() and file_digest(target) == file_digest(source):
        return False
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
    return True
