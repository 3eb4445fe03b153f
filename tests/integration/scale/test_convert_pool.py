"""Conversion in worker processes (``SyncSettings.convert_processes``) gives exactly what the
download threads give, on real files (FIT from many devices, a multisport file split into two
activities, a file cut short, GPX, TCX, bytes that are no FIT file); a dead worker or a pool that
cannot start (Lambda: no /dev/shm) never loses a ride: conversion goes on in the threads."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import signal
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ridelines import archive, data_products, tiling
from ridelines.adapters.local import FileBlobStore
from ridelines.adapters.memory import MemorySyncStateRepository
from ridelines.archive import encode_feature, iter_lines, line_activity_id
from ridelines.errors import FitDecodeError
from ridelines.features import ActivityMeta, decode_track, feature_from_track
from ridelines.index import ActivityIndex, EntryStatus, decode_index
from ridelines.intervals import Credentials, IntervalsClient, TokenBucket
from ridelines.models import SyncRequest
from ridelines.pipeline import convert_pool, sync
from ridelines.pipeline.convert_pool import Converter, ConvertError, ConvertRequest, FileKind, convert
from ridelines.pipeline.sync import LegResult, LegStatus, SyncJob, SyncLayout, SyncSettings, run_leg
from ridelines.publish import FileTilesPublisher
from ridelines.selection import ActivityWindow
from ridelines_local.standin.intervals import IntervalsStandin

DATA = Path(__file__).resolve().parents[2] / "data"
FIT = DATA / "fit"
BIKES = [
    FIT / "python-fitparse/garmin-fenix-5-bike.fit",
    FIT / "python-fitparse/garmin-edge-820-bike.fit",
    FIT / "gpsbabel/track/wahoo-element-bolt.fit",
]
MULTISPORT = FIT / "python-fitparse/activity-large-fenxi2-multisport.fit"
RUN_LEG, BIKE_LEG = 2, 6  # session indexes of the multisport file's run and bike
GPX = DATA / "gpx/garmin-forerunner-10-output.gpx"
TCX = DATA / "tcx/python-tcxparser-no_hr-excerpt.tcx"
ATHLETE = "i77"


def cut_short(path: Path) -> bytes:
    """A real ride cut at 70 %: the decoder keeps the part before the break and says so."""
    data = path.read_bytes()
    return data[: len(data) * 7 // 10]


def junk() -> bytes:
    """A real FIT header over bytes that are no FIT data: the decoder refuses it."""
    return BIKES[0].read_bytes()[:14] + b"\xff" * 64


def request(kind: FileKind, data: bytes, name: str, window: ActivityWindow | None = None) -> ConvertRequest:
    meta = ActivityMeta(id=name, name=f"Ride {name}", type="Ride", start=datetime(2020, 1, 1, tzinfo=UTC))
    return ConvertRequest(kind, data, f"activity {name}", window or ActivityWindow(), meta, name)


def real_requests() -> list[ConvertRequest]:
    return [
        *(request(FileKind.FIT, p.read_bytes(), p.stem) for p in BIKES),
        request(FileKind.FIT, MULTISPORT.read_bytes(), "ms-bike", ActivityWindow(file_sport_index=BIKE_LEG)),
        request(FileKind.FIT, MULTISPORT.read_bytes(), "ms-run", ActivityWindow(file_sport_index=RUN_LEG)),
        request(FileKind.FIT, cut_short(BIKES[1]), "short"),
        request(FileKind.TRACK_FILE, GPX.read_bytes(), "gpx"),
        request(FileKind.TRACK_FILE, TCX.read_bytes(), "tcx"),
        request(FileKind.FIT, junk(), "junk"),
    ]


def lines(results: list[convert_pool.Converted]) -> list[bytes | None]:
    return [r.line for r in results]


@pytest.fixture(scope="module")
def in_thread() -> list[convert_pool.Converted]:
    return [convert(r) for r in real_requests()]


def test_the_pool_gives_byte_identical_archive_lines(in_thread: list[convert_pool.Converted]) -> None:
    with Converter(2) as converter:
        assert converter.pooled
        pooled = [converter.convert(r) for r in real_requests()]
        assert converter.in_pool == len(pooled) and converter.fallbacks == 0
    assert lines(pooled) == lines(in_thread)
    assert pooled == in_thread  # truncation, reasons and errors too
    by_name = dict(zip([r.default_id for r in real_requests()], pooled, strict=True))
    assert by_name["short"].truncated and by_name["short"].line is not None
    assert by_name["junk"].error is ConvertError.UNDECODABLE and by_name["junk"].line is None
    assert all(by_name[n].line is not None for n in ("ms-bike", "ms-run", "gpx", "tcx"))


def test_the_pool_gives_what_the_converter_gave_before_it(in_thread: list[convert_pool.Converted]) -> None:
    """The per-ride path the download threads ran before this module: decode, then the feature."""
    for req, result in zip(real_requests(), in_thread, strict=True):
        if req.kind is not FileKind.FIT:
            continue
        try:
            decoded = decode_track(req.data, req.source, window=req.window)
        except FitDecodeError as exc:
            assert result.error is ConvertError.UNDECODABLE and result.error_reason == exc.message
            continue
        assert result.truncated == decoded.activity.truncated
        expected = (
            feature_from_track(decoded, req.meta, default_id=req.default_id) if decoded.has_track else None
        )
        assert (None if expected is None else encode_feature(expected)) == lines([result])[0]


def test_a_track_comes_back_as_its_archive_line_its_data_products_and_its_tile_line(
    in_thread: list[convert_pool.Converted],
) -> None:
    """The converter encodes the line, walks the track and encodes it for Tippecanoe while it
    holds the feature; what it gives is exactly what the final pass would compute from the stored
    line (so reusing it by the line's hash changes no byte of the rides list, the explorer layer or
    Tippecanoe's input)."""
    tracks = [r for r in in_thread if r.line is not None]
    assert len(tracks) == 8
    for req, result in zip(real_requests(), in_thread, strict=True):
        if result.line is None:
            assert result.products is None
            continue
        assert line_activity_id(result.line) == req.default_id
        assert result.products is not None
        digest, products = result.products
        assert digest == archive.line_hash(result.line)
        entry, tiles = products
        assert products == data_products.ride_products(json.loads(result.line), include_virtual=False)
        assert entry is not None and entry["id"] == req.default_id and entry["bbox"] and tiles
        assert result.tile_line and result.tile_line == tiling.tile_line(json.loads(result.line))


def test_a_dead_worker_falls_back_to_converting_in_the_thread(
    in_thread: list[convert_pool.Converted],
) -> None:
    with Converter(2) as converter:
        assert converter.convert(real_requests()[0]) == in_thread[0]  # the workers are up
        workers = multiprocessing.active_children()
        assert workers
        victim = workers[0]  # killed (out of memory, a crash in native code...)
        os.kill(victim.pid or 0, signal.SIGKILL)
        victim.join(timeout=10)
        after = [converter.convert(r) for r in real_requests()]
        assert after == in_thread  # no ride lost, the same results
        assert converter.fallbacks >= 1 and not converter.pooled


def test_a_converter_crash_in_a_worker_is_an_undecodable_ride() -> None:
    bad_meta: Any = "not an ActivityMeta"  # feature_from_track fails on it (AttributeError)
    req = ConvertRequest(FileKind.FIT, BIKES[0].read_bytes(), "activity c", ActivityWindow(), bad_meta, "c")
    with Converter(2) as converter:
        result = converter.convert(req)
    assert result.error is ConvertError.CRASH and result.error_reason == "converter error (AttributeError)"


# -- the sync with the pool ------------------------------------------------------------------------


@pytest.fixture
def standin() -> Iterator[IntervalsStandin]:
    stand = IntervalsStandin(rate_limit_per_second=500.0, burst=100)
    stand.add_athlete(ATHLETE, name="Pool Rider", api_key="pool-key")
    for n, path in enumerate(BIKES):
        stand.add_activity(ATHLETE, activity_id=f"b{n}", fit_bytes=path.read_bytes())
    data = MULTISPORT.read_bytes()
    stand.add_activity(ATHLETE, activity_id="ms-run", fit_bytes=data, type="Run", file_sport_index=RUN_LEG)
    stand.add_activity(ATHLETE, activity_id="ms-bike", fit_bytes=data, type="Ride", file_sport_index=BIKE_LEG)
    stand.add_activity(ATHLETE, activity_id="short", fit_bytes=cut_short(BIKES[1]))
    stand.add_activity(
        ATHLETE,
        activity_id="g1",
        fit_bytes=GPX.read_bytes(),
        file_format="gpx",
        type="Run",
        start=datetime(2013, 6, 13, 3, 56, 35, tzinfo=UTC),
    )
    stand.add_activity(
        ATHLETE,
        activity_id="t1",
        fit_bytes=TCX.read_bytes(),
        file_format="tcx",
        type="Run",
        start=datetime(2012, 12, 26, 21, 29, 53, tzinfo=UTC),
    )
    stand.add_activity(ATHLETE, activity_id="junk", fit_bytes=junk(), start=datetime(2015, 1, 1, tzinfo=UTC))
    stand.activities["junk"].has_gps = True  # listed with a GPS stream: downloaded, then refused
    stand.start()
    yield stand
    stand.stop()


def run_sync(standin: IntervalsStandin, out: Path, processes: int) -> LegResult:
    states = MemorySyncStateRepository()
    states.acquire(ATHLETE, "s", full=False, now=datetime.now(UTC), lease_seconds=600)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as work:
        job = SyncJob(
            request=SyncRequest(athlete_id=ATHLETE, sync_id="s"),
            client_factory=lambda: IntervalsClient(
                Credentials(api_key="pool-key"), base_url=standin.base_url, rate_limiter=TokenBucket(400.0)
            ),
            blobs=FileBlobStore(out),
            layout=SyncLayout.folder(),
            publisher=FileTilesPublisher(out / "activities.pmtiles"),
            states=states,
            workdir=Path(work),
            settings=SyncSettings(workers=3, convert_processes=processes),
        )
        result = run_leg(job)
    assert result.status is LegStatus.SUCCEEDED
    return result


def archive_lines(out: Path) -> list[bytes]:
    return sorted(iter_lines(out / "activities.geojson.zst"))


def index_of(out: Path) -> ActivityIndex:
    return decode_index((out / "activities.index").read_bytes())


class RecordingConverter(Converter):
    made: list[RecordingConverter] = []

    def __init__(self, processes: int = 1) -> None:
        super().__init__(processes)
        self.made.append(self)


def test_a_sync_with_the_pool_stores_what_a_sync_in_threads_stores(
    standin: IntervalsStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync, "Converter", RecordingConverter)
    RecordingConverter.made.clear()
    threads = run_sync(standin, tmp_path / "threads", 1)
    assert not RecordingConverter.made  # one process: converted in the download threads
    pooled = run_sync(standin, tmp_path / "pool", 2)
    (converter,) = RecordingConverter.made
    assert converter.in_pool == 9 and converter.fallbacks == 0  # every downloaded file, in the pool
    assert archive_lines(tmp_path / "pool") == archive_lines(tmp_path / "threads")
    assert index_of(tmp_path / "pool") == index_of(tmp_path / "threads")
    assert pooled.counts == threads.counts
    assert pooled.counts.failed == 1  # the short file: fetched again next sync (the parent's rule)
    index = index_of(tmp_path / "pool")
    assert index.get("short") is None
    junk = index.get("junk")
    assert junk is not None and junk.status is EntryStatus.UNDECODABLE
    assert {"b0", "b1", "b2", "ms-run", "ms-bike", "g1", "t1"} <= {
        e.id for e in index if e.status is EntryStatus.TRACK
    }


class BreakingPool:
    """A process pool whose workers are dead from the start."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise BrokenProcessPool("a child process terminated abruptly")

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        pass


class NoSemaphores:
    """What creating a process pool does on Lambda (no /dev/shm)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise OSError(38, "Function not implemented")


@pytest.mark.parametrize("pool", [BreakingPool, NoSemaphores])
def test_a_broken_or_missing_pool_loses_no_ride(
    standin: IntervalsStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: type
) -> None:
    threads = run_sync(standin, tmp_path / "threads", 1)
    with monkeypatch.context() as patch:
        patch.setattr(convert_pool, "ProcessPoolExecutor", pool)
        broken = run_sync(standin, tmp_path / "broken", 2)
    assert archive_lines(tmp_path / "broken") == archive_lines(tmp_path / "threads")
    assert index_of(tmp_path / "broken") == index_of(tmp_path / "threads")
    assert broken.counts == threads.counts


class UnpicklablePool(BreakingPool):
    """A pool that cannot take one ride (its request does not pickle); the workers are fine."""

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if fn is convert_pool.convert:
            raise pickle.PicklingError("cannot pickle this request")
        done: Future[Any] = Future()
        done.set_result(fn(*args, **kwargs))
        return done


def test_a_ride_the_pool_cannot_take_is_converted_in_the_thread(
    monkeypatch: pytest.MonkeyPatch, in_thread: list[convert_pool.Converted]
) -> None:
    monkeypatch.setattr(convert_pool, "ProcessPoolExecutor", UnpicklablePool)
    with Converter(2) as converter:
        assert converter.pooled
        assert [converter.convert(r) for r in real_requests()] == in_thread
        assert converter.pooled and converter.fallbacks == len(in_thread)  # the pool stays
