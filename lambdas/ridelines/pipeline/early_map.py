"""A first map in seconds: during a rider's first sync, publish what is staged so far.

The listing comes newest first and downloads follow it, so the first committed staging batch
holds the rider's newest rides. When a sync starts with no published map, the map of every
committed batch is published after the first commit, then again each time the staged rides
have grown :data:`GROWTH` times (50, 400, 3200... rides: a few publishes, not one per batch),
and the final merge publishes the whole history as usual. Each early map is built by parts
(:mod:`ridelines.tile_parts`) with the same parts cache as the final one, so a year already
complete is not tiled again at the end. Early maps never touch the archive or the index: a
crash leaves the final merge exactly as it was. A failed early publish is logged, never fatal.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ridelines.archive import ArchiveWriter
from ridelines.index import EntryStatus
from ridelines.pipeline.staging import read_staged, staged_lines
from ridelines.ports import BlobStore
from ridelines.publish import TilesPublisher

log = logging.getLogger(__name__)

GROWTH = 8


MapBuilder = Callable[[Path, Path, Path], object]  # (archive, out.pmtiles, workdir)


@dataclass
class EarlyMaps:
    """``build`` is the sync's own map builder, so early maps go through the same single point
    into Tippecanoe (privacy applied, parts cache shared) as the final one."""

    blobs: BlobStore
    staging_prefix: str
    build: MapBuilder
    publisher: TilesPublisher
    workdir: Path
    published_rides: int = 0
    publishes: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, rides)

    def after_commit(self) -> None:
        try:
            self._maybe_publish()
        except Exception as exc:  # the final merge still publishes everything
            log.warning("early map not published (%s: %s)", type(exc).__name__, exc)

    def _maybe_publish(self) -> None:
        staged = read_staged(self.blobs, self.staging_prefix)
        tracks = {i: r for i, r in staged.items() if r.status is EntryStatus.TRACK}
        if not tracks or len(tracks) < self.published_rides * GROWTH:
            return
        work = Path(tempfile.mkdtemp(prefix="early-", dir=self.workdir))
        try:
            archive = work / "early.geojson.zst"
            with ArchiveWriter(archive) as writer:
                for line in staged_lines(self.blobs, tracks, work):
                    writer.write_line(line)
            pmtiles = work / "early.pmtiles"
            self.build(archive, pmtiles, work)
            self.publisher.publish(pmtiles)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.published_rides = len(tracks)
        self.publishes.append((time.monotonic(), len(tracks)))
        log.info("early map published with the %d newest rides", len(tracks))
