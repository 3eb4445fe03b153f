"""Sync benchmarks against the stand-in intervals.icu (a real HTTP server on 127.0.0.1).

1. First sync of 500 activities at intervals.icu's 10 requests/s: the floor is the rate limit
   itself (N / 10 s, computed in the same run); target within 1.2x of it.
2. Peak memory of a 5000-activity first sync (run in a child process; Python and Tippecanoe
   peaks measured with ``getrusage``); target: their sum under 512 MB (what a Lambda holds).
3. No-change resync of those 5000 activities at 10 requests/s: target a handful of requests
   (<= 20) and about a second (at most the rate-limit floor of those requests + 1 s).

For 1 (the rate limit is the point, not conversion) small real FIT files (tests/data/fit) are
repeated under different ids and dates. For 2 and 3 the 5000 activities are a realistic account:
5000 distinct synthetic rides (``bench/fitgen.py``), 0.5-3 h each at 1 Hz (1800-10800 points,
~6300 on average, ~31 million in all), starting within 100 km of Zurich, one every ~17.5 hours
over ten years. The stand-in (in this process) regenerates each ride from its seed when it is
downloaded, so 5000 files (~650 MB) are never held in memory; the sync runs in a child process
whose peak RSS, and Tippecanoe's, are what is measured.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import verdict
from bench.fitgen import ride
from bench.procfs import descendants, status_kb
from ridelines_local.standin.intervals import StandinActivity
from ridelines_local.standin.zip_members import ZipMember

ROOT = Path(__file__).resolve().parents[1]
FIT_DIR = ROOT / "tests" / "data" / "fit"
SMALL_RIDES = [
    FIT_DIR / "python-fitparse/garmin-fenix-5-bike.fit",
    FIT_DIR / "python-fitparse/garmin-edge-820-bike.fit",
    FIT_DIR / "python-fitparse/elemnt-bolt-no-application-id-inside-developer-data-id.fit",
]
ATHLETE = "i2001"
API_KEY = "bench-key"
RATE = 10.0
FIRST_N = 500
BIG_N = 5000
MEMORY_LIMIT_MB = 512
ZIP_MEMBER_SUFFIX = ".zipmember"  # a corpus ride deflated ahead of time (:class:`ZipMember`)


def _standin(n: int, files: list[Path], rate: float, burst: int) -> Any:
    from ridelines_local.standin.intervals import IntervalsStandin

    stand = IntervalsStandin(rate_limit_per_second=rate, burst=burst)
    stand.add_athlete(ATHLETE, name="Bench Rider", api_key=API_KEY)
    templates = [
        stand.add_activity(ATHLETE, activity_id=f"t{k}", fit_bytes=p.read_bytes(), name=p.stem, type="Ride")
        for k, p in enumerate(files)
    ]
    for template in templates:
        del stand.activities[template.id]
    newest = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    for k in range(n):
        # about 1000 rides a year, newest first, spread over n/1000 years
        start = newest - timedelta(hours=k * 8.76)
        template = templates[k % len(templates)]
        stand.activities[f"r{k}"] = dataclasses.replace(template, id=f"r{k}", name=f"Ride {k}", start=start)
    stand.start()
    return stand


@functools.lru_cache(maxsize=16)  # a few concurrent downloads: bounded memory
def _ride(seed: int, start: datetime, hours: float) -> bytes:
    return ride(seed, start, hours)


class _SyntheticRide(StandinActivity):
    """A stand-in activity whose FIT file is generated from (seed, start, hours) when downloaded,
    or read from a pre-generated corpus on disk (``corpus``): then the stand-in, which runs in
    the benchmark's process, does not take the system-under-test's CPU generating files."""

    def __init__(self, seed: int, hours: float, corpus: Path | None = None, **fields: Any) -> None:
        self.seed, self.hours, self.corpus = seed, hours, corpus
        super().__init__(fit_bytes=None, **fields)

    @property
    def fit_bytes(self) -> bytes:
        # the stand-in reads it twice per download (is there a file? then compress it)
        if self.corpus is not None:
            return (self.corpus / f"{self.id}.fit").read_bytes()
        return _ride(self.seed, self.start, self.hours)

    @fit_bytes.setter
    def fit_bytes(self, _value: bytes | None) -> None:
        pass  # always generated

    def zip_member(self) -> ZipMember | None:
        # deflated once, with the corpus: intervals.icu compresses on its own servers, not on
        # the two cores the sync under test has
        if self.corpus is not None:
            return ZipMember.from_bytes((self.corpus / f"{self.id}{ZIP_MEMBER_SUFFIX}").read_bytes())
        return super().zip_member()

    def to_json(self) -> dict[str, Any]:
        # the listing only asks whether there is a file: don't generate one per listed ride
        base = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(StandinActivity)
            if f.name != "fit_bytes"
        }
        return StandinActivity(**base, fit_bytes=b"").to_json()


def _write_ride(path: str, seed: int, start: datetime, hours: float) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_bytes(ride(seed, start, hours))
    tmp.replace(path)  # a corpus interrupted mid-write is never read as whole


def _write_zip_member(fit_path: str) -> None:
    """The ride as the stand-in's batch downloads send it, deflated at zlib's default level."""
    member = Path(fit_path).with_suffix(ZIP_MEMBER_SUFFIX)
    tmp = Path(f"{member}.tmp")
    tmp.write_bytes(ZipMember.of(Path(fit_path).read_bytes(), level=6).to_bytes())
    tmp.replace(member)


def _corpus(n: int, seed: int, rides: list[tuple[str, int, datetime, float]]) -> Path:
    """The rides' FIT files on disk under ``bench/.cache`` (gitignored), generated once (on every
    core, before any timed run) and reused while ``bench/fitgen.py`` is unchanged."""
    import hashlib
    from concurrent.futures import ProcessPoolExecutor

    from ridelines.pipeline.convert_pool import usable_cpus

    key = hashlib.sha256((ROOT / "bench" / "fitgen.py").read_bytes() + f"{n}/{seed}".encode()).hexdigest()
    folder = ROOT / "bench" / ".cache" / f"rides-{n}-{seed}-{key[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    missing = [r for r in rides if not (folder / f"{r[0]}.fit").exists()]
    if missing:
        print(f"   generating {len(missing)} FIT files into {folder}", file=sys.stderr, flush=True)
        with ProcessPoolExecutor(usable_cpus()) as pool:
            for done in [
                pool.submit(_write_ride, str(folder / f"{i}.fit"), s, t, h) for i, s, t, h in missing
            ]:
                done.result()
    unzipped = [r[0] for r in rides if not (folder / f"{r[0]}{ZIP_MEMBER_SUFFIX}").exists()]
    if unzipped:
        print(f"   deflating {len(unzipped)} FIT files in {folder}", file=sys.stderr, flush=True)
        with ProcessPoolExecutor(usable_cpus()) as pool:
            for done in [pool.submit(_write_zip_member, str(folder / f"{i}.fit")) for i in unzipped]:
                done.result()
    return folder


def _synthetic_standin(n: int, rate: float, burst: int, seed: int = 4, *, cached: bool = False) -> Any:
    """n distinct rides of 0.5-3 h, newest first, one every ~17.5 h over ten years. ``cached``:
    serve them from a pre-generated corpus on disk (:func:`_corpus`) instead of generating each
    file when it is downloaded."""
    import random

    from ridelines_local.standin.intervals import IntervalsStandin

    stand = IntervalsStandin(rate_limit_per_second=rate, burst=burst)
    stand.add_athlete(ATHLETE, name="Bench Rider", api_key=API_KEY)
    rnd = random.Random(seed)
    newest = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    step_h = 10 * 365.25 * 24 / n
    plan = []
    for k in range(n):
        hours = rnd.uniform(0.5, 3.0)
        start = (newest - timedelta(hours=k * step_h + rnd.uniform(0, step_h / 2))).replace(microsecond=0)
        plan.append((f"r{k}", seed * 1_000_003 + k, start, hours))
    corpus = _corpus(n, seed, plan) if cached else None
    for k, (_id, ride_seed, start, hours) in enumerate(plan):
        seconds = round(hours * 3600) - 1
        stand.activities[f"r{k}"] = _SyntheticRide(
            seed=ride_seed,
            hours=hours,
            corpus=corpus,
            id=f"r{k}",
            athlete_id=ATHLETE,
            name=f"Ride {k}",
            type="Ride",
            start=start,
            moving_s=seconds,
            elapsed_s=seconds,
        )
    stand.start()
    return stand


def _sync(out: Path, base_url: str, rate: float) -> tuple[float, dict[str, Any]]:
    """One sync with the command line's composition, in this process; returns (seconds, summary)."""
    from ridelines.adapters.local import FileBlobStore
    from ridelines.adapters.memory import MemorySyncStateRepository
    from ridelines.intervals import Credentials, IntervalsClient, TokenBucket
    from ridelines.models import SyncRequest
    from ridelines.pipeline.sync import SyncJob, SyncLayout, run_leg
    from ridelines.publish import FileTilesPublisher

    states = MemorySyncStateRepository()
    states.acquire("bench", "s", full=False, now=datetime.now(UTC), lease_seconds=600)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        job = SyncJob(
            request=SyncRequest(athlete_id="bench", sync_id="s"),
            client_factory=lambda: IntervalsClient(
                Credentials(api_key=API_KEY), base_url=base_url, rate_limiter=TokenBucket(rate)
            ),
            blobs=FileBlobStore(out),
            layout=SyncLayout.folder(),
            publisher=FileTilesPublisher(out / "activities.pmtiles"),
            states=states,
            workdir=Path(work),
            intervals_athlete_id="0",
        )
        started = time.perf_counter()
        result = run_leg(job)
        elapsed = time.perf_counter() - started
    return elapsed, {**result.summary(), "published": result.published}


class _PeakSampler(threading.Thread):
    """Peak RSS of this process and of every descendant (Tippecanoe and its launcher), from /proc.

    ``getrusage``'s ru_maxrss is not used: Linux carries the forking process's RSS into a child's
    ru_maxrss across fork + exec, so it reported the bench harness's own ~200 MB as the sync's peak,
    and the sync process's size as Tippecanoe's (its launcher is forked from the sync). VmHWM is the
    high-water mark of the process's own address space after exec; sampled every 50 ms (it only
    grows, so only a descendant's last 50 ms can be missed), plus the tree's summed VmRSS.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.me = os.getpid()
        self.hwm_kb: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.tree_peak_kb = 0
        self.done = threading.Event()

    def sample(self) -> None:
        pids = [self.me, *descendants(self.me)]
        for pid in pids:
            self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), status_kb(pid, "VmHWM"))
            if pid not in self.names:
                try:
                    self.names[pid] = Path(f"/proc/{pid}/comm").read_text().strip()
                except OSError:
                    self.names[pid] = "?"
        self.tree_peak_kb = max(self.tree_peak_kb, sum(status_kb(pid, "VmRSS") for pid in pids))

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.sample()


def _child(out: str, base_url: str, rate: float) -> None:
    """Entry of the memory child process: sync, then report peaks as one JSON line."""
    sampler = _PeakSampler()
    sampler.start()
    elapsed, summary = _sync(Path(out), base_url, rate)
    sampler.done.set()
    sampler.join()
    sampler.sample()
    own = sampler.hwm_kb.pop(sampler.me) / 1024
    descendants = sum(sampler.hwm_kb.values()) / 1024  # as if all their peaks coincided
    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "summary": summary,
                "python_mb": own,
                "tippecanoe_mb": descendants,
                "tree_peak_mb": sampler.tree_peak_kb / 1024,
                "descendants": sorted({sampler.names[p] for p in sampler.hwm_kb}),
                "getrusage_mb": [
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                ],
            }
        )
    )


def run() -> str:
    lines = ["## Sync (stand-in intervals.icu over HTTP on 127.0.0.1)", ""]
    from ridelines_local.standin.intervals import TokenBucket as StandinBucket

    # 1. first sync of 500 at 10 req/s
    with tempfile.TemporaryDirectory() as tmp:
        stand = _standin(FIRST_N, SMALL_RIDES, RATE, 10)
        try:
            elapsed, summary = _sync(Path(tmp) / "out", stand.base_url, RATE)
            files = stand.count("GET", "/api/v1/activity/")
            total = len(stand.requests)
            throttled = sum(1 for _m, _p, s in stand.requests if s == 429)
        finally:
            stand.stop()
    floor = FIRST_N / RATE
    ratio = elapsed / floor
    ok_first = ratio <= 1.2 and summary["counts"]["downloaded"] == FIRST_N
    lines += [
        f"### First sync of {FIRST_N} activities at {RATE:g} requests/s",
        "",
        "| measure | value |",
        "|---|---|",
        f"| rate-limit floor (N / {RATE:g} s, baseline) | {floor:.1f} s |",
        f"| sync wall time | {elapsed:.1f} s |",
        f"| ratio to the floor (target <= 1.2) | {ratio:.3f} — {verdict(ok_first)} |",
        f"| requests (file downloads / total / answered 429) | {files} / {total} / {throttled} |",
        f"| counts | `{json.dumps(summary['counts'])}` |",
        "",
    ]

    # 2 + 3. 5000 activities: memory of the first sync (child process), then a no-change resync
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        stand = _synthetic_standin(BIG_N, 2000.0, 200)
        try:
            code = (
                f"import sys; sys.path.insert(0, {str(ROOT)!r}); from bench.bench_sync import _child; "
                f"_child({str(out)!r}, {stand.base_url!r}, 2000.0)"
            )
            done = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, timeout=1800, check=False
            )
            if done.returncode != 0:
                lines += [
                    f"### {BIG_N}-activity sync: **FAIL** (child exited {done.returncode})",
                    "",
                    "```",
                    done.stderr[-2000:],
                    "```",
                    "",
                ]
                return "\n".join(lines)
            child = json.loads(done.stdout.strip().splitlines()[-1])
            peak = child["python_mb"] + child["tippecanoe_mb"]
            points = sum(
                round(a.hours * 3600) for a in stand.activities.values() if isinstance(a, _SyntheticRide)
            )
            ok_memory = peak < MEMORY_LIMIT_MB and child["summary"]["counts"]["downloaded"] == BIG_N
            lines += [
                f"### Peak memory of a {BIG_N}-activity first sync",
                "",
                "| measure | value |",
                "|---|---|",
                f"| Python sync process peak RSS (VmHWM) | {child['python_mb']:.0f} MB |",
                f"| Tippecanoe peak RSS (VmHWM, summed over {', '.join(child['descendants'])}) | "
                f"{child['tippecanoe_mb']:.0f} MB |",
                f"| sum (target < {MEMORY_LIMIT_MB} MB) | {peak:.0f} MB — {verdict(ok_memory)} |",
                f"| whole process tree, peak of summed RSS (sampled every 50 ms) | {child['tree_peak_mb']:.0f} MB |",
                f"| rides / GPS points (1 Hz, 0.5-3 h each, within 100 km of Zurich) | {BIG_N} / "
                f"{points:,} |",
                f"| wall time (stand-in limit lifted to 2000/s; it generates each file on request) | "
                f"{child['elapsed']:.1f} s |",
                f"| archive / tiles size | {(out / 'activities.geojson.zst').stat().st_size / 1e6:.1f} MB / "
                f"{(out / 'activities.pmtiles').stat().st_size / 1e6:.1f} MB |",
                "",
            ]

            stand.rate_limiter = StandinBucket(RATE, 10)
            before = len(stand.requests)
            time.sleep(1.1)  # let the stand-in's bucket refill, like a rider pressing Sync later
            elapsed, summary = _sync(out, stand.base_url, RATE)
            requests = len(stand.requests) - before
        finally:
            stand.stop()
    floor = max(requests - 1, 0) / RATE  # the first request is free (a full bucket)
    ok_resync = requests <= 20 and elapsed <= floor + 1.0 and summary["counts"]["downloaded"] == 0
    lines += [
        f"### No-change resync of {BIG_N} activities at {RATE:g} requests/s",
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests (target <= 20) | {requests} |",
        f"| rate-limit floor of those requests (baseline) | {floor:.1f} s |",
        f"| wall time (target <= floor + 1 s) | {elapsed:.2f} s — {verdict(ok_resync)} |",
        f"| counts | `{json.dumps(summary['counts'])}`, published: {summary['published']} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())


class StandinProcess:
    """The synthetic stand-in (:func:`_synthetic_standin`, corpus on disk) in a child process, so
    its CPU (HTTP, zips) is neither in the measured process nor under its GIL, and is reported
    on its own. The rate limit and the ``download-fit-files`` zips are the stand-in's own."""

    def __init__(self, n: int, rate: float, burst: int) -> None:
        code = (
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); from bench.bench_sync import _serve_standin; "
            f"_serve_standin({n}, {rate!r}, {burst})"
        )
        self._child = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._child.stdout is not None
        self.base_url = self._child.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self._child.kill()
            raise RuntimeError(f"the stand-in did not start ({self.base_url!r})")

    def stats(self) -> dict[str, Any]:
        """Requests so far: ``batches``, ``per_file``, ``total``; the stand-in's ``cpu_s``."""
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.write("stats\n")
        self._child.stdin.flush()
        return dict(json.loads(self._child.stdout.readline()))

    def add_newest_ride(self) -> str:
        """The rider rides again: one new ride, newer than every other; its id."""
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.write("add\n")
        self._child.stdin.flush()
        return str(json.loads(self._child.stdout.readline())["added"])

    def stop(self) -> None:
        if self._child.poll() is None:
            assert self._child.stdin is not None
            self._child.stdin.close()  # the child stops at end of input
            try:
                self._child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()


def _serve_standin(n: int, rate: float, burst: int) -> None:
    """Entry of :class:`StandinProcess`'s child: serve, answer ``stats`` lines until stdin closes."""
    stand = _synthetic_standin(n, rate, burst, cached=True)
    print(stand.base_url, flush=True)
    try:
        for command in sys.stdin:
            if command.strip() == "add":
                newest = max(a.start for a in stand.activities.values() if a.start)
                start, seconds = newest + timedelta(days=1), 3599
                stand.add_activity(
                    ATHLETE, activity_id="new-1", fit_bytes=ride(7, start, 1.0), name="New ride", type="Ride",
                    start=start, moving_s=seconds, elapsed_s=seconds,
                )  # fmt: skip
                print(json.dumps({"added": "new-1"}), flush=True)
            elif command.strip() == "stats":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                stats = {
                    "batches": stand.count("POST", "/api/v1/athlete/"),
                    "per_file": stand.count("GET", "/api/v1/activity/"),
                    "total": len(stand.requests),
                    "cpu_s": usage.ru_utime + usage.ru_stime,
                }
                print(json.dumps(stats), flush=True)
    finally:
        stand.stop()
