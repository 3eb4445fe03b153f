"""A first map in seconds: during a rider's first sync, publish what is staged so far.

The listing comes newest first and downloads follow it, so the first committed staging batch
holds the rider's newest rides. When a sync starts with no published map, its first staging
batch is committed early (:data:`FIRST_MAP_RIDES` results, not the usual batch size), the map of
every committed batch is published after it, then again once the staged rides have grown
:data:`GROWTH` times (10, then 80 rides: two quick maps of the newest year), and the final
merge publishes the whole history as usual. Each early map is built by parts
(:mod:`ridelines.tile_parts`) with the same parts cache as the final one, so a year already
complete is not tiled again at the end (the first map is the newest part alone).

A map is also published whenever a **year becomes complete**: the sync says which years its
committed rides started in (:meth:`EarlyMaps.after_commit`), and since downloads follow the
listing newest first, every year but the oldest one seen is done. Each such map tiles the year
just completed (once: it is then in the parts cache) and the few rides of the year just begun,
so by the end of the downloads only the oldest year is left to tile and the final merge is
short, instead of tiling most of a decade after the last download.

Maps are **published at most every** :data:`MIN_SECONDS_BETWEEN_MAPS` once the growth maps are
out: a year completed sooner is only tiled into the parts cache (its part alone, no merge), and
the next map merges it. Tiling each year as it completes keeps the final merge short; merging
fewer times saves what grows with every map (``tile-join`` over every part so far, and the
in-progress year re-tiled for each map).

Nor is a map published when **the complete one is due sooner** than the next early map could
be: the sync says how many rides it expects to stage (``expected_tracks``), and when the rate
so far says the rest arrives within :data:`MIN_SECONDS_BETWEEN_MAPS`, a newly complete year is
only tiled ahead. Merging every part for a map that the complete map replaces seconds later is
the costliest early map of all (its ``tile-join`` reads the most parts).

Early maps are built in one background thread, so downloads and conversion never wait for
Tippecanoe; a commit while one is being built starts none (it is built when that one is done).
:meth:`EarlyMaps.close` is called when downloads end and :meth:`EarlyMaps.join` before the final
map is tiled (the archive is rewritten meanwhile): a map being built stops after the parts it
is tiling (the final merge reuses them) and is not published, so an early map never lands after
the complete one and the final merge does not wait for a map nobody will see. Early maps never
touch the archive or the index: a crash leaves the final merge exactly as it was. A failed early
publish is logged, never fatal.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from ridelines.archive import TRANSIENT_ZSTD_LEVEL, ArchiveWriter
from ridelines.index import EntryStatus
from ridelines.pipeline.staging import StagedResult, read_staged, staged_lines
from ridelines.ports import BlobStore
from ridelines.publish import TilesPublisher
from ridelines.tile_parts import PartsIncomplete, line_properties, part_of

log = logging.getLogger(__name__)

GROWTH = 8
FIRST_MAP_RIDES = 10  # the first staging batch of a first sync: the first map's rides
# Growth publishes stop once a map of this many rides is out; from then on a map goes out when a
# year is complete. A growth map of the year in progress is tiled again at the next map, so a
# third one (640 rides) would cost a tenth of the sync's tiling to show the same year a bit sooner.
GROWTH_MAPS_UNTIL = FIRST_MAP_RIDES * GROWTH
# Between two complete-year maps: a rider sees the map grow every half minute, and a 5000-ride
# sync merges (tile-join of every part so far) three or four times instead of once per year.
MIN_SECONDS_BETWEEN_MAPS = 30.0


class _Due(Enum):
    PUBLISH = "publish"  # merge every part and publish the map
    TILE = "tile"  # tile the newly complete years into the parts cache only


# (archive, out.pmtiles, workdir, stop, merge): ``stop()`` turns true when the sync has closed
# early maps; the builder then stops before its next part (what it tiled stays in the parts
# cache). ``merge`` False: tile the archive's parts into the parts cache, write no map.
MapBuilder = Callable[[Path, Path, Path, Callable[[], bool], bool], object]


@dataclass
class EarlyMaps:
    """``build`` is the sync's own map builder, so early maps go through the same single point
    into Tippecanoe (privacy applied, parts cache shared) as the final one."""

    blobs: BlobStore
    staging_prefix: str
    build: MapBuilder
    publisher: TilesPublisher
    workdir: Path
    published_rides: int = 0  # a continuing leg starts from what earlier legs staged (and published)
    published_years: frozenset[str] = frozenset()  # the complete years of the last map
    tiled_years: frozenset[str] = frozenset()  # complete years in the parts cache (published or not)
    publishes: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, rides)
    clock: Callable[[], float] = time.monotonic
    expected_tracks: int | None = None  # rides this leg may stage in all (None: no forecast)

    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _busy: bool = field(default=False, init=False, repr=False)
    _pending: bool = field(default=False, init=False, repr=False)  # a commit came while busy
    _closing: bool = field(default=False, init=False, repr=False)
    _years: frozenset[str] = field(default=frozenset(), init=False, repr=False)
    _last_publish: float | None = field(default=None, init=False, repr=False)  # when its build began
    _rate_from: tuple[float, int] | None = field(default=None, init=False, repr=False)  # (time, tracks)

    def __post_init__(self) -> None:
        if self.expected_tracks is not None:  # made as the downloads begin: the rate's start
            self._rate_from = (self.clock(), self.published_rides)

    @property
    def started(self) -> bool:
        """Whether the first early map has been started, or earlier legs published one (the sync
        then commits at its usual size)."""
        return self._thread is not None or self.published_rides > 0

    def after_commit(self, years: Iterable[str] = (), staged_tracks: int | None = None) -> None:
        """Called after each staging commit, with the years the committed rides started in and,
        when the sync counts them, how many tracks are staged: starts building a map of what is
        committed now in the background, unless one is being built (then it checks again when
        that one is done). With a count, a commit that would not publish reads nothing: the
        staging markers are read only for a map that goes out (not once per commit, which is
        hundreds of thousands of GETs over a 50,000-ride sync)."""
        with self._lock:
            self._years = self._years | frozenset(years)
            if self._closing:
                return
            if staged_tracks is not None and not self._busy and not self._due(staged_tracks):
                return
            if self._busy:
                self._pending = True
                return
            self._busy = True
        try:
            tracks = self._tracks()  # what is committed now: the map shows exactly this commit
        except Exception as exc:
            log.warning("early map not published (%s: %s)", type(exc).__name__, exc)
            tracks = None
        self._thread = threading.Thread(target=self._run, args=(tracks,), name="early-map", daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait until no early map is being built (a pending one included)."""
        while (thread := self._thread) is not None:
            thread.join()
            if thread is self._thread:
                return

    @property
    def closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """No more early maps: drop a pending one, and tell the one being built to stop after the
        parts it is tiling (the final merge reuses them and tiles the rest) and to publish nothing.
        Returns at once: :meth:`join` before tiling the final map."""
        with self._lock:
            self._closing = True
            self._pending = False

    def wait(self) -> None:
        """:meth:`close`, then :meth:`join`."""
        self.close()
        self.join()

    def _run(self, tracks: dict[str, StagedResult] | None) -> None:
        while True:
            try:
                self._maybe_publish(self._tracks() if tracks is None else tracks)
            except PartsIncomplete:
                log.info("early map stopped: the final merge tiles the rest")
            except Exception as exc:  # the final merge still publishes everything
                log.warning("early map not published (%s: %s)", type(exc).__name__, exc)
            tracks = None
            with self._lock:
                if not self._pending or self._closing:
                    self._busy = False
                    return
                self._pending = False

    def _tracks(self) -> dict[str, StagedResult]:
        staged = read_staged(self.blobs, self.staging_prefix)
        return {i: r for i, r in staged.items() if r.status is EntryStatus.TRACK}

    def complete_years(self) -> frozenset[str]:
        """Every year seen but the oldest: the listing is newest first, so those are done."""
        with self._lock:
            return _all_but_oldest(self._years)

    def _due(self, tracks: int) -> _Due | None:
        """Called under ``_lock``."""
        if tracks <= 0:
            return None
        if self.published_rides < GROWTH_MAPS_UNTIL and tracks >= self.published_rides * GROWTH:
            return _Due.PUBLISH
        complete = _all_but_oldest(self._years)
        if complete <= self.published_years:
            return None
        now = self.clock()
        interval_over = self._last_publish is None or now - self._last_publish >= MIN_SECONDS_BETWEEN_MAPS
        if interval_over and not self._complete_map_soon(tracks, now):
            return _Due.PUBLISH
        return None if complete <= self.tiled_years else _Due.TILE

    def _complete_map_soon(self, tracks: int, now: float) -> bool:
        """Whether, at the rate rides have been staged so far, the rest are staged within
        MIN_SECONDS_BETWEEN_MAPS (the complete map follows them). Called under ``_lock``."""
        if self.expected_tracks is None or self._rate_from is None:
            return False
        since, tracks_then = self._rate_from
        staged, elapsed = tracks - tracks_then, now - since
        if staged <= 0 or elapsed <= 0:
            return False
        return (self.expected_tracks - tracks) * elapsed / staged < MIN_SECONDS_BETWEEN_MAPS

    def _maybe_publish(self, tracks: dict[str, StagedResult]) -> None:
        with self._lock:  # one snapshot: what is judged due is what is recorded as published
            due, complete = self._due(len(tracks)), _all_but_oldest(self._years)
        if due is None:
            return
        began = self.clock()
        years = complete - self.tiled_years  # TILE: only these years' rides go in
        work = Path(tempfile.mkdtemp(prefix="early-", dir=self.workdir))
        try:
            archive = work / "early.geojson.zst"
            with ArchiveWriter(archive, level=TRANSIENT_ZSTD_LEVEL) as writer:
                for line in staged_lines(self.blobs, tracks, work):
                    if due is _Due.PUBLISH or part_of(line_properties(line)) in years:
                        writer.write_line(line)
            pmtiles = work / "early.pmtiles"
            self.build(archive, pmtiles, work, lambda: self._closing, due is _Due.PUBLISH)
            if self._closing:  # the final merge publishes from now on: never after it
                return
            if due is _Due.PUBLISH:
                self.publisher.publish(pmtiles)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.tiled_years = self.tiled_years | complete
        if due is _Due.TILE:
            log.info("early map: years %s tiled for the next map", ",".join(sorted(years)))
            return
        self.published_rides = len(tracks)
        self.published_years = complete
        self._last_publish = began
        self.publishes.append((time.monotonic(), len(tracks)))
        log.info("early map published with the %d newest rides", len(tracks))


def _all_but_oldest(years: frozenset[str]) -> frozenset[str]:
    return years - {min(years)} if years else frozenset()
