"""Scale benchmarks (issue 12), each a ratio measured in this run (re-tiling one ride on a
20,000-ride archive is ``bench_incremental``, kept apart because it takes a quarter of an hour).

1. ``ridelines convert`` as a whole process (interpreter start, imports, decode, GeoJSON out)
   vs a plain fitdecode loop in an already running interpreter, on one 100,000-record moving
   ride (``bench/fitgen.py``). Target >= 10x.
2. First sync of N activities against the stand-in at 10 requests/s (per-rider rate limit),
   the real pipeline (one leg, command line composition) with batch downloads: time to the
   first published map and to the complete map, as ratios of the per-file floor N / 10 s.
   Targets: complete <= 0.2x, first map <= 0.03x. Tracks identical to the per-file path are
   checked by the test suite (tests/integration/scale/test_batch_download.py), not here.

``BENCH_QUICK=1`` (``python -m bench --quick``) runs smaller sizes, said in the results.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import verdict

ROOT = Path(__file__).resolve().parents[1]
QUICK = os.environ.get("BENCH_QUICK") == "1"
RATE = 10.0
CONVERT_RECORDS = 100_000
FIRST_SYNC_N = 1_000 if QUICK else 5_000


# -- 1. convert as a process ---------------------------------------------------------------------


def _fitdecode_loop(data: bytes) -> int:
    import fitdecode

    points = 0
    with fitdecode.FitReader(io.BytesIO(data)) as reader:
        for frame in reader:
            if (
                isinstance(frame, fitdecode.FitDataMessage)
                and frame.name == "record"
                and frame.get_value("position_lat", fallback=None) is not None
            ):
                points += 1
    return points


def bench_convert() -> list[str]:
    from bench.fitgen import ride

    data = ride(12, datetime(2024, 5, 1, 6, tzinfo=UTC), CONVERT_RECORDS / 3600)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.fit"
        path.write_bytes(data)
        out = Path(tmp) / "long.geojson"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT / "local")])}
        base = ours = base_cpu = ours_cpu = float("inf")
        for _ in range(3):  # best of 3 each: the machine is shared
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                started, cpu = time.perf_counter(), time.process_time()
                points = _fitdecode_loop(data)
                base = min(base, time.perf_counter() - started)
                base_cpu = min(base_cpu, time.process_time() - cpu)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "ridelines", "convert", str(path), "-o", str(out)], env=env, check=True
            )
            ours = min(ours, time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            ours_cpu = min(ours_cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        feature = json.loads(out.read_text())
    ratio = base / ours
    cpu_ratio = base_cpu / ours_cpu
    return [
        "### `ridelines convert` as a whole process vs a plain fitdecode loop",
        "",
        f"{verdict(ratio >= 10)}: **{ratio:.1f}x** wall time, {cpu_ratio:.1f}x CPU time (target >= 10x) on one "
        f"{CONVERT_RECORDS:,}-record moving ride "
        f"({len(data) / 1e6:.1f} MB; fitdecode read {points:,} positions; the Feature has "
        f"{feature['geometry']['type']}).",
        "",
        "| run | wall s | CPU s |",
        "|---|---:|---:|",
        f"| plain fitdecode loop, in a running interpreter (best of 3) | {base:.2f} | {base_cpu:.2f} |",
        f"| `python -m ridelines convert FILE -o OUT`, whole process (best of 3) | {ours:.2f} | {ours_cpu:.2f} |",
        "",
    ]


# -- 2. first sync at 10 requests/s ----------------------------------------------------------------


def bench_first_sync() -> list[str]:
    from bench.bench_budget import CountingBlobs
    from bench.bench_sync import API_KEY, StandinProcess, _synthetic_standin
    from ridelines.adapters.memory import MemorySyncStateRepository
    from ridelines.intervals import Credentials, IntervalsClient, TokenBucket
    from ridelines.models import SyncCounts, SyncPhase, SyncRequest
    from ridelines.pipeline.convert_pool import usable_cpus
    from ridelines.pipeline.reporting import LoggingReporter
    from ridelines.pipeline.sync import SyncJob, SyncLayout, SyncSettings, run_leg
    from ridelines.publish import FileTilesPublisher, PublishResult

    class TimedPublisher(FileTilesPublisher):
        def __init__(self, path: Path) -> None:
            super().__init__(path)
            self.times: list[float] = []

        def publish(self, pmtiles: Path, products: Any = None) -> PublishResult:
            result = super().publish(pmtiles, products)
            self.times.append(time.perf_counter())
            return result

    class TimedReporter(LoggingReporter):
        """When each phase began and when half / all downloads were converted (where the time goes)."""

        def __init__(self) -> None:
            self.marks: dict[str, float] = {}
            self.planned_n = 0

        def phase(self, phase: SyncPhase) -> None:
            self.marks.setdefault(f"phase {phase.value}", time.perf_counter())

        def planned(self, to_download: int) -> None:
            self.planned_n = to_download

        def progress(self, counts: SyncCounts) -> None:
            done = counts.downloaded + counts.failed
            if done >= 1:
                self.marks.setdefault("first ride converted", time.perf_counter())
            if self.planned_n and done >= self.planned_n // 2:
                self.marks.setdefault("half the rides converted", time.perf_counter())
            if self.planned_n and done >= self.planned_n:
                self.marks.setdefault("every ride converted", time.perf_counter())

    # the FIT files are generated before the timed run (cached on disk), and the stand-in serves
    # them from a child process: it takes none of the measured process's CPU or GIL
    _synthetic_standin(FIRST_SYNC_N, RATE, 10, cached=True).stop()  # the corpus, before the clock
    stand = StandinProcess(FIRST_SYNC_N, RATE, 10)
    stand_cpu = stand.stats()["cpu_s"]
    states = MemorySyncStateRepository()
    states.acquire("bench", "s", full=False, now=datetime.now(UTC), lease_seconds=600)
    processes = usable_cpus()
    reporter = TimedReporter()
    load_before = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            out.mkdir()
            publisher = TimedPublisher(out / "activities.pmtiles")
            job = SyncJob(
                request=SyncRequest(athlete_id="bench", sync_id="s"),
                client_factory=lambda: IntervalsClient(
                    Credentials(api_key=API_KEY), base_url=stand.base_url, rate_limiter=TokenBucket(RATE)
                ),
                blobs=CountingBlobs(out),
                layout=SyncLayout.folder(),
                publisher=publisher,
                states=states,
                workdir=Path(tmp),
                intervals_athlete_id="0",
                reporter=reporter,
                settings=SyncSettings(batch_downloads=True, early_maps=True, convert_processes=processes),
            )
            started = time.perf_counter()
            result = run_leg(job)
            done_s = time.perf_counter() - started
            # before the stand-in child exits: its CPU must not count as the sync's children's
            load_after = os.getloadavg()
            self_after = resource.getrusage(resource.RUSAGE_SELF)
            children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            served = stand.stats()
            batches, per_file, total = served["batches"], served["per_file"], served["total"]
            stand_cpu = served["cpu_s"] - stand_cpu
            publish_times = list(publisher.times)  # the first sync's maps (the resync publishes too)
            first_puts, first_deletes = job.blobs.puts, job.blobs.deletes  # type: ignore[attr-defined]
            resync = _one_ride_resync(job, stand, out)
    finally:
        stand.stop()
    cpu_self = self_after.ru_utime + self_after.ru_stime - cpu_before[0].ru_utime - cpu_before[0].ru_stime
    cpu_children = (
        children_after.ru_utime + children_after.ru_stime - cpu_before[1].ru_utime - cpu_before[1].ru_stime
    )
    floor = FIRST_SYNC_N / RATE
    first_s = publish_times[0] - started if publish_times else float("nan")
    ok_done = done_s / floor <= 0.2 and result.counts.downloaded == FIRST_SYNC_N
    ok_first = first_s / floor <= 0.03
    note = " (quick mode)" if QUICK else ""
    timeline = sorted(
        [(t - started, name) for name, t in reporter.marks.items()]
        + [(t - started, f"map {n} published") for n, t in enumerate(publish_times, start=1)]
    )
    return [
        f"### First sync of {FIRST_SYNC_N:,} activities at {RATE:g} requests/s, batch downloads{note}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| per-file floor N / {RATE:g} s (baseline) | {floor:.0f} s |",
        f"| time to first map | {first_s:.1f} s = **{first_s / floor:.3f}x** the floor (target <= 0.03) — "
        f"{verdict(ok_first)} |",
        f"| time to complete map | {done_s:.1f} s = **{done_s / floor:.3f}x** the floor (target <= 0.2) — "
        f"{verdict(ok_done)} |",
        f"| maps published (early + final) | {len(publish_times)} |",
        f"| requests: batch / per-file / total | {batches} / {per_file} / {total} |",
        f"| blob store writes / deletes (staging, parts, archive, index, products cache; the map files "
        f"go through the file publisher) | {first_puts} / {first_deletes} |",
        f"| counts | `{json.dumps(result.counts.model_dump())}` |",
        f"| conversion processes (usable CPUs) | {processes} |",
        f"| CPU s: sync process / its children (converters, Tippecanoe) / stand-in process | "
        f"{cpu_self:.0f} / {cpu_children:.0f} / {stand_cpu:.0f} |",
        f"| load average (1 min) before / after | {load_before[0]:.2f} / {load_after[0]:.2f} |",
        "",
        "Timeline (s after pressing Sync): " + "; ".join(f"{name} {t:.1f}" for t, name in timeline),
        "",
        "Rides: 0.5-3 h at 1 Hz (~6,300 points on average), from `bench/fitgen.py` as in bench_sync, "
        "generated once before the timed run and served from disk.",
        "",
        *resync,
    ]


def _one_ride_resync(first: Any, stand: Any, out: Path) -> list[str]:
    """After the first sync the rider rides once more: the same job syncs again on the stored state
    (what the README's cost table calls a one-ride resync), its S3 writes counted."""
    import dataclasses

    from bench.bench_budget import CountingBlobs
    from ridelines.models import SyncRequest
    from ridelines.pipeline.sync import run_leg

    before = stand.stats()
    new_id = stand.add_newest_ride()
    blobs = CountingBlobs(out)
    first.states.acquire("bench", "s2", full=False, now=datetime.now(UTC), lease_seconds=600)
    job = dataclasses.replace(first, request=SyncRequest(athlete_id="bench", sync_id="s2"), blobs=blobs)
    started = time.perf_counter()
    result = run_leg(job)
    wall = time.perf_counter() - started
    after = stand.stats()
    requests = {k: after[k] - before[k] for k in ("batches", "per_file", "total")}
    ok = result.status.value == "succeeded" and result.counts.downloaded == 1 and result.published
    return [
        f"### One ride added to the {FIRST_SYNC_N:,}-ride account (resync)",
        "",
        f"{verdict(ok)}: `{new_id}` (newer than every other ride) synced and published in **{wall:.1f} s**.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| wall time | {wall:.1f} s |",
        f"| requests: batch / per-file / total | {requests['batches']} / {requests['per_file']} / "
        f"{requests['total']} |",
        f"| blob store writes / deletes (staging, archive, index, parts, products cache) | {blobs.puts} / "
        f"{blobs.deletes} |",
        f"| counts | `{json.dumps(result.counts.model_dump())}` |",
        "",
        "The map files (tiles, rides list, export, explorer layer) go through the command line's file "
        "publisher here, not the blob store: in AWS they are 3-4 more S3 writes (see bench_budget's "
        "resync, which runs the Lambda composition).",
        "",
    ]


def run() -> str:
    lines = ["## Scale (bench_scale)", ""]
    for part in (bench_convert, bench_first_sync):
        print(f"   {part.__name__}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        lines += part()
        lines += [f"_{part.__name__}: {time.perf_counter() - started:.0f} s._", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
