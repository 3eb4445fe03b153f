"""Hostile listings, scoped failures, deadlines, kills, short files: the sync against the stand-in."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ridelines import tile_parts as tile_parts_module
from ridelines.index import ActivityIndex, EntryStatus, IndexEntry, decode_index, encode_index
from ridelines.intervals import Credentials, IntervalsClient, TokenBucket
from ridelines.models import SyncStatus
from ridelines.pipeline import sync as sync_module
from ridelines.pipeline.lambda_entry import handle_sync_event

from .conftest import ATHLETE, FAST_RETRY, RIDES, FakeContext, SyncWorld

INDEX_KEY = f"athletes/{ATHLETE}/activities.index"
RIDE_IDS = {f"a{n}" for n in range(1, len(RIDES) + 1)}

# -- 1. one bad entry is one bad entry ---------------------------------------------------------

NAN, INF = float("nan"), float("inf")
# (kind, entry): each is broken in its own way; ids a1..a4 are rides already on the map
BROKEN: list[tuple[str, Any]] = [
    ("nan distance", {"id": "a1", "distance": NAN, "start_date": "2024-01-01T00:00:00Z"}),
    ("lone surrogate in name", {"id": "a2", "name": "Ride \ud800", "start_date": "2024-01-01T00:00:00Z"}),
    ("wrong type for elapsed", {"id": "a3", "elapsed_time": "an hour"}),
    ("absurd date", {"id": "a4", "start_date": "0001-01-01T00:00:00Z"}),
    ("unparsable date", {"id": "b5", "start_date": "yesterday"}),
    ("infinite distance", {"id": "b6", "distance": INF}),
    ("negative moving time", {"id": "b7", "moving_time": -5}),
    ("name is an object", {"id": "b8", "name": {"en": "x"}}),
    ("trainer is not a bool", {"id": "b9", "trainer": "maybe"}),
    ("field name with a lone surrogate", {"id": "b10", "na\udc00me": "x"}),
    ("stream_types is a string", {"id": "b11", "stream_types": "latlng"}),
    ("huge name", {"id": "b12", "name": "x" * 100_000}),
    ("year 9999", {"id": "b13", "start_date": "9999-12-31T00:00:00Z"}),
    ("-Infinity as text", {"id": "b14", "total_elevation_gain": "-Infinity"}),
    ("negative sport index", {"id": "b15", "file_sport_index": -1}),
    ("elapsed time of a century", {"id": "b16", "elapsed_time": 100 * 366 * 86400}),
    ("id is a list", {"id": ["a1"]}),
    ("id is a path", {"id": "../../etc/passwd", "name": "x"}),
    ("missing id", {"name": "no id"}),
    ("not an object", "a string"),
    ("null entry", None),
]


def test_twenty_kinds_of_broken_entries_each_affect_only_their_own_activity(world: SyncWorld) -> None:
    assert len(BROKEN) >= 20
    world.trigger()
    assert set(world.tiles()) == RIDE_IDS
    # the rides a1..a4 now come back broken; a new, valid ride arrives at the same time
    for ride in sorted(RIDE_IDS):
        world.standin.delete_activity(ride)
    world.standin.raw_entries = [entry for kind, entry in BROKEN if kind not in _UNIDENTIFIED]
    world.standin.add_activity(ATHLETE, activity_id="n1", fit_bytes=RIDES[0].read_bytes(), name="New")
    result = world.trigger()
    assert result["status"] == "succeeded"
    counts = result["counts"]
    skipped_entries = len(world.standin.raw_entries)
    assert counts["deleted"] == 0  # a skipped entry is never a deleted ride
    assert counts["skipped"] == skipped_entries + 2  # + the Strava stub and the manual entry
    assert counts["new"] == 1 and counts["downloaded"] == 1
    assert set(world.tiles()) == RIDE_IDS | {"n1"}  # stored rides stay, the new one arrives
    index = decode_index(world.blobs.get_bytes(INDEX_KEY) or b"")
    assert RIDE_IDS | {"n1"} <= set(index.ids())


_UNIDENTIFIED = {"id is a list", "id is a path", "missing id", "not an object", "null entry"}


def test_an_entry_whose_id_cannot_be_read_holds_back_every_deletion(world: SyncWorld) -> None:
    world.trigger()
    world.standin.delete_activity("a4")  # truly deleted...
    world.standin.raw_entries = [entry for kind, entry in BROKEN if kind in _UNIDENTIFIED]
    result = world.trigger()  # ...but an unreadable entry might be it: nothing is deleted this time
    assert result["counts"]["deleted"] == 0 and set(world.tiles()) == RIDE_IDS
    world.standin.raw_entries = []
    result = world.trigger()  # the listing is clean again: the deletion goes through
    assert result["counts"]["deleted"] == 1 and set(world.tiles()) == RIDE_IDS - {"a4"}


@pytest.fixture
def big_archive_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_module, "MASS_DELETE_MIN_INDEX", 4)


def _short_first_listing(world: SyncWorld, missing: set[str]) -> dict[str, int]:
    """The first listing pass of the next sync comes back without ``missing`` (a short page)."""
    original = world.standin.list_activities
    passes = {"n": 0}

    def listing(athlete_id: str, oldest: datetime, newest: datetime, limit: int | None) -> list[Any]:
        if newest.year >= 2199:  # each listing pass starts with the future window
            passes["n"] += 1
        page = original(athlete_id, oldest, newest, limit)
        if passes["n"] == 1:
            page = [e for e in page if not (isinstance(e, dict) and e.get("id") in missing)]
        return page

    world.standin.list_activities = listing  # type: ignore[method-assign]
    return passes


def test_a_short_listing_is_confirmed_by_a_second_one_before_deleting(
    world: SyncWorld, big_archive_threshold: None
) -> None:
    world.trigger()
    passes = _short_first_listing(world, {"a2", "a3", "a4"})
    result = world.trigger()
    assert passes["n"] == 2  # listed again to confirm...
    assert result["counts"]["deleted"] == 0 and set(world.tiles()) == RIDE_IDS  # ...and kept


def test_a_large_deletion_both_listings_agree_on_goes_through(
    world: SyncWorld, big_archive_threshold: None
) -> None:
    world.trigger()
    for ride in ("a2", "a3", "a4"):
        world.standin.delete_activity(ride)
    passes = _short_first_listing(world, set())
    result = world.trigger()
    assert passes["n"] == 2 and result["counts"]["deleted"] == 3 and set(world.tiles()) == {"a1"}


def test_rides_dated_in_the_future_or_before_1990_are_listed(world: SyncWorld) -> None:
    world.standin.add_activity(
        ATHLETE, activity_id="f1", fit_bytes=RIDES[0].read_bytes(), start=datetime(2041, 5, 1, tzinfo=UTC)
    )
    world.standin.add_activity(
        ATHLETE, activity_id="e1", fit_bytes=RIDES[1].read_bytes(), start=datetime(1989, 12, 31, tzinfo=UTC)
    )
    world.standin.add_activity(
        ATHLETE, activity_id="u1", fit_bytes=RIDES[2].read_bytes(), start=datetime(1970, 1, 1, tzinfo=UTC)
    )
    assert world.trigger()["status"] == "succeeded"
    assert {"f1", "e1", "u1"} <= set(world.tiles())


# -- 2. failures stay scoped -------------------------------------------------------------------


REFUSALS = {"a1": "403", "a2": "404", "a3": "410"}


def test_each_files_refusal_is_that_activitys_outcome(world: SyncWorld) -> None:
    """403, 404 and 410 on three files in one sync (one sync instead of one per status): each is
    that activity's outcome only, never retried until the activity changes."""
    for activity, status in REFUSALS.items():
        world.standin.faults.inject(rf"/activity/{activity}/file$", status, times=1)
    result = world.trigger()
    assert result["status"] == "succeeded" and set(world.tiles()) == RIDE_IDS - set(REFUSALS)
    index = decode_index(world.blobs.get_bytes(INDEX_KEY) or b"")
    for activity, status in REFUSALS.items():
        entry = index.get(activity)
        assert entry is not None and entry.status is EntryStatus.UNAVAILABLE and status in entry.reason
    downloads = world.downloads()
    assert world.trigger()["counts"]["unchanged"] == 4 and world.downloads() == downloads  # not retried...
    for n, activity in enumerate(sorted(REFUSALS)):
        world.standin.replace_file(activity, RIDES[n].read_bytes())  # ...until the activity changes
    assert world.trigger()["counts"]["downloaded"] == len(REFUSALS) and set(world.tiles()) == RIDE_IDS


def test_403_on_the_listing_fails_the_sync(world: SyncWorld) -> None:
    world.standin.faults.inject(r"/activities$", "403", times=50)
    result = world.trigger()
    assert result["status"] == "failed"
    assert world.states.get(ATHLETE).status is SyncStatus.FAILED  # type: ignore[union-attr]


# -- 3. deadlines --------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(0.0, seconds)


def test_a_429_storm_with_long_retry_after_ends_in_a_checkpoint_before_the_deadline(world: SyncWorld) -> None:
    clock = FakeTime()
    world.standin.retry_after_seconds = 110
    world.standin.faults.inject(r"/activity/.*/file$", "429", times=10_000)

    def client_factory(credentials: Credentials, url: str) -> IntervalsClient:
        limiter = TokenBucket(400.0, burst=20, clock=clock.time, sleep=clock.sleep)
        return IntervalsClient(
            credentials, base_url=url, retry=FAST_RETRY, rate_limiter=limiter, sleep=clock.sleep
        )

    world.deps.client_factory = client_factory
    budget = 90.0  # seconds of (simulated) Lambda time
    world.deps.sync_settings = type(world.deps.sync_settings)(
        workers=4, batch_size=2, download_reserve_seconds=5, publish_reserve_seconds=5
    )
    sync_id = uuid.uuid4().hex
    world.states.acquire(ATHLETE, sync_id, full=False, now=datetime.now(UTC), lease_seconds=600)
    event = {"athlete_id": ATHLETE, "sync_id": sync_id, "full": False}
    result = handle_sync_event(event, FakeContext(lambda: budget - clock.now), world.deps)
    assert result["status"] == "continued"  # checkpointed and re-invoked...
    assert clock.now < budget  # ...without ever sleeping past the deadline (4 x 110 s would)
    record = world.states.get(ATHLETE)
    assert record is not None and record.status is SyncStatus.RUNNING
    assert (
        record.checkpoint is not None and record.checkpoint["leg"] == 1 and not record.checkpoint["claimed"]
    )
    assert result["counts"]["failed"] == 0  # deferred, not failed
    # the storm passes; the next leg finishes the sync
    world.standin.faults.clear()
    world.deps.client_factory = None
    world.deps.client_factory = lambda c, u: IntervalsClient(c, base_url=u, retry=FAST_RETRY)
    final = handle_sync_event(world.invoker.queue.pop(0), FakeContext(), world.deps)
    assert final["status"] == "succeeded" and set(world.tiles()) == RIDE_IDS


class Crash(BaseException):
    """Stands for the runtime killing the process."""


@pytest.mark.parametrize("phase", ["list", "diff", "download", "publish"])
def test_a_kill_in_any_phase_then_retries_exhausted_is_failed_not_running(
    world: SyncWorld, monkeypatch: pytest.MonkeyPatch, phase: str
) -> None:
    targets = {
        "list": (IntervalsClient, "listing"),
        "diff": (sync_module, "read_staged"),
        "download": (IntervalsClient, "download_file"),
        "publish": (tile_parts_module, "build_pmtiles_from_lines"),  # by parts, from the converters' lines
    }
    owner, name = targets[phase]

    def killed(*_args: Any, **_kwargs: Any) -> Any:
        raise Crash()

    monkeypatch.setattr(owner, name, killed)
    sync_id = uuid.uuid4().hex
    world.states.acquire(ATHLETE, sync_id, full=False, now=datetime.now(UTC), lease_seconds=600)
    event = {"athlete_id": ATHLETE, "sync_id": sync_id, "full": False}
    for _ in range(2):  # the first run and Lambda's retry both die
        with pytest.raises(Crash):
            handle_sync_event(event, FakeContext(), world.deps)
        world.deps.clock = lambda: datetime.now(UTC) + timedelta(seconds=120)  # heartbeat stale by the retry
    record = world.states.get(ATHLETE)
    assert record is not None and record.status is SyncStatus.RUNNING
    # Lambda gives up: the on-failure record arrives through the dead-letter queue
    import json

    failure = {
        "version": "1.0",
        "requestContext": {"requestId": "r1", "condition": "RetriesExhausted", "approximateInvokeCount": 2},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
    }
    answer = handle_sync_event(
        {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(failure)}]}, None, world.deps
    )
    assert answer["sync_ids"] == [sync_id]
    record = world.states.get(ATHLETE)
    assert (
        record is not None
        and record.status is SyncStatus.FAILED
        and "retries ran out" in (record.error or "")
    )


def test_a_failure_record_never_touches_a_newer_sync(world: SyncWorld) -> None:
    old = {"athlete_id": ATHLETE, "sync_id": "old", "full": False}
    world.states.acquire(ATHLETE, "new", full=False, now=datetime.now(UTC), lease_seconds=600)
    answer = handle_sync_event(
        {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": old}, None, world.deps
    )
    assert answer["sync_ids"] == []
    assert world.states.get(ATHLETE).status is SyncStatus.QUEUED  # type: ignore[union-attr]


def test_the_sync_status_is_never_running_past_the_lease(world: SyncWorld) -> None:
    now = datetime.now(UTC)
    record = world.states.acquire(ATHLETE, "s1", full=False, now=now, lease_seconds=600)
    assert record.as_seen(now + timedelta(seconds=599)).status is SyncStatus.QUEUED
    seen = record.as_seen(now + timedelta(seconds=601))
    assert seen.status is SyncStatus.FAILED and seen.error and seen.finished_at is not None


def test_a_leg_beats_while_it_runs(world: SyncWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """The heartbeat renews the claim and the lease during a long step (Tippecanoe here)."""
    monkeypatch.setattr(sync_module, "HEARTBEAT_SECONDS", 0.05)
    original = tile_parts_module.build_pmtiles_from_lines
    beats: list[float] = []

    def slow_tiles(*args: Any, **kwargs: Any) -> Any:
        first = world.states.get(ATHLETE).checkpoint["heartbeat_at"]  # type: ignore[index,union-attr]
        for _ in range(100):
            current = world.states.get(ATHLETE).checkpoint["heartbeat_at"]  # type: ignore[index,union-attr]
            if current != first:
                beats.append(current)
                break
            threading.Event().wait(0.02)
        return original(*args, **kwargs)

    monkeypatch.setattr(tile_parts_module, "build_pmtiles_from_lines", slow_tiles)
    assert world.trigger()["status"] == "succeeded"
    assert beats  # the record moved while the main thread was busy tiling
    assert world.states.get(ATHLETE).status is SyncStatus.SUCCEEDED  # type: ignore[union-attr]


# -- 4. short downloads --------------------------------------------------------------------------


def test_a_file_arriving_short_is_retried_and_accepted_on_the_third_sync(world: SyncWorld) -> None:
    counts = []
    for _ in range(3):
        world.standin.faults.inject(r"/activity/a2/file$", "short", times=1)
        result = world.trigger()
        counts.append(result["counts"])
        if len(counts) < 3:
            assert result["counts"]["failed"] == 1 and "a2" not in world.tiles()
    assert counts[2]["failed"] == 0 and "a2" in world.tiles()
    entry = decode_index(world.blobs.get_bytes(INDEX_KEY) or b"").get("a2")
    assert entry is not None and entry.has_track and "partial file accepted after 3" in entry.reason
    assert world.downloads_of("a2") == 3


def test_a_short_arrival_then_a_whole_one_keeps_the_whole_file(world: SyncWorld) -> None:
    world.standin.faults.inject(r"/activity/a2/file$", "short", times=1)
    assert world.trigger()["counts"]["failed"] == 1
    assert world.trigger()["counts"]["failed"] == 0
    entry = decode_index(world.blobs.get_bytes(INDEX_KEY) or b"").get("a2")
    assert entry is not None and entry.has_track and entry.reason == ""
    assert world.blobs.get_bytes(f"athletes/{ATHLETE}/short-downloads.json") is None


# -- 6. index migration ------------------------------------------------------------------------


def test_a_version_1_index_migrates_without_downloading_anything(world: SyncWorld) -> None:
    world.trigger()
    downloads = world.downloads()
    current = decode_index(world.blobs.get_bytes(INDEX_KEY) or b"")
    listing = {
        a.id: a
        for a in IntervalsClient(
            Credentials(api_key="demo-api-key"), base_url=world.standin.base_url
        ).list_activities()
    }
    legacy = ActivityIndex(
        IndexEntry(e.id, listing[e.id].content_hash(), e.status, e.reason) for e in current
    )
    world.blobs.put_bytes(INDEX_KEY, encode_index(legacy, version=1))
    result = world.trigger()
    assert result["counts"]["unchanged"] == 4 and result["counts"]["downloaded"] == 0
    assert world.downloads() == downloads
    migrated = decode_index(world.blobs.get_bytes(INDEX_KEY) or b"")
    assert not any(e.legacy for e in migrated) and set(migrated.ids()) == RIDE_IDS
    world.standin.rename_activity("a1", "After migration")
    assert world.trigger()["counts"]["downloaded"] == 0 and world.tiles()["a1"]["name"] == "After migration"


# -- 7. housekeeping -----------------------------------------------------------------------------


def test_leftovers_of_a_killed_run_are_swept_at_leg_start(world: SyncWorld) -> None:
    import os

    stale = world.deps.workdir / f"ridelines-leg-{os.getpid()}-deadbeef"
    stale.mkdir()
    (stale / "batch-1.features.zst").write_bytes(b"x" * 1000)
    assert world.trigger()["status"] == "succeeded"
    assert not stale.exists()
    assert list(world.deps.workdir.iterdir()) == []  # the leg's own scratch is gone too


def test_staging_markers_are_deleted_before_their_features(world: SyncWorld) -> None:
    from ridelines.pipeline.staging import delete_staging

    order: list[str] = []

    class Recording:
        def delete(self, key: str) -> None:
            order.append(key)

    delete_staging(
        Recording(), ["p/1.features.zst", "p/1.results.json", "p/2.features.zst", "p/2.results.json"]
    )  # type: ignore[arg-type]
    assert order[:2] == ["p/1.results.json", "p/2.results.json"]


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    yield
    assert not [t for t in threading.enumerate() if t.name == "sync-heartbeat" and t.is_alive()]


# -- 5. every format maps ------------------------------------------------------------------------

DATA = RIDES[0].parents[2]


def _archive_features(world: SyncWorld) -> dict[str, dict[str, Any]]:
    import tempfile
    from pathlib import Path

    from ridelines.archive import iter_features

    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "a.zst"
        assert world.blobs.download_file(f"athletes/{ATHLETE}/activities.geojson.zst", local)
        return {f["properties"]["id"]: f for f in iter_features(local)}


def _points(feature: dict[str, Any]) -> list[list[float]]:
    geometry = feature["geometry"]
    lines = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
    return [pt for line in lines for pt in line]


def test_gpx_and_tcx_originals_reach_the_map(world: SyncWorld) -> None:
    world.standin.add_activity(
        ATHLETE,
        activity_id="g1",
        fit_bytes=(DATA / "gpx/garmin-forerunner-10-output.gpx").read_bytes(),
        file_format="gpx",
        type="Run",
        start=datetime(2013, 6, 13, 3, 56, 35, tzinfo=UTC),
    )
    world.standin.add_activity(
        ATHLETE,
        activity_id="t1",
        fit_bytes=(DATA / "tcx/python-tcxparser-no_hr-excerpt.tcx").read_bytes(),
        file_format="tcx",
        type="Run",
        start=datetime(2012, 12, 26, 21, 29, 53, tzinfo=UTC),
    )
    world.standin.add_activity(
        ATHLETE,
        activity_id="x1",
        fit_bytes=b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "b">]><gpx>&a;</gpx>',
        file_format="gpx",
        start=datetime(2015, 1, 1, tzinfo=UTC),
    )
    result = world.trigger()
    assert result["status"] == "succeeded"
    tiles = world.tiles()
    assert {"g1", "t1"} <= set(tiles) and "x1" not in tiles
    features = _archive_features(world)
    assert features["g1"]["geometry"]["type"] == "MultiLineString"
    assert len(features["g1"]["geometry"]["coordinates"]) == 7  # the Forerunner's 6 pauses
    entry = decode_index(world.blobs.get_bytes(INDEX_KEY) or b"").get("x1")
    assert entry is not None and entry.status is EntryStatus.UNDECODABLE and "DOCTYPE" in entry.reason


MULTISPORT = DATA / "fit/python-fitparse/activity-large-fenxi2-multisport.fit"


def test_a_multisport_file_split_into_two_activities_gives_each_its_own_part(world: SyncWorld) -> None:
    data = MULTISPORT.read_bytes()
    world.standin.add_activity(ATHLETE, activity_id="ms-run", fit_bytes=data, type="Run", file_sport_index=2)
    world.standin.add_activity(
        ATHLETE, activity_id="ms-bike", fit_bytes=data, type="Ride", file_sport_index=6
    )
    world.standin.add_activity(ATHLETE, activity_id="ms-whole", fit_bytes=data, type="Multisport")
    assert world.trigger()["status"] == "succeeded"
    features = _archive_features(world)
    run, bike, whole = (_points(features[i]) for i in ("ms-run", "ms-bike", "ms-whole"))
    assert run and bike and len(run) < len(whole) and len(bike) < len(whole)
    assert not {tuple(p[:2]) for p in run} & {tuple(p[:2]) for p in bike}  # no shared part
    assert (
        features["ms-run"]["properties"]["type"] == "Run"
        and features["ms-bike"]["properties"]["type"] == "Ride"
    )


def test_a_crop_in_intervals_downloads_again_and_narrows_the_track(world: SyncWorld) -> None:
    ride = DATA / "fit/gpsbabel/track/wahoo-element-bolt.fit"
    world.standin.add_activity(ATHLETE, activity_id="c1", fit_bytes=ride.read_bytes())
    world.trigger()
    before = len(_points(_archive_features(world)["c1"]))
    elapsed = world.standin.activities["c1"].elapsed_s
    assert elapsed
    world.standin.crop_activity("c1", start_offset_s=elapsed // 3, elapsed_s=elapsed // 3)
    result = world.trigger()
    assert result["counts"]["changed"] == 1 and world.downloads_of("c1") == 2  # file identity changed
    after = len(_points(_archive_features(world)["c1"]))
    assert 0 < after < before
