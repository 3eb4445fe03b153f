"""The sync Lambda end to end: moto for AWS, the real local HTTP stand-in for intervals.icu."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ridelines import tile_parts
from ridelines.archive import iter_features
from ridelines.errors import SyncInProgress
from ridelines.index import EntryStatus, decode_index
from ridelines.models import SyncStatus
from ridelines.pipeline.lambda_entry import handle_sync_event
from ridelines.publish import TILES_CACHE_CONTROL
from tests.support.blobs import WriteRecorder

from .conftest import ATHLETE, BUCKET, FIT_DIR, RIDES, FakeContext, SyncWorld

INDEX_KEY = f"athletes/{ATHLETE}/activities.index"
ARCHIVE_KEY = f"athletes/{ATHLETE}/activities.geojson.zst"
RIDE_IDS = {f"a{n}" for n in range(1, len(RIDES) + 1)}


def stored(world: SyncWorld) -> dict[str, bytes | None]:
    user = world.users.get(ATHLETE)
    return {
        "index": world.blobs.get_bytes(INDEX_KEY),
        "archive": world.blobs.get_bytes(ARCHIVE_KEY),
        "tiles_key": (user.tiles_key or "").encode() if user else None,
    }


def test_first_sync_builds_and_publishes_the_map(world: SyncWorld) -> None:
    result = world.trigger()
    assert result["status"] == "succeeded"
    assert result["counts"] == {
        "listed": 6,
        "new": 4,
        "changed": 0,
        "deleted": 0,
        "unchanged": 0,
        "downloaded": 4,
        "skipped": 2,
        "failed": 0,
    }
    assert world.downloads() == 4  # the Strava stub and the manual entry are never fetched
    assert set(world.tiles()) == RIDE_IDS
    user = world.users.get(ATHLETE)
    assert user is not None and user.tiles_key and user.tiles_key.startswith(f"tiles/{ATHLETE}/")
    import boto3

    head = boto3.client("s3").head_object(Bucket=BUCKET, Key=user.tiles_key)
    assert head["CacheControl"] == TILES_CACHE_CONTROL == "public, max-age=31536000, immutable"
    assert head["ContentType"] == "application/vnd.pmtiles"
    index = decode_index(world.blobs.get_bytes(INDEX_KEY) or b"")
    assert set(index.ids()) == RIDE_IDS and all(e.has_track for e in index)
    record = world.states.get(ATHLETE)
    assert record is not None and record.status is SyncStatus.SUCCEEDED and record.phase.value == "done"
    assert record.finished_at is not None and record.counts.downloaded == 4
    assert user.last_sync and user.last_sync["status"] == "succeeded"
    assert list(world.blobs.list_keys(f"athletes/{ATHLETE}/staging/")) == []  # staging cleaned up


def test_the_map_is_tiled_from_the_converters_lines_without_parsing_the_archive(
    world: SyncWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ride a sync converts reaches Tippecanoe as the line its converter made (no privacy
    zones): the parts never parse and thin an archive line again."""

    def parsed_again(feature: Any, **_kwargs: Any) -> bytes:
        raise AssertionError(f"archive line of {feature['properties']['id']} parsed for the tiles")

    monkeypatch.setattr(tile_parts, "drawn_tile_line", parsed_again)
    result = world.trigger()
    assert result["status"] == "succeeded"
    assert set(world.tiles()) == RIDE_IDS


def test_no_change_resync_downloads_uploads_and_invalidates_nothing(world: SyncWorld) -> None:
    world.trigger()
    before, downloads = stored(world), world.downloads()
    keys = sorted(world.blobs.list_keys(""))
    recorder = WriteRecorder(world.deps.blobs)
    world.deps.blobs = recorder
    result = world.trigger()
    assert recorder.writes == []  # not even identical bytes are uploaded again
    assert result["status"] == "succeeded"
    assert result["counts"]["unchanged"] == 4 and result["counts"]["downloaded"] == 0
    assert world.downloads() == downloads
    assert stored(world) == before and sorted(world.blobs.list_keys("")) == keys


def test_rename_and_type_change_download_nothing_and_reach_the_map(world: SyncWorld) -> None:
    world.trigger()
    first_key = world.users.get(ATHLETE).tiles_key  # type: ignore[union-attr]
    downloads = world.downloads()
    world.standin.rename_activity("a2", "Sunday loop")
    world.standin.set_activity_type("a3", "GravelRide")
    result = world.trigger()
    assert result["counts"]["changed"] == 2 and result["counts"]["downloaded"] == 0
    assert world.downloads() == downloads  # metadata alone: rewritten from the listing
    tiles = world.tiles()
    assert tiles["a2"]["name"] == "Sunday loop" and tiles["a3"]["type"] == "GravelRide"
    # the old tiles object is gone; its new key needs no CloudFront invalidation (ridelines.publish)
    assert not world.blobs.exists(first_key)  # type: ignore[arg-type]

    world.standin.edit_activity("a1", trainer=True, moving_s=1234, elevation_gain_m=321.0)
    result = world.trigger()
    assert result["counts"]["changed"] == 1 and world.downloads() == downloads
    features = {f["properties"]["id"]: f["properties"] for f in iter_features_of(world)}
    assert features["a1"]["trainer"] is True and features["a1"]["moving_s"] == 1234
    assert features["a1"]["elevation_gain_m"] == 321.0

    # a changed file (re-upload) is downloaded again
    world.standin.replace_file("a4", RIDES[0].read_bytes())
    result = world.trigger()
    assert result["counts"]["changed"] == 1 and result["counts"]["downloaded"] == 1
    assert world.downloads_of("a4") == 2


def iter_features_of(world: SyncWorld) -> list[dict[str, Any]]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "a.zst"
        assert world.blobs.download_file(ARCHIVE_KEY, local)
        return list(iter_features(local))


def test_deleted_ride_disappears_from_the_tiles(world: SyncWorld) -> None:
    world.trigger()
    assert "a1" in world.tiles()
    world.standin.delete_activity("a1")
    result = world.trigger()
    assert result["counts"]["deleted"] == 1 and result["counts"]["downloaded"] == 0
    assert set(world.tiles()) == RIDE_IDS - {"a1"}
    assert "a1" not in decode_index(world.blobs.get_bytes(INDEX_KEY) or b"")
    archive_ids = {f["properties"]["id"] for f in _archive_features(world)}
    assert archive_ids == RIDE_IDS - {"a1"}


def _archive_features(world: SyncWorld) -> list[dict]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.zst"
        assert world.blobs.download_file(ARCHIVE_KEY, path)
        return list(iter_features(path))


def test_zero_activities_publish_an_empty_map_not_a_stale_one(world: SyncWorld) -> None:
    world.trigger()
    for activity_id in RIDE_IDS:
        world.standin.delete_activity(activity_id)
    result = world.trigger()
    assert result["status"] == "succeeded" and result["counts"]["deleted"] == 4
    assert world.tiles() == {}


def test_timeout_mid_sync_checkpoints_and_the_next_leg_finishes(world: SyncWorld) -> None:
    # remaining time drops below the reserve after two downloads: the leg must hand off
    context = FakeContext(lambda: 900.0 if world.downloads() < 2 else 5.0)
    result = world.trigger(context=context, drain=False)
    assert result["status"] == "continued"
    assert len(world.invoker.payloads) == 1
    checkpoint = world.invoker.payloads[0]["checkpoint"]
    assert checkpoint["leg"] == 1 and checkpoint["downloaded"] >= 2
    record = world.states.get(ATHLETE)
    assert record is not None and record.status is SyncStatus.RUNNING and record.checkpoint
    assert world.users.get(ATHLETE).tiles_key is None  # type: ignore[union-attr]  # nothing published yet
    # the next leg runs in-process (the invoker's payload, like Lambda would deliver it)
    while world.invoker.queue:
        result = handle_sync_event(world.invoker.queue.pop(0), FakeContext(), world.deps)
    assert result["status"] == "succeeded"
    assert set(world.tiles()) == RIDE_IDS
    assert all(world.downloads_of(a) == 1 for a in RIDE_IDS)  # nothing fetched twice
    assert result["counts"]["downloaded"] == 4


def test_duplicate_delivery_of_a_leg_is_ignored(world: SyncWorld) -> None:
    context = FakeContext(lambda: 900.0 if world.downloads() < 1 else 5.0)
    world.trigger(context=context, drain=False)
    event = world.invoker.queue.pop(0)
    assert handle_sync_event(event, FakeContext(), world.deps)["status"] == "succeeded"
    downloads = world.downloads()
    assert handle_sync_event(event, FakeContext(), world.deps)["status"] == "skipped"
    assert world.downloads() == downloads


class Crash(BaseException):
    """Stands for the Lambda runtime killing the process mid-download."""


@contextlib.contextmanager
def killed_at_third_download(world: SyncWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One download at a time, one ride per batch; the 'runtime' kills the leg at the third
    download, so exactly two batches are committed. Downloads work again afterwards."""
    from ridelines.intervals.client import IntervalsClient

    original = IntervalsClient.download_file
    calls = {"n": 0}

    def crashing(self: IntervalsClient, activity_id: str):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash()
        return original(self, activity_id)

    world.deps.sync_settings = type(world.deps.sync_settings)(workers=1, batch_size=1)
    monkeypatch.setattr(IntervalsClient, "download_file", crashing)
    with pytest.raises(Crash):
        yield
    monkeypatch.setattr(IntervalsClient, "download_file", original)


def test_crash_mid_sync_loses_nothing_and_refetches_nothing(
    world: SyncWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    with killed_at_third_download(world, monkeypatch):
        world.trigger()
    staged = list(world.blobs.list_keys(f"athletes/{ATHLETE}/staging/"))
    assert len(staged) == 4  # two committed batches (features + results marker each)
    assert world.blobs.get_bytes(INDEX_KEY) is None  # the index never advanced past stored work
    # the crashed sync's lease is still held; once it expires the rider syncs again
    record = world.states.get(ATHLETE)
    world.states.save(
        record.model_copy(update={"lease_expires_at": datetime.now(UTC) - timedelta(seconds=1)})
    )  # type: ignore[union-attr]
    result = world.trigger()
    assert result["status"] == "succeeded" and result["counts"]["downloaded"] == 2
    assert set(world.tiles()) == RIDE_IDS
    assert all(world.downloads_of(a) == 1 for a in RIDE_IDS)


def test_two_triggers_at_once_one_runs(world: SyncWorld) -> None:
    """The lease is one conditional PutItem: DynamoDB serializes two at once, so one of them sees the
    other's row. moto's in-process backend does not serialize threads (a threaded race here let
    both through now and then), so the two triggers arrive one after the other."""
    now = datetime.now(UTC)
    outcomes: list[str] = []
    for sync_id in ("s0", "s1"):
        try:
            world.states.acquire(ATHLETE, sync_id, full=False, now=now, lease_seconds=600)
            outcomes.append(sync_id)
        except SyncInProgress:
            outcomes.append("busy")
    assert outcomes == ["s0", "busy"]
    winner = next(o for o in outcomes if o != "busy")
    loser = "s1" if winner == "s0" else "s0"
    # an event for the losing trigger does nothing; the winner's runs
    assert (
        handle_sync_event({"athlete_id": ATHLETE, "sync_id": loser}, FakeContext(), world.deps)["status"]
        == "skipped"
    )
    assert world.downloads() == 0
    assert (
        handle_sync_event({"athlete_id": ATHLETE, "sync_id": winner}, FakeContext(), world.deps)["status"]
        == "succeeded"
    )


@pytest.mark.parametrize("kind", ["401", "403"])
def test_auth_failure_leaves_the_existing_map_untouched(world: SyncWorld, kind: str) -> None:
    world.trigger()
    before = stored(world)
    world.standin.rename_activity("a1", "would change the map")
    world.standin.faults.inject(r"/api/v1/athlete/.*/activities", kind, times=1)
    result = world.trigger()
    assert result["status"] == "failed"
    assert "log in again" in result["error"]
    assert stored(world) == before
    record = world.states.get(ATHLETE)
    assert record is not None and record.status is SyncStatus.FAILED and record.error


def test_revoked_token_mid_download_fails_cleanly(world: SyncWorld) -> None:
    world.standin.faults.inject(r"/api/v1/activity/a2/file", "401", times=1)
    result = world.trigger()
    assert result["status"] == "failed"
    assert world.blobs.get_bytes(INDEX_KEY) is None and world.blobs.get_bytes(ARCHIVE_KEY) is None
    # a first sync may have published an early map before the 401: only rides that arrived whole
    early = set(world.tiles()) if world.users.get(ATHLETE).tiles_key else set()  # type: ignore[union-attr]
    assert "a2" not in early and early <= {i for i in RIDE_IDS if world.downloads_of(i)}


@pytest.mark.parametrize("kind", ["500", "503", "429", "reset", "truncate"])
def test_transient_faults_are_retried(world: SyncWorld, kind: str) -> None:
    world.standin.faults.inject(r"/api/v1/activity/a1/file", kind, times=2)
    world.standin.faults.inject(r"/api/v1/athlete/.*/activities", kind, times=1)
    result = world.trigger()
    assert result["status"] == "succeeded"
    assert result["counts"]["failed"] == 0 and result["counts"]["downloaded"] == 4
    assert set(world.tiles()) == RIDE_IDS


def test_persistent_failure_is_counted_and_retried_next_sync(world: SyncWorld) -> None:
    world.standin.faults.inject(r"/api/v1/activity/a1/file", "500", times=50)
    result = world.trigger()
    assert result["status"] == "succeeded"
    assert result["counts"]["failed"] == 1 and result["counts"]["downloaded"] == 3
    assert set(world.tiles()) == RIDE_IDS - {"a1"}
    world.standin.faults.clear()
    result = world.trigger()
    assert result["counts"]["new"] == 1 and result["counts"]["downloaded"] == 1
    assert set(world.tiles()) == RIDE_IDS


def test_undecodable_files_are_recorded_and_not_fetched_again(world: SyncWorld) -> None:
    broken = (FIT_DIR / "python-fitparse/activity-filecrc.fit").read_bytes()  # a CRC mismatch
    world.standin.add_activity(
        ATHLETE,
        activity_id="b1",
        fit_bytes=broken,
        name="Broken",
        type="Ride",
        start=datetime(2024, 5, 1, tzinfo=UTC),
    )
    result = world.trigger()
    assert result["status"] == "succeeded" and result["counts"]["skipped"] == 3
    entry = decode_index(world.blobs.get_bytes(INDEX_KEY) or b"").get("b1")
    assert entry is not None and entry.status is EntryStatus.UNDECODABLE and entry.reason
    world.trigger()
    assert world.downloads_of("b1") == 1


def test_corrupt_index_means_a_full_sync_not_a_crash(world: SyncWorld) -> None:
    world.trigger()
    world.blobs.put_bytes(INDEX_KEY, b"RLINDEX\x00garbage")
    result = world.trigger()
    assert result["status"] == "succeeded" and result["counts"]["new"] == 4
    assert set(world.tiles()) == RIDE_IDS
    assert len(decode_index(world.blobs.get_bytes(INDEX_KEY) or b"")) == 4


def test_full_sync_refetches_everything(world: SyncWorld) -> None:
    world.trigger()
    result = world.trigger(full=True)
    assert result["counts"]["downloaded"] == 4 and all(world.downloads_of(a) == 2 for a in RIDE_IDS)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"athlete_id": "../x", "sync_id": "s"},
        {"athlete_id": ATHLETE},
        {"athlete_id": ATHLETE, "sync_id": "s", "surprise": 1},
    ],
)
def test_bad_event_is_rejected_and_nothing_stored(world: SyncWorld, event: dict) -> None:
    result = handle_sync_event(event, FakeContext(), world.deps)
    assert result["status"] == "rejected" and result["error"] == "invalid_input"
    assert list(world.blobs.list_keys("")) == [] and world.states.get(ATHLETE) is None
    assert world.standin.requests == []


def test_every_log_line_carries_athlete_sync_and_phase(world: SyncWorld) -> None:
    import io
    import json

    from ridelines.pipeline.lambda_entry import logger

    handler = logger.handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        world.standin.faults.inject(r"/api/v1/activity/a1/file", "500", times=50)  # warnings too
        world.trigger()
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith('{"level"')]
    assert len(lines) >= 5
    for line in lines:
        assert line["athlete_id"] == ATHLETE and line["sync_id"] and line["phase"], line
    assert {line["phase"] for line in lines} >= {"list", "download", "publish"}
    assert any(line["level"] == "WARNING" and "a1" in line["message"] for line in lines)
    assert not any("Bearer" in line["message"] for line in lines)


def test_a_leg_without_time_to_publish_hands_publishing_to_the_next(world: SyncWorld) -> None:
    # enough time to download everything, not enough left to publish (reserve 180 s)
    context = FakeContext(lambda: 900.0 if world.downloads() < 4 else 100.0)
    result = world.trigger(context=context, drain=False)
    assert result["status"] == "continued"
    assert world.invoker.payloads[-1]["checkpoint"]["phase"] == "publish"
    result = handle_sync_event(world.invoker.queue.pop(0), FakeContext(lambda: 100.0), world.deps)
    assert result["status"] == "succeeded" and result["counts"]["downloaded"] == 4
    assert set(world.tiles()) == RIDE_IDS and world.downloads() == 4


def test_malformed_checkpoint_is_a_rejected_event(world: SyncWorld) -> None:
    event = {"athlete_id": ATHLETE, "sync_id": "s1", "checkpoint": {"leg": -3, "phase": "explode"}}
    result = handle_sync_event(event, FakeContext(), world.deps)
    assert result["status"] == "rejected" and world.standin.requests == []


def test_composition_from_the_stack_environment(world: SyncWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from ridelines.adapters.aws.invoker import LambdaSyncInvoker
    from ridelines.adapters.aws.s3 import S3BlobStore
    from ridelines.adapters.aws.sync_state import DynamoSyncStateRepository
    from ridelines.pipeline.lambda_entry import SyncDeps

    for name, value in {
        "SYNC_TABLE_NAME": "syncs",
        "USERS_TABLE_NAME": "users",
        "S3_BUCKET": BUCKET,
        "TOKEN_KMS_KEY_ID": world.kms_key_id,
        "AWS_LAMBDA_FUNCTION_NAME": "ridelines-sync",
        "INTERVALS_URL": world.standin.base_url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CLOUDFRONT_DISTRIBUTION_ID", raising=False)
    deps = SyncDeps.from_environment()
    assert isinstance(deps.states, DynamoSyncStateRepository) and isinstance(deps.blobs, S3BlobStore)
    assert isinstance(deps.invoker, LambdaSyncInvoker) and deps.invoker.function_name == "ridelines-sync"
    # publishing invalidates nothing (content-hashed keys): the sync holds no CDN client at all
    assert not [name for name, dep in vars(deps).items() if hasattr(dep, "invalidate")]
    assert deps.intervals_url == world.standin.base_url
    # the real composition syncs too (default client, no test overrides but the invoker)
    deps = SyncDeps.from_environment(invoker=world.invoker, workdir=world.deps.workdir)
    world.deps = deps
    assert world.trigger()["status"] == "succeeded"
    assert set(world.tiles()) == RIDE_IDS


def test_metrics_of_the_issue_are_emitted_as_emf(
    world: SyncWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    world.trigger()
    world.standin.replace_file("a1", RIDES[1].read_bytes())  # a re-upload: one download, new tiles
    capsys.readouterr()
    assert world.trigger()["status"] == "succeeded"
    emitted: dict[str, object] = {}
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blob = json.loads(line)
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                assert directive["Namespace"] == "Ridelines"
                for metric in directive["Metrics"]:
                    value = blob[metric["Name"]]
                    emitted[metric["Name"]] = sum(value) if isinstance(value, list) else value
    assert {
        "sync.activities.downloaded",
        "sync.activities.processed",
        "sync.tiles.generated",
        "sync.duration.total",
        "sync.s3.upload.duration",
    } <= set(emitted), emitted
    assert "cloudfront.invalidation.duration" not in emitted  # nothing is invalidated on publish
    assert emitted["sync.activities.downloaded"] == 1 and emitted["sync.activities.processed"] == 1
    assert emitted["sync.tiles.generated"] == 1


@pytest.mark.parametrize("batches", [False, True], ids=["per-file", "batches"])
def test_all_concurrent_downloads_share_one_rate_limiter(world: SyncWorld, batches: bool) -> None:
    from ridelines.intervals import Credentials, IntervalsClient, TokenBucket

    limiters: list[TokenBucket] = []
    threads: set[str] = set()
    clients: list[IntervalsClient] = []

    counted = threading.Lock()

    class Counting(TokenBucket):
        calls = 0

        def acquire(self, max_wait: float | None = None) -> bool:
            with counted:
                threads.add(threading.current_thread().name)
                Counting.calls += 1
            return super().acquire(max_wait)

    def factory(credentials: Credentials, url: str) -> IntervalsClient:
        limiter = Counting(400.0, burst=20)
        limiters.append(limiter)
        client = IntervalsClient(credentials, base_url=url, rate_limiter=limiter)
        clients.append(client)
        return client

    world.deps.client_factory = factory
    world.deps.sync_settings = type(world.deps.sync_settings)(
        workers=4, batch_size=2, batch_downloads=batches
    )
    for n in range(12):  # enough downloads for the pool to run several at once
        world.standin.add_activity(
            ATHLETE,
            activity_id=f"c{n}",
            fit_bytes=RIDES[n % len(RIDES)].read_bytes(),
            name=f"Ride {n}",
            type="Ride",
            start=datetime(2023, 1, 1 + n, tzinfo=UTC),
        )
    assert world.trigger()["status"] == "succeeded"
    assert len(limiters) == 1  # one client (so one limiter) for the whole leg...
    if batches:  # ...used by the batch prefetcher too (download-fit-files)
        assert world.standin.count("POST", "/api/v1/athlete/") >= 1 and world.downloads() == 0
    else:  # ...used from several download threads at once
        assert sum(1 for t in threads if t.startswith("sync-download")) >= 2
    assert Counting.calls == clients[0].requests_made == len(world.standin.requests)  # every request paid


# -- duplicate deliveries and Lambda's retries of a leg ----------------------------------------


def _start(world: SyncWorld) -> dict[str, Any]:
    import uuid

    sync_id = uuid.uuid4().hex
    world.states.acquire(ATHLETE, sync_id, full=False, now=datetime.now(UTC), lease_seconds=600)
    return {"athlete_id": ATHLETE, "sync_id": sync_id, "full": False}


def _killed_after_two_downloads(
    world: SyncWorld, monkeypatch: pytest.MonkeyPatch, event: dict, context: Any
) -> None:
    """Run the leg until the runtime 'kills' it at the third download (two batches committed)."""
    with killed_at_third_download(world, monkeypatch):
        handle_sync_event(event, context, world.deps)
    record = world.states.get(ATHLETE)
    assert record is not None and record.status is SyncStatus.RUNNING and record.checkpoint["claimed"]  # type: ignore[index]


def test_lambda_retry_of_a_killed_leg_resumes_from_staging(
    world: SyncWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, context = _start(world), FakeContext()
    _killed_after_two_downloads(world, monkeypatch, event, context)
    downloads = world.downloads()
    # the same request id while the claimant's heartbeat is fresh: a duplicate delivery, not a retry
    assert handle_sync_event(event, context, world.deps)["status"] == "skipped"
    assert world.downloads() == downloads
    # Lambda retries the failed async event a minute or more later: same event, same request id,
    # and the dead run's heartbeat is stale by then
    world.deps.clock = lambda: datetime.now(UTC) + timedelta(seconds=90)
    result = handle_sync_event(event, context, world.deps)
    assert result["status"] == "succeeded" and result["counts"]["downloaded"] == 4
    assert set(world.tiles()) == RIDE_IDS
    assert all(world.downloads_of(a) == 1 for a in RIDE_IDS)  # the staged work was reused
    assert world.states.get(ATHLETE).status is SyncStatus.SUCCEEDED  # type: ignore[union-attr]


def test_a_duplicate_is_ignored_while_the_claimant_may_run_then_resumes_past_its_deadline(
    world: SyncWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _start(world)
    _killed_after_two_downloads(world, monkeypatch, event, FakeContext())
    downloads = world.downloads()
    # another delivery (another request id) while the claimant's deadline has not passed: it may be alive
    assert handle_sync_event(event, FakeContext(), world.deps)["status"] == "skipped"
    assert world.downloads() == downloads
    # once its deadline (900 s of remaining time + slack) is behind us it cannot be running any more
    world.deps.clock = lambda: datetime.now(UTC) + timedelta(seconds=1000)
    result = handle_sync_event(event, FakeContext(), world.deps)
    assert result["status"] == "succeeded" and set(world.tiles()) == RIDE_IDS
    assert all(world.downloads_of(a) == 1 for a in RIDE_IDS)


def test_two_deliveries_racing_for_one_leg_claim_it_once(world: SyncWorld) -> None:
    """Both read the record before either claims: the compare-and-swap lets exactly one run."""
    barrier = threading.Barrier(2)
    inner = world.deps.states
    reads = {"n": 0}
    lock = threading.Lock()

    class RacyStates:
        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

        def get(self, athlete_id: str) -> Any:
            record = inner.get(athlete_id)
            with lock:
                reads["n"] += 1
                first_two = reads["n"] <= 2
            if first_two:
                barrier.wait(timeout=30)
            return record

    world.deps.states = RacyStates()  # type: ignore[assignment]
    event = _start(world)
    results: list[str] = []

    def deliver() -> None:
        results.append(handle_sync_event(dict(event), FakeContext(), world.deps)["status"])

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["skipped", "succeeded"]
    assert all(world.downloads_of(a) == 1 for a in RIDE_IDS)


def test_a_stale_event_of_an_earlier_leg_is_ignored(world: SyncWorld) -> None:
    event = _start(world)
    context = FakeContext(lambda: 900.0 if world.downloads() < 1 else 5.0)
    assert handle_sync_event(event, context, world.deps)["status"] == "continued"
    downloads = world.downloads()
    # the first leg's event arrives again after it handed off to leg 1
    assert handle_sync_event(event, FakeContext(), world.deps)["status"] == "skipped"
    assert world.downloads() == downloads
    result = handle_sync_event(world.invoker.queue.pop(0), FakeContext(), world.deps)
    assert result["status"] == "succeeded" and all(world.downloads_of(a) == 1 for a in RIDE_IDS)


def test_status_phase_and_counts_are_stored_as_the_sync_goes(world: SyncWorld) -> None:
    """What GET /api/sync shows mid-sync: each phase in turn and the downloads counting up."""
    inner = world.deps.states
    saved: list[Any] = []

    class Recording:
        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

        def save(self, record: Any) -> None:
            inner.save(record)
            saved.append(record)

    world.deps.states = Recording()  # type: ignore[assignment]
    world.deps.sync_settings = type(world.deps.sync_settings)(workers=1, batch_size=1)
    assert world.trigger()["status"] == "succeeded"
    phases = [r.phase.value for r in saved]
    assert [p for n, p in enumerate(phases) if n == 0 or phases[n - 1] != p] == [
        "list",
        "diff",
        "download",
        "publish",
        "done",
    ]
    assert (
        all(r.status is SyncStatus.RUNNING for r in saved[:-1]) and saved[-1].status is SyncStatus.SUCCEEDED
    )
    during = [r.counts.downloaded for r in saved if r.phase.value == "download"]
    assert during == sorted(during) and {1, 2, 3} <= set(during)  # committed work shows up at once
    assert saved[0].counts.listed == 0 and saved[1].counts.listed == 6
