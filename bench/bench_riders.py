"""Many riders at once: 50 first syncs at the same time, in process, and what one sync costs.

Each rider has their own stand-in intervals.icu (so the 10 requests/s limit is per rider, as
intervals.icu's is per client) holding ``RIDES`` synthetic rides (``bench/fitgen.py``, 0.1-0.5 h).
The real pipeline runs one leg per rider against in-memory storage with the cloud publisher
(content-hashed keys, user row, CloudFront invalidation recorder), so S3 writes and
invalidations are counted as the Lambda would make them. A semaphore stands in for the sync
function's reserved concurrency (``RESERVED``): the bench records the most syncs that ever ran
at once and checks the bound held.

Per-sync cost: Lambda GB-s = leg wall time x 2 GB (the sync's memory setting), intervals.icu
requests, S3 writes (puts), CloudFront invalidation paths. The API's latency under this load
(p95 of ``GET /api/user``) is NOT measured here (see RESULTS.md).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

RIDERS = 50
RIDES = 20
RESERVED = 10
LAMBDA_GB = 2.0
RATE = 10.0


class CountingBlobs:
    """The in-memory store, counting writes (what S3 would bill as PUTs)."""

    def __init__(self) -> None:
        from ridelines.adapters.memory import MemoryBlobStore

        self.inner = MemoryBlobStore()
        self.writes = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.writes += 1

    def put_bytes(self, key: str, data: bytes, **kw: Any) -> None:
        self._count()
        self.inner.put_bytes(key, data, **kw)

    def put_file(self, key: str, path: Path, **kw: Any) -> None:
        self._count()
        self.inner.put_file(key, path, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _rider(n: int) -> dict[str, Any]:
    from bench.fitgen import ride
    from ridelines.adapters.memory import (
        MemorySyncStateRepository,
        MemoryUserRepository,
        RecordingInvalidator,
    )
    from ridelines_local.standin.intervals import IntervalsStandin

    rnd = random.Random(n)
    stand = IntervalsStandin(rate_limit_per_second=RATE, burst=10)
    athlete = f"i{n}"
    stand.add_athlete(athlete, name=f"Rider {n}", api_key=f"key-{n}")
    start = datetime(2026, 10, 1, 7, tzinfo=UTC)
    for k in range(RIDES):
        when = start - timedelta(days=k * 3)
        stand.add_activity(
            athlete, activity_id=f"{athlete}-{k}", fit_bytes=ride(n * 1000 + k, when, rnd.uniform(0.1, 0.5))
        )
    stand.start()
    users = MemoryUserRepository()
    users.upsert_login(athlete, f"Rider {n}", b"token", datetime.now(UTC))
    states = MemorySyncStateRepository()
    states.acquire(athlete, "s", full=False, now=datetime.now(UTC), lease_seconds=600)
    return {
        "athlete": athlete,
        "standin": stand,
        "users": users,
        "states": states,
        "blobs": CountingBlobs(),
        "cdn": RecordingInvalidator(),
    }


def run() -> str:
    from ridelines.intervals import Credentials, IntervalsClient, TokenBucket
    from ridelines.models import SyncRequest
    from ridelines.pipeline.sync import LegStatus, SyncJob, SyncLayout, SyncSettings, run_leg
    from ridelines.publish import CdnTilesPublisher

    riders = [_rider(n) for n in range(RIDERS)]
    reserved = threading.Semaphore(RESERVED)
    running = peak = 0
    lock = threading.Lock()
    results: list[dict[str, Any]] = []

    def sync(rider: dict[str, Any]) -> None:
        nonlocal running, peak
        athlete = rider["athlete"]
        queued = time.perf_counter()
        with reserved:
            with lock:
                running += 1
                peak = max(peak, running)
            try:
                with tempfile.TemporaryDirectory() as work:
                    job = SyncJob(
                        request=SyncRequest(athlete_id=athlete, sync_id="s"),
                        client_factory=lambda: IntervalsClient(
                            Credentials(api_key=f"key-{athlete[1:]}"),
                            base_url=rider["standin"].base_url,
                            rate_limiter=TokenBucket(RATE),
                        ),
                        blobs=rider["blobs"],
                        layout=SyncLayout.for_athlete(athlete),
                        publisher=CdnTilesPublisher(
                            athlete, blobs=rider["blobs"], users=rider["users"], cdn=rider["cdn"]
                        ),
                        states=rider["states"],
                        workdir=Path(work),
                        settings=SyncSettings(batch_downloads=True, early_maps=True),
                    )
                    started = time.perf_counter()
                    result = run_leg(job)
                    leg_s = time.perf_counter() - started
            finally:
                with lock:
                    running -= 1
        with lock:
            results.append(
                {
                    "ok": result.status is LegStatus.SUCCEEDED and result.counts.downloaded == RIDES,
                    "leg_s": leg_s,
                    "wait_s": started - queued,
                    "requests": len(rider["standin"].requests),
                    "writes": rider["blobs"].writes,
                    "invalidations": len(rider["cdn"].paths),
                }
            )

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=RIDERS) as pool:
            list(pool.map(sync, riders))
    finally:
        for rider in riders:
            rider["standin"].stop()
    total_s = time.perf_counter() - started
    ok = sum(r["ok"] for r in results)
    legs = sorted(r["leg_s"] for r in results)
    p95 = legs[int(0.95 * (len(legs) - 1))]
    mean = statistics.mean
    verdict = "PASS" if ok == RIDERS and peak <= RESERVED else "**FAIL**"
    return (
        "\n".join(
            [
                "## Many riders at once (bench_riders)",
                "",
                f"{verdict}: {ok}/{RIDERS} first syncs of {RIDES} rides each succeeded; at most {peak} ran at once "
                f"(reserved concurrency {RESERVED}, a semaphore here); all done in {total_s:.0f} s.",
                "",
                "| per sync | mean | max |",
                "|---|---:|---:|",
                f"| leg wall time (s) | {mean(legs):.1f} | {legs[-1]:.1f} (p95 {p95:.1f}) |",
                f"| waiting for a concurrency slot (s) | {mean(r['wait_s'] for r in results):.1f} "
                f"| {max(r['wait_s'] for r in results):.1f} |",
                f"| Lambda GB-s (wall x {LAMBDA_GB:g} GB) | {mean(legs) * LAMBDA_GB:.1f} | {legs[-1] * LAMBDA_GB:.1f} |",
                f"| intervals.icu requests | {mean(r['requests'] for r in results):.1f} "
                f"| {max(r['requests'] for r in results)} |",
                f"| S3 writes (puts) | {mean(r['writes'] for r in results):.1f} | {max(r['writes'] for r in results)} |",
                f"| CloudFront invalidation paths | {mean(r['invalidations'] for r in results):.1f} "
                f"| {max(r['invalidations'] for r in results)} |",
                "",
                "Requests: the listing's date windows back to 1990 plus one `download-fit-files` batch. "
                "S3 writes: one staging batch (2), the early map's part and file (2), archive and index (2); "
                "the final map equals the early one here (same content hash), so it is neither written again "
                "nor invalidated. A sync whose final map differs from its early map adds one write and, with "
                "today's publish.py, one invalidation path per replaced map (point 5 is the data-products "
                "branch's). p95 of `GET /api/user` under this load is NOT measured by this bench.",
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    print(run())
