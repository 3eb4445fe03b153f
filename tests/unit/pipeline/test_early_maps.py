"""Early maps of a first sync: built in the background from what is committed, published when the
staged rides have grown GROWTH times or a year has become complete, never after the sync has
closed them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ridelines.adapters.memory import MemoryBlobStore
from ridelines.archive import encode_feature, iter_features
from ridelines.index import EntryStatus
from ridelines.pipeline.early_map import (
    FIRST_MAP_RIDES,
    GROWTH,
    GROWTH_MAPS_UNTIL,
    MIN_SECONDS_BETWEEN_MAPS,
    EarlyMaps,
)
from ridelines.pipeline.staging import BatchWriter

PREFIX = "athletes/a/staging/"


def feature(n: int, year: str = "2026") -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"id": f"r{n}", "start": f"{year}-01-01T00:00:00Z"},
        "geometry": {"type": "LineString", "coordinates": [[8.5, 47.3], [8.6, 47.4]]},
    }


class Recorder:
    """The map builder and the publisher: which rides each published map held."""

    def __init__(self) -> None:
        self.built: list[set[str]] = []
        self.published: list[set[str]] = []
        self.stops: list[bool] = []  # what stop() said after each build
        self.merged: list[bool] = []  # whether each build merged a map (False: parts only)
        self.release = threading.Event()
        self.release.set()

    def build(
        self, archive: Path, pmtiles: Path, workdir: Path, stop: Callable[[], bool], merge: bool
    ) -> None:
        self.release.wait(timeout=30)
        self.stops.append(stop())
        self.merged.append(merge)
        self.built.append({f["properties"]["id"] for f in iter_features(archive)})
        if merge:
            pmtiles.write_bytes(b"tiles")

    def publish(self, pmtiles: Path, products: Any = None) -> None:
        assert pmtiles.read_bytes() == b"tiles"
        self.published.append(self.built[-1])


class SlowClock:
    """Time as the early maps see it: every look is MIN_SECONDS_BETWEEN_MAPS later than the last
    (the tests of what is published when, without the time gate), unless the test holds it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.running = True

    def __call__(self) -> float:
        if self.running:
            self.now += MIN_SECONDS_BETWEEN_MAPS
        return self.now


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.blobs = MemoryBlobStore()
        self.recorder = Recorder()
        self.clock = SlowClock()
        self.workdir = tmp_path
        self.early = self.maps()
        self.rides = 0

    def maps(self, **kwargs: Any) -> EarlyMaps:
        return EarlyMaps(
            self.blobs,
            PREFIX,
            self.recorder.build,
            self.recorder,  # type: ignore[arg-type]
            self.workdir,
            clock=self.clock,
            **kwargs,
        )

    def commit(self, rides: int, *, no_track: int = 0, year: str = "2026") -> None:
        batch = BatchWriter(self.blobs, PREFIX, self.workdir)
        for n in range(self.rides, self.rides + rides):
            batch.add(f"r{n}", b"h" * 16, EntryStatus.TRACK, line=encode_feature(feature(n, year)))
        for n in range(no_track):
            batch.add(f"x{self.rides}-{n}", b"h" * 16, EntryStatus.NO_TRACK, "no GPS")
        batch.commit()
        self.rides += rides

    def first(self, n: int) -> set[str]:
        return {f"r{k}" for k in range(n)}


def test_maps_are_published_as_the_staged_rides_grow(tmp_path: Path) -> None:
    world = World(tmp_path)
    assert not world.early.started
    world.commit(FIRST_MAP_RIDES, no_track=3)
    world.early.after_commit()
    assert world.early.started  # the sync commits at its usual batch size from now on
    world.early.join()
    assert world.recorder.published == [world.first(FIRST_MAP_RIDES)]  # tracks only
    world.commit(FIRST_MAP_RIDES * GROWTH - FIRST_MAP_RIDES - 1)
    world.early.after_commit()
    world.early.join()
    assert len(world.recorder.published) == 1  # not grown GROWTH times yet
    world.commit(1)
    world.early.after_commit()
    world.early.join()
    assert world.recorder.published[-1] == world.first(FIRST_MAP_RIDES * GROWTH)
    assert [n for _t, n in world.early.publishes] == [FIRST_MAP_RIDES, FIRST_MAP_RIDES * GROWTH]


def test_a_map_is_published_when_a_year_becomes_complete(tmp_path: Path) -> None:
    """Downloads follow the listing newest first: once rides of an older year are staged, the
    newer years are complete and their map goes out (their parts are then cached for the final
    merge), though the rides have not grown GROWTH times."""
    world = World(tmp_path)
    world.commit(FIRST_MAP_RIDES)
    world.early.after_commit({"2026"})
    world.early.join()
    world.commit(5)
    world.early.after_commit({"2026"})  # same year, not grown: nothing new to show
    world.early.join()
    assert len(world.recorder.published) == 1
    world.commit(5)
    world.early.after_commit({"2026", "2025"})  # 2025 begun: 2026 is complete
    world.early.join()
    assert world.recorder.published[-1] == world.first(FIRST_MAP_RIDES + 10)
    assert world.early.published_years == {"2026"}
    world.commit(5)
    world.early.after_commit({"2025"})
    world.early.join()
    assert len(world.recorder.published) == 2  # 2025 still going
    world.commit(5)
    world.early.after_commit({"2024"})
    world.early.join()
    assert len(world.recorder.published) == 3
    assert world.early.complete_years() == {"2026", "2025"}


def test_growth_maps_stop_after_two_then_only_complete_years_publish(tmp_path: Path) -> None:
    world = World(tmp_path)
    for rides in (FIRST_MAP_RIDES, FIRST_MAP_RIDES * GROWTH):
        world.commit(rides - world.rides)
        world.early.after_commit({"2026"}, world.rides)
        world.early.join()
    assert [n for _t, n in world.early.publishes] == [FIRST_MAP_RIDES, GROWTH_MAPS_UNTIL]
    world.commit(GROWTH_MAPS_UNTIL * GROWTH)  # grown 8x again, still 2026: re-tiling it shows nothing new
    world.early.after_commit({"2026"}, world.rides)
    world.early.join()
    assert len(world.early.publishes) == 2
    world.commit(1)
    world.early.after_commit({"2025"}, world.rides)  # 2026 is complete
    world.early.join()
    assert [n for _t, n in world.early.publishes][-1] == world.rides


def test_a_commit_during_a_build_is_published_after_it(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.recorder.release.clear()  # Tippecanoe is slow
    world.commit(FIRST_MAP_RIDES)
    world.early.after_commit()
    world.commit(FIRST_MAP_RIDES * GROWTH)  # downloads go on meanwhile
    world.early.after_commit()  # busy: remembered, not a second thread
    world.recorder.release.set()
    world.early.join()
    assert world.recorder.published == [
        world.first(FIRST_MAP_RIDES),
        world.first(FIRST_MAP_RIDES * (GROWTH + 1)),
    ]


def test_no_early_map_after_the_sync_closed_them(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.commit(FIRST_MAP_RIDES)
    world.early.after_commit()
    world.early.join()
    world.early.wait()
    world.commit(FIRST_MAP_RIDES * GROWTH)
    world.early.after_commit()  # the final merge publishes from here on
    world.early.join()
    assert world.recorder.published == [world.first(FIRST_MAP_RIDES)]


def test_a_map_being_built_when_downloads_end_is_stopped_and_not_published(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.recorder.release.clear()
    world.commit(FIRST_MAP_RIDES)
    world.early.after_commit()
    closer = threading.Thread(target=world.early.wait)
    closer.start()
    deadline = time.monotonic() + 30
    while not world.early.closing and time.monotonic() < deadline:
        time.sleep(0.01)
    world.recorder.release.set()
    closer.join(timeout=30)
    assert not closer.is_alive()
    assert world.recorder.stops == [True]  # the builder was told to stop before its next part
    assert world.recorder.published == [] and world.early.publishes == []


class CountingReads(MemoryBlobStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get_bytes(self, key: str) -> bytes | None:
        self.reads += 1
        return super().get_bytes(key)


def test_a_commit_that_publishes_nothing_reads_no_staging(tmp_path: Path) -> None:
    """Told how many tracks are staged, a commit that would not publish reads no staging marker
    (a 50,000-ride sync commits about a thousand batches: reading every marker each time is
    hundreds of thousands of GETs)."""
    world = World(tmp_path)
    world.blobs = CountingReads()
    world.early = world.maps()
    world.commit(FIRST_MAP_RIDES)
    world.early.after_commit({"2026"}, FIRST_MAP_RIDES)
    world.early.join()
    assert len(world.recorder.published) == 1 and world.blobs.reads > 0
    world.blobs.reads = 0
    for _ in range(5):
        world.commit(FIRST_MAP_RIDES)
        world.early.after_commit({"2026"}, world.rides)  # same year, not grown GROWTH times
    world.early.join()
    assert world.blobs.reads == 0 and len(world.recorder.published) == 1
    world.commit(1)
    world.early.after_commit({"2026", "2025"}, world.rides)
    world.early.join()
    assert world.recorder.published[-1] == world.first(world.rides)


def test_a_later_leg_does_not_republish_what_earlier_legs_staged(tmp_path: Path) -> None:
    """A first sync's later leg starts from the rides earlier legs staged: its first commit is
    not a "first map" (no small batch, no republish of everything); the next complete year is."""
    world = World(tmp_path)
    world.commit(500)
    world.early = world.maps(published_rides=500)
    assert world.early.started  # the sync commits at its usual batch size
    world.commit(FIRST_MAP_RIDES)
    world.early.after_commit({"2021"}, world.rides)
    world.early.join()
    assert world.recorder.published == []
    world.commit(FIRST_MAP_RIDES)
    world.early.after_commit({"2021", "2020"}, world.rides)
    world.early.join()
    assert world.recorder.published == [world.first(world.rides)]


def test_a_year_completed_soon_after_a_map_is_tiled_ahead_and_merged_by_the_next_map(tmp_path: Path) -> None:
    """Within MIN_SECONDS_BETWEEN_MAPS of the last map, a newly complete year is only tiled into
    the parts cache (its own rides, no merge, nothing published); the first commit after the
    interval publishes the map of everything staged."""
    world = World(tmp_path)
    world.commit(FIRST_MAP_RIDES, year="2026")
    world.early.after_commit({"2026"}, world.rides)
    world.early.join()
    world.commit(GROWTH_MAPS_UNTIL - world.rides, year="2026")
    world.early.after_commit({"2026"}, world.rides)
    world.early.join()
    assert [n for _t, n in world.early.publishes] == [FIRST_MAP_RIDES, GROWTH_MAPS_UNTIL]
    world.clock.running = False  # from here on, time stands just after the last map
    world.commit(5, year="2025")
    world.early.after_commit({"2025"}, world.rides)  # 2026 complete, too soon for a map
    world.early.join()
    assert len(world.early.publishes) == 2 and world.recorder.merged[-1] is False
    assert world.recorder.built[-1] == world.first(GROWTH_MAPS_UNTIL)  # 2026's rides only, not 2025's
    assert world.early.tiled_years == {"2026"} and world.early.published_years == set()
    world.commit(5, year="2025")
    world.early.after_commit({"2025"}, world.rides)  # nothing new is complete: no build at all
    world.early.join()
    assert len(world.recorder.built) == 3
    world.commit(5, year="2024")
    world.clock.now += MIN_SECONDS_BETWEEN_MAPS / 2
    world.early.after_commit({"2024"}, world.rides)  # 2025 complete: tiled ahead, still too soon
    world.early.join()
    assert world.recorder.merged[-1] is False and world.recorder.built[-1] == {
        f"r{n}" for n in range(GROWTH_MAPS_UNTIL, GROWTH_MAPS_UNTIL + 10)
    }
    world.commit(5, year="2024")
    world.clock.now += MIN_SECONDS_BETWEEN_MAPS / 2
    world.early.after_commit({"2024"}, world.rides)  # the interval is over: the whole map goes out
    world.early.join()
    assert world.recorder.merged[-1] is True and world.recorder.published[-1] == world.first(world.rides)
    assert world.early.published_years == {"2026", "2025"}
    assert [n for _t, n in world.early.publishes][-1] == world.rides


def test_no_map_is_merged_when_the_complete_one_is_due_sooner(tmp_path: Path) -> None:
    """At the rate rides have been staged, when the rest arrive within MIN_SECONDS_BETWEEN_MAPS a
    newly complete year is only tiled ahead: the complete map replaces a merged one seconds later."""
    world = World(tmp_path)
    world.clock.running = False
    world.commit(GROWTH_MAPS_UNTIL, year="2026")  # an earlier leg's, with its maps out
    world.early = world.maps(published_rides=GROWTH_MAPS_UNTIL, expected_tracks=GROWTH_MAPS_UNTIL + 1000)
    world.clock.now += 100.0  # 100 rides in 100 s: the other 900 would take 900 s
    world.commit(100, year="2026")
    world.commit(1, year="2025")
    world.early.after_commit({"2026", "2025"}, world.rides)
    world.early.join()
    assert world.recorder.merged == [True]  # 2026 complete, the end far off: a map goes out
    world.clock.now += 800.0  # 880 more rides in 800 s: the last 19 come within a few seconds
    world.commit(880, year="2025")
    world.commit(1, year="2024")
    world.early.after_commit({"2024"}, world.rides)
    world.early.join()
    assert world.recorder.merged == [True, False]  # 2025 only tiled ahead for the complete map
    assert len(world.early.publishes) == 1 and world.early.tiled_years == {"2026", "2025"}
