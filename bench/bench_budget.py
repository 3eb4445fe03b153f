"""A 50,000-activity account under a simulated Lambda budget (issue 12, point 2).

The deployed sync's code path, leg after leg: :func:`ridelines.pipeline.lambda_entry.handle_sync_event`
with :func:`~ridelines.pipeline.lambda_entry.settings_from_environment` (batch downloads and early
maps on, as deployed), local adapters in place of AWS (a file-backed blob store standing in for S3,
in-memory tables, a plain token cipher) and an invoker that queues the next leg, which this process
then runs, as Lambda would in a fresh invocation. Each leg gets:

* a fake Lambda context whose ``get_remaining_time_in_millis`` counts down from 600,000 ms of real
  wall time (Lambda's 600 s);
* its own ``/tmp`` (a fresh directory as ``workdir``), whose size is sampled every 0.5 s and
  compared with Lambda's 4 GB of ephemeral storage;
* the memory of the process tree (the sync process + Tippecanoe / tile-join children: Pss summed
  over the tree, sampled every 0.1 s from /proc by the parent, and each process's VmHWM) compared
  with the function's 2 GB.

The account: ``N`` synthetic rides from ``bench/fitgen.py``, a daily commuter's 20-60 min rides at
20-30 km/h within 100 km of Zurich, recorded the way a bike computer's "smart recording" does
(one record every 5 s, ~480 records a ride), spread over ten years newest first (5,000 a year at
50,000, the dense end of issue 12's 10,000-50,000). They are generated once before timing (two
processes, cached on disk under the system temp dir), and served by the stand-in intervals.icu at
10 requests/s from a separate process, so neither generation nor serving competes with the sync
for the interpreter lock.

Run as ``python -m bench.bench_budget`` (``BENCH_QUICK=1``: 5,000 activities; ``BENCH_BUDGET_N``
overrides the size). Lambda gives a 2 GB function about 1.2 vCPU; this machine's 2 shared cores
are not that, so the leg walls are this machine's, not Lambda's.

Cost on the 2-core development machine (shared): generating the corpus once, ~56 s per 5,000
rides (~8 min at 50,000, then cached); the 50,000-ride sync took 2,107 s in 4 legs when every
later leg republished everything staged as its first early map, and 926 s in 2 legs once a later
leg starts from what is staged and early maps follow complete years (2026-11-30, bench/RESULTS.md).
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import verdict
from bench.procfs import descendants, status_kb

ROOT = Path(__file__).resolve().parents[1]
QUICK = os.environ.get("BENCH_QUICK") == "1"
N = int(os.environ.get("BENCH_BUDGET_N") or (5_000 if QUICK else 50_000))
LEG_SECONDS = 600.0
MEMORY_MB = 2048
TMP_MB = 4096
RATE = 10.0
YEARS = 10
RECORD_EVERY_S = 5
SEED = 12
ATHLETE = "i5001"
NEWEST = datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
CORPUS_VERSION = "v1"
SYNC_LOG = Path(tempfile.gettempdir()) / "ridelines-bench-budget-sync.log"


# -- the account ------------------------------------------------------------------------------


def plan(n: int) -> Iterator[tuple[int, datetime, float]]:
    """(ride number, start, hours) for n commutes of 20-60 min, newest first over YEARS years."""
    rnd = random.Random(SEED)
    step_h = YEARS * 365.25 * 24 / n
    for k in range(n):
        hours = rnd.uniform(20, 60) / 60
        start = NEWEST - timedelta(hours=k * step_h + rnd.uniform(0, step_h / 2))
        yield k, start.replace(microsecond=0), hours


def _generate(job: tuple[int, datetime, float, str]) -> None:
    from bench.fitgen import ride

    k, start, hours, folder = job
    Path(folder, f"r{k}.fit").write_bytes(ride(SEED * 1_000_003 + k, start, hours, every_s=RECORD_EVERY_S))


def corpus(n: int) -> Path:
    """The n rides' FIT files on disk, generated once (two processes) and reused by later runs."""
    import multiprocessing

    folder = Path(tempfile.gettempdir()) / f"ridelines-bench-budget-{CORPUS_VERSION}-{SEED}-{n}"
    done = folder / "complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(k, start, hours, str(folder)) for k, start, hours in plan(n)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_generate, jobs, chunksize=200)
    done.write_text(str(n))
    return folder


# -- the stand-in, in its own process -------------------------------------------------------------


def serve_standin(n: int, folder: Path) -> None:
    """Child process: serve the corpus; print ``{"url", "token"}``; on a line on stdin print the
    request counts; exit at end of input."""
    import dataclasses

    from ridelines_local.standin.intervals import IntervalsStandin, StandinActivity

    class StoredRide(StandinActivity):
        @property
        def fit_bytes(self) -> bytes:
            return (folder / f"{self.id}.fit").read_bytes()

        @fit_bytes.setter
        def fit_bytes(self, _value: bytes | None) -> None:
            pass

        def to_json(self) -> dict[str, Any]:  # the listing only asks whether there is a file
            base = {f.name: getattr(self, f.name) for f in dataclasses.fields(StandinActivity)}
            return StandinActivity(**{**base, "fit_bytes": b""}).to_json()

    stand = IntervalsStandin(rate_limit_per_second=RATE, burst=int(RATE))
    stand.add_athlete(ATHLETE, name="Budget Rider", api_key=None)
    for k, start, hours in plan(n):
        seconds = round(hours * 3600) - 1
        stand.activities[f"r{k}"] = StoredRide(
            id=f"r{k}",
            athlete_id=ATHLETE,
            name=f"Commute {k}",
            type="Ride",
            start=start,
            fit_bytes=None,
            moving_s=seconds,
            elapsed_s=seconds,
        )
    stand.start()
    print(json.dumps({"url": stand.base_url, "token": stand.issue_token(ATHLETE)}), flush=True)
    for line in sys.stdin:
        if line.strip() == "add":  # the rider rode again: one new commute, newest of all
            print(json.dumps({"added": _add_ride(stand)}), flush=True)
            continue
        with stand._lock:
            requests = list(stand.requests)
        kinds = {
            "listing": sum(1 for m, p, _ in requests if m == "GET" and p.endswith("/activities")),
            "batch": sum(1 for m, p, _ in requests if m == "POST" and "download-fit-files" in p),
            "per_file": sum(1 for m, p, _ in requests if m == "GET" and p.startswith("/api/v1/activity/")),
            "total": len(requests),
            "rate_limited": sum(1 for _, _, s in requests if s == 429),
        }
        print(json.dumps(kinds), flush=True)
    stand.stop()


NEW_RIDE_ID = "new-1"


def _add_ride(stand: Any) -> str:
    from bench.fitgen import ride
    from ridelines_local.standin.intervals import StandinActivity

    start, hours = NEWEST + timedelta(days=1), 0.5
    seconds = round(hours * 3600) - 1
    with stand._lock:
        stand.activities[NEW_RIDE_ID] = StandinActivity(
            id=NEW_RIDE_ID,
            athlete_id=ATHLETE,
            name="Commute (new)",
            type="Ride",
            start=start,
            fit_bytes=ride(SEED * 1_000_003 - 1, start, hours, every_s=RECORD_EVERY_S),
            moving_s=seconds,
            elapsed_s=seconds,
        )
    return NEW_RIDE_ID


# -- the legs, in their own process ---------------------------------------------------------------


class BudgetContext:
    """A Lambda context for one invocation: 600 s of real wall time from its creation."""

    def __init__(self, seconds: float = LEG_SECONDS) -> None:
        self.deadline = time.monotonic() + seconds
        self.function_name = "ridelines-sync"
        self.memory_limit_in_mb = MEMORY_MB
        self.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ridelines-sync"
        self.aws_request_id = uuid.uuid4().hex

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class _PlainCipher:
    def encrypt(self, plaintext: str, athlete_id: str) -> bytes:
        return plaintext.encode()

    def decrypt(self, ciphertext: bytes, athlete_id: str) -> str:
        return ciphertext.decode()


class CountingBlobs:
    """The S3 stand-in: a folder, counting writes (puts) and deletes; ``purge`` for erasure."""

    def __init__(self, root: Path) -> None:
        from ridelines.adapters.local import FileBlobStore

        self.inner = FileBlobStore(root)
        self.puts = 0
        self.deletes = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put_bytes(self, key: str, data: bytes, **kwargs: Any) -> None:
        with self._lock:
            self.puts += 1
        self.inner.put_bytes(key, data, **kwargs)

    def put_file(self, key: str, path: Path, **kwargs: Any) -> None:
        with self._lock:
            self.puts += 1
        self.inner.put_file(key, path, **kwargs)

    def delete(self, key: str) -> None:
        with self._lock:
            self.deletes += 1
        self.inner.delete(key)

    def purge(self, prefix: str) -> int:
        keys = list(self.inner.list_keys(prefix))
        for key in keys:
            self.delete(key)
        return len(keys)


def run_legs(url: str, token: str, work: Path) -> dict[str, Any]:
    """Child process: the whole sync, one leg after another, each in a fresh context and /tmp."""
    from ridelines.adapters.memory import MemorySyncStateRepository, MemoryUserRepository
    from ridelines.pipeline.checkpoint import Checkpoint
    from ridelines.pipeline.lambda_entry import SyncDeps, handle_sync_event, settings_from_environment

    class Publishes(MemoryUserRepository):
        count = 0
        first_at: float | None = None

        def set_published(self, *args: Any, **kwargs: Any) -> Any:
            Publishes.count += 1
            Publishes.first_at = Publishes.first_at or time.perf_counter()
            return super().set_published(*args, **kwargs)

    queue: list[dict[str, Any]] = []

    class QueueInvoker:
        def invoke(self, payload: Any) -> None:
            queue.append(json.loads(json.dumps(dict(payload))))  # only JSON survives an async invoke

    states = MemorySyncStateRepository()
    users = Publishes()
    cipher = _PlainCipher()
    blobs = CountingBlobs(work / "s3")
    users.upsert_login(ATHLETE, "Budget Rider", cipher.encrypt(token, ATHLETE), datetime.now(UTC))
    sync_id = uuid.uuid4().hex
    states.acquire(ATHLETE, sync_id, full=False, now=datetime.now(UTC), lease_seconds=600)
    deps = SyncDeps(
        states=states,
        users=users,
        cipher=cipher,
        blobs=blobs,
        invoker=QueueInvoker(),
        intervals_url=url,
        sync_settings=settings_from_environment(),  # what the deployed Lambda runs with
    )
    legs: list[dict[str, Any]] = []
    phases: list[tuple[float, str]] = []  # (seconds since the sync started, phase) as the record shows it
    watching = threading.Event()

    def watch_phases() -> None:
        while not watching.wait(0.25):
            record = states.get(ATHLETE)
            phase = record.phase.value if record else ""
            if not phases or phases[-1][1] != phase:
                phases.append((time.perf_counter() - started, phase))

    event: dict[str, Any] | None = {"athlete_id": ATHLETE, "sync_id": sync_id, "full": False}
    started = time.perf_counter()
    threading.Thread(target=watch_phases, daemon=True).start()
    result: dict[str, Any] = {}
    while event is not None:
        leg_tmp = work / f"leg-{len(legs) + 1}"
        leg_tmp.mkdir()
        deps.workdir = leg_tmp
        before = states.get(ATHLETE)
        done_before = before.counts.downloaded if before else 0
        context = BudgetContext()
        leg_started = time.perf_counter()
        phases.append((leg_started - started, f"leg {len(legs) + 1}"))
        result = handle_sync_event(event, context, deps)
        wall = time.perf_counter() - leg_started
        event = queue.pop(0) if queue else None
        after = states.get(ATHLETE)
        legs.append(
            {
                "wall_s": wall,
                "margin_s": LEG_SECONDS - wall,
                "converted": (after.counts.downloaded if after else 0) - done_before,
                "status": result.get("status"),
                "handed_off": Checkpoint.from_event(event.get("checkpoint")).phase if event else "",
            }
        )
        print(json.dumps({"leg": len(legs), **legs[-1]}), file=sys.stderr, flush=True)
        shutil.rmtree(leg_tmp, ignore_errors=True)
    watching.set()
    return {
        "phases": phases,
        "legs": legs,
        "result": result,
        "total_s": time.perf_counter() - started,
        "first_map_s": (Publishes.first_at - started) if Publishes.first_at else None,
        "publishes": Publishes.count,
        "s3_puts": blobs.puts,
        "s3_deletes": blobs.deletes,
        "children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "self_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -- sampling, from the parent (no CPU or GIL taken from the sync) ------------------------------


def _pss_kb(pid: int) -> int:
    """Proportional set size: a page shared by a forked child and its parent counts once in the
    sum over the tree (VmRSS would count it twice, before the child's exec)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return status_kb(pid, "VmRSS")
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return status_kb(pid, "VmRSS")


def _tree(pid: int) -> list[int]:
    return [pid, *descendants(pid)]


def _disk_bytes(folder: Path) -> int:
    total = 0
    for base, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_blocks * 512
            except OSError:
                continue
    return total


class Sampler(threading.Thread):
    """Peak /tmp of the current leg (every 0.5 s) and memory of the sync's process tree (0.1 s)."""

    def __init__(self, pid: int, work: Path) -> None:
        super().__init__(daemon=True)
        self.pid, self.work = pid, work
        self.tmp_peak: dict[int, int] = {}  # leg -> bytes
        self.tree_peak: dict[int, int] = {}  # leg -> kB (Pss summed over the tree)
        self.hwm: dict[int, tuple[str, int]] = {}  # pid -> (name, VmHWM kB)
        self.done = threading.Event()

    def _leg(self) -> int:
        legs = [int(p.name.split("-")[1]) for p in self.work.glob("leg-*")]
        return max(legs, default=0)

    def run(self) -> None:
        ticks = 0
        while not self.done.wait(0.1):
            leg = self._leg()
            pids = _tree(self.pid)
            rss = 0
            for pid in pids:
                rss += _pss_kb(pid)
                hwm = status_kb(pid, "VmHWM")
                if hwm and hwm > self.hwm.get(pid, ("", 0))[1]:
                    try:
                        name = Path(f"/proc/{pid}/comm").read_text().strip()
                    except OSError:
                        name = "?"
                    self.hwm[pid] = (name, hwm)
            self.tree_peak[leg] = max(self.tree_peak.get(leg, 0), rss)
            ticks += 1
            if leg and ticks % 5 == 0:
                self.tmp_peak[leg] = max(self.tmp_peak.get(leg, 0), _disk_bytes(self.work / f"leg-{leg}"))


# -- the benchmark --------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    paths = [str(ROOT / "lambdas"), str(ROOT / "local"), str(ROOT)]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "POWERTOOLS_METRICS_NAMESPACE": "Ridelines",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def run() -> str:
    print(f"   generating {N:,} rides (cached)", file=sys.stderr, flush=True)
    started = time.perf_counter()
    folder = corpus(N)
    generate_s = time.perf_counter() - started
    standin = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_budget", "standin", str(N), str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    assert standin.stdin is not None and standin.stdout is not None

    def ask(command: str) -> dict[str, Any]:
        assert standin.stdin is not None and standin.stdout is not None
        standin.stdin.write(command + "\n")
        standin.stdin.flush()
        return dict(json.loads(standin.stdout.readline()))

    try:
        served = json.loads(standin.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
            work = Path(tmp)
            first = _sync_child(served, work, "first")
            requests = ask("counts")
            if first.report is None:
                return f"## Lambda budget (bench_budget)\n\n**FAIL**: the sync process failed\n\n```\n{first.log_tail}\n```\n"
            # then the rider rides once more: the one-ride resync of a 50,000-ride account
            ask("add")
            resync = _sync_child(served, work, "resync")
            after = ask("counts")
            resync_requests = {k: after[k] - requests[k] for k in after}
    finally:
        standin.stdin.close()
        standin.wait(timeout=30)
    return _section(first.report, requests, first.sampler, generate_s) + _resync_section(
        resync, resync_requests
    )


class _Child:
    def __init__(self, report: dict[str, Any] | None, sampler: Sampler, log_tail: str) -> None:
        self.report, self.sampler, self.log_tail = report, sampler, log_tail


def _sync_child(served: dict[str, Any], work: Path, label: str) -> _Child:
    """One sync (every leg) in a child process, sampled from here; its report, or None."""
    log_path = work / f"{label}.log"
    with open(log_path, "w") as log:
        child = subprocess.Popen(
            [
                sys.executable, "-m", "bench.bench_budget", "sync", served["url"], served["token"],
                str(work), label,
            ],
            stdout=log,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=ROOT,
        )  # fmt: skip
        sampler = Sampler(child.pid, work)
        sampler.start()
        assert child.stderr is not None
        for line in child.stderr:  # one line per leg, echoed as it ends
            print(f"   {label}: " + line.rstrip()[:200], file=sys.stderr, flush=True)
        child.wait()
        sampler.done.set()
        sampler.join()
    shutil.copy(log_path, SYNC_LOG.with_name(f"{SYNC_LOG.stem}-{label}.log"))  # for a closer look
    out = work / f"{label}.json"
    ok = child.returncode == 0 and out.exists()
    return _Child(json.loads(out.read_text()) if ok else None, sampler, log_path.read_text()[-2000:])


def _section(report: dict[str, Any], requests: dict[str, int], sampler: Sampler, generate_s: float) -> str:
    legs = report["legs"]
    counts = report["result"].get("counts", {})
    status = report["result"].get("status")
    over = [n for n, leg in enumerate(legs, 1) if leg["wall_s"] > LEG_SECONDS]
    tmp_peak_mb = max(sampler.tmp_peak.values(), default=0) / 2**20
    tree_peak_mb = max(sampler.tree_peak.values(), default=0) / 1024
    sync_hwm = sampler.hwm.get(sampler.pid, ("", 0))[1]
    children = {pid: v for pid, v in sampler.hwm.items() if pid != sampler.pid}
    child_name, child_hwm = max(children.values(), key=lambda v: v[1], default=("-", 0))
    ok = (
        status == "succeeded"
        and counts.get("downloaded") == N
        and not over
        and tree_peak_mb < MEMORY_MB
        and tmp_peak_mb < TMP_MB
    )
    note = " (quick mode)" if QUICK else ""
    lines = [
        f"## Lambda budget (bench_budget): {N:,} activities{note}",
        "",
        f"{verdict(ok)}: the sync {status} in **{len(legs)} legs** of at most {LEG_SECONDS:.0f} s "
        f"(longest {max(leg['wall_s'] for leg in legs):.0f} s; legs over their deadline: "
        f"{len(over)}), {counts.get('downloaded', 0):,}/{N:,} rides converted; peak memory of the "
        f"process tree **{tree_peak_mb:.0f} MB** of {MEMORY_MB} MB; peak /tmp of a leg "
        f"**{tmp_peak_mb:.0f} MB** of {TMP_MB} MB.",
        "",
        "| leg | wall s | deadline margin s | rides converted | ended | handed off in phase "
        "| peak /tmp MB | peak tree memory MB |",
        "|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for n, leg in enumerate(legs, 1):
        lines.append(
            f"| {n} | {leg['wall_s']:.0f} | {leg['margin_s']:.0f} | {leg['converted']:,} | {leg['status']} "
            f"| {leg['handed_off'] or '-'} | {sampler.tmp_peak.get(n, 0) / 2**20:.0f} "
            f"| {sampler.tree_peak.get(n, 0) / 1024:.0f} |"
        )
    first_map = report.get("first_map_s")
    lines += [
        "",
        "| totals | value |",
        "|---|---|",
        f"| sync wall time, all legs | {report['total_s']:.0f} s |",
        f"| time to the first map | {first_map:.0f} s |" if first_map else "| time to the first map | - |",
        f"| legs / publishes (early + final) | {len(legs)} / {report['publishes']} |",
        f"| intervals.icu requests: listing / download-fit-files / per-file / total (429s) | "
        f"{requests['listing']} / {requests['batch']} / {requests['per_file']} / {requests['total']} "
        f"({requests['rate_limited']}) |",
        f"| S3 writes / deletes | {report['s3_puts']:,} / {report['s3_deletes']:,} |",
        f"| peak RSS (VmHWM): sync process / largest child ({child_name}) | {sync_hwm / 1024:.0f} MB / "
        f"{child_hwm / 1024:.0f} MB |",
        f"| getrusage ru_maxrss: self / children | {report['self_maxrss_mb']:.0f} MB / "
        f"{report['children_maxrss_mb']:.0f} MB |",
        f"| counts | `{json.dumps(counts)}` |",
        "| phases (s from the start) | "
        + ", ".join(f"{at:.0f} {phase}" for at, phase in report.get("phases", []))
        + " |",
        "",
        f"Rides: {N:,} commutes of 20-60 min at 20-30 km/h, one record every {RECORD_EVERY_S} s "
        f"(smart recording, ~480 records), over {YEARS} years (`bench/fitgen.py`); generated before "
        f"timing in {generate_s:.0f} s (cached). Stand-in at {RATE:g} requests/s in its own process. "
        "Tree memory is Pss summed over the sync process and its children (Tippecanoe, tile-join), "
        "sampled every 0.1 s; /tmp is each leg's own directory, sampled every 0.5 s. ru_maxrss of "
        "children carries the forking process's RSS across fork+exec, so it over-states Tippecanoe. "
        f"The legs' logs: `{SYNC_LOG.with_name(SYNC_LOG.stem + '-first.log')}`.",
        "",
    ]
    return "\n".join(lines)


def _resync_section(resync: _Child, requests: dict[str, int]) -> str:
    """The one-ride resync after the first sync: what the README's cost table needs."""
    lines = ["", f"### One ride added to the {N:,}-ride account (resync)", ""]
    report = resync.report
    if report is None:
        return "\n".join([*lines, f"**FAIL**: the resync failed\n\n```\n{resync.log_tail}\n```", ""])
    counts = report["result"].get("counts", {})
    legs = report["legs"]
    ok = report["result"].get("status") == "succeeded" and counts.get("downloaded") == 1
    tree_peak_mb = max(resync.sampler.tree_peak.values(), default=0) / 1024
    tmp_peak_mb = max(resync.sampler.tmp_peak.values(), default=0) / 2**20
    lines += [
        f"{verdict(ok)}: the resync {report['result'].get('status')} in {len(legs)} leg(s).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| wall time (handler, all legs) | {report['total_s']:.1f} s |",
        f"| legs / publishes | {len(legs)} / {report['publishes']} |",
        f"| intervals.icu requests: listing / download-fit-files / per-file / total (429s) | "
        f"{requests['listing']} / {requests['batch']} / {requests['per_file']} / {requests['total']} "
        f"({requests['rate_limited']}) |",
        f"| S3 writes / deletes | {report['s3_puts']:,} / {report['s3_deletes']:,} |",
        f"| peak tree memory / peak /tmp | {tree_peak_mb:.0f} MB / {tmp_peak_mb:.0f} MB |",
        f"| counts | `{json.dumps(counts)}` |",
        "| phases (s from the start) | "
        + ", ".join(f"{at:.0f} {phase}" for at, phase in report.get("phases", []))
        + " |",
        "",
        f"The rider rides once more (`{NEW_RIDE_ID}`, the newest commute) and syncs again with the "
        "same code path, stored state and budget.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["standin"]:
        serve_standin(int(argv[1]), Path(argv[2]))
        return 0
    if argv[:1] == ["sync"]:
        url, token, tmp, label = argv[1:5]
        report = run_legs(url, token, Path(tmp))
        Path(tmp, f"{label}.json").write_text(json.dumps(report))
        return 0
    print(run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
