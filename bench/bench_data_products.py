"""The publish-time pass over the archive: rides list + explorer layer + export (``ridelines.data_products``).

Measured on a realistic 5000-ride archive (``bench/fitgen.py`` rides, 0.5-3 h at 1 Hz around Zurich,
converted by the real FIT pipeline, as a sync would store them). Reported, from one run:

* the whole pass, without the per-ride cache (a first publish) and with it (a resync, where only
  changed rides are recomputed), as ratios to the floor of a pass that parses the archive:
  decompressing it and ``json.loads`` of every line, nothing else;
* each product alone over the parsed features (explorer, rides list) and the export's gzip;
* peak memory of the pass (``tracemalloc``) against the archive's uncompressed size.

Run: ``PYTHONPATH=lambdas:local python -m bench.bench_data_products [N]`` (the archive is built once
and cached in ``$TMPDIR/ridelines-bench-archive-N.zst``).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.fitgen import ride
from ridelines.archive import ArchiveWriter, iter_lines
from ridelines.data_products import EXPORT_GZIP_LEVEL, from_archive
from ridelines.explorer import ExplorerAccumulator
from ridelines.features import ActivityMeta, fit_to_feature
from ridelines.rides_list import RidesListBuilder


def build_archive(n: int, path: Path) -> None:
    rnd = random.Random(4)
    newest = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    step_h = 10 * 365.25 * 24 / n
    partial = path.with_suffix(".partial")
    with ArchiveWriter(partial) as writer:
        for k in range(n):
            hours = rnd.uniform(0.5, 3.0)
            start = (newest - timedelta(hours=k * step_h)).replace(microsecond=0)
            meta = ActivityMeta(id=f"r{k}", name=f"Ride {k}", type="Ride", start=start)
            feature = fit_to_feature(ride(4 * 1_000_003 + k, start, hours), meta, source=f"r{k}")
            assert feature is not None
            writer.write_feature(feature)
    os.replace(partial, path)


def timed(label: str, results: dict[str, float], work: object) -> None:
    started = time.perf_counter()
    work()  # type: ignore[operator]
    results[label] = time.perf_counter() - started


def run(n: int = 5000) -> str:
    archive = Path(tempfile.gettempdir()) / f"ridelines-bench-archive-{n}.zst"
    if not archive.exists():
        build_archive(n, archive)
    lines = sum(1 for _ in iter_lines(archive))
    uncompressed = sum(len(line) for line in iter_lines(archive))
    results: dict[str, float] = {}

    timed(
        "floor: decompress + json.loads", results, lambda: [json.loads(line) for line in iter_lines(archive)]
    )

    def explorer_only() -> None:
        layer = ExplorerAccumulator()
        for line in iter_lines(archive):
            layer.add(json.loads(line))
        layer.document()

    def rides_only() -> None:
        rides = RidesListBuilder()
        for line in iter_lines(archive):
            rides.add(json.loads(line))
        rides.document()

    def export_only() -> None:
        with gzip.GzipFile(os.devnull, "wb", compresslevel=EXPORT_GZIP_LEVEL, mtime=0) as out:
            for line in iter_lines(archive):
                out.write(line)

    timed("explorer (incl. floor)", results, explorer_only)
    timed("rides list (incl. floor)", results, rides_only)
    timed("export gzip (decompress + gzip, no parse)", results, export_only)
    with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as again:
        started = time.perf_counter()
        cold = from_archive(archive, Path(work))
        results["whole pass, no cache (first publish)"] = time.perf_counter() - started
        started = time.perf_counter()
        warm = from_archive(archive, Path(again), previous_cache=cold.cache)
        results["whole pass, per-ride cache (a resync: every ride unchanged)"] = time.perf_counter() - started
        assert warm.reused == lines and warm.rides.read_bytes() == cold.rides.read_bytes()
        assert warm.explorer.read_bytes() == cold.explorer.read_bytes()
    with tempfile.TemporaryDirectory() as work:
        tracemalloc.start()  # a second run: tracing slows Python several times over
        products = from_archive(archive, Path(work))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        export_mb = products.export.stat().st_size / 1e6
        rides_kb = products.rides.stat().st_size / 1e3
        explorer_kb = products.explorer.stat().st_size / 1e3
        summary = products.explorer_summary
    floor = results["floor: decompress + json.loads"]
    out = [
        f"## Publish-time data products ({lines} rides, archive {archive.stat().st_size / 1e6:.1f} MB, "
        f"{uncompressed / 1e6:.0f} MB uncompressed)",
        "",
        "| step | seconds | x floor |",
        "|---|---|---|",
    ]
    out += [f"| {label} | {seconds:.1f} | {seconds / floor:.2f} |" for label, seconds in results.items()]
    out += [
        "",
        f"Explorer: {summary['tiles']} tiles, max square {summary['max_square']} ({explorer_kb:.0f} KB); "
        f"rides list {rides_kb:.0f} KB; export {export_mb:.1f} MB gzip. Peak traced memory of the pass "
        f"{peak / 1e6:.1f} MB ({peak / uncompressed:.3f} of the uncompressed archive).",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
