"""Re-tiling only what changed (issue 12): republishing the map after one ride is added to a
20,000-ride archive (tiles by year parts, warm parts cache: hash pass, re-tile one part,
tile-join) vs a full rebuild of the same archive into one file (``build_pmtiles``, what every
sync did before). Rides are already thinned lines of 400 points (a 1 h ride after the 2 m
thinning), ten years, around Zurich. The archive rewrite both paths share is not timed.
Target >= 5x. ``BENCH_QUICK=1`` runs 2,000 rides, said in the results.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import verdict

QUICK = os.environ.get("BENCH_QUICK") == "1"
ARCHIVE_RIDES = 2_000 if QUICK else 20_000
RIDE_POINTS = 400


def _thinned_ride(n: int, start: datetime) -> dict[str, Any]:
    rnd = random.Random(n)
    lon, lat = 8.54 + rnd.uniform(-0.8, 0.8), 47.37 + rnd.uniform(-0.5, 0.5)
    heading = rnd.uniform(0, 2 * math.pi)
    coords = []
    for _ in range(RIDE_POINTS):
        heading += rnd.gauss(0, 0.25)
        lat += 60 * math.cos(heading) / 111_195
        lon += 60 * math.sin(heading) / (111_195 * math.cos(math.radians(lat)))
        coords.append([round(lon, 6), round(lat, 6)])
    return {
        "type": "Feature",
        "properties": {
            "id": f"r{n}",
            "name": f"Ride {n}",
            "type": "Ride",
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "distance_m": 24_000.0,
        },
        "geometry": {"type": "LineString", "coordinates": coords},
    }


def bench_incremental() -> list[str]:
    from ridelines.adapters.memory import MemoryBlobStore
    from ridelines.archive import ArchiveWriter, encode_feature, rewrite_archive
    from ridelines.tile_parts import build_tiles_in_parts
    from ridelines.tiling import build_pmtiles

    newest = datetime(2026, 11, 1, 8, tzinfo=UTC)
    step = timedelta(days=3652.5 / ARCHIVE_RIDES)
    work = Path(tempfile.mkdtemp(prefix="bench-parts-"))
    try:
        archive = work / "a.geojson.zst"
        with ArchiveWriter(archive) as writer:
            for n in range(ARCHIVE_RIDES):
                writer.write_feature(_thinned_ride(n, newest - n * step))
        from ridelines.archive import iter_features

        started = time.perf_counter()
        full = build_pmtiles(iter_features(archive), work / "full.pmtiles")
        full_s = time.perf_counter() - started

        blobs = MemoryBlobStore()
        prefix = "athletes/b/parts/"
        started = time.perf_counter()
        first = build_tiles_in_parts(
            archive, work / "parts.pmtiles", blobs=blobs, prefix=prefix, workdir=work
        )
        first_parts_s = time.perf_counter() - started

        added = work / "b.geojson.zst"
        new_ride = _thinned_ride(10**6, newest + timedelta(hours=5))
        rewrite_archive(archive, added, keep=lambda i: True, additions=[encode_feature(new_ride)])
        started = time.perf_counter()
        again = build_tiles_in_parts(added, work / "again.pmtiles", blobs=blobs, prefix=prefix, workdir=work)
        incremental_s = time.perf_counter() - started
        sizes = (full.bytes, again.path.stat().st_size)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = full_s / incremental_s
    note = " (quick mode: 2,000 rides)" if QUICK else ""
    return [
        f"### One ride added to a {ARCHIVE_RIDES:,}-ride archive{note}",
        "",
        f"{verdict(ratio >= 5 and again.tiled == [new_ride['properties']['start'][:4]])}: republishing the map "
        f"takes **{ratio:.1f}x** less wall time than a full rebuild (target >= 5x); re-tiled parts: "
        f"{', '.join(again.tiled)} of {len(again.parts)}.",
        "",
        "| build | seconds | Tippecanoe runs | size |",
        "|---|---:|---:|---:|",
        f"| full rebuild, one file (`build_pmtiles`, baseline) | {full_s:.1f} | 1 | {sizes[0] / 1e6:.1f} MB |",
        f"| first build by year parts (cold cache) + tile-join | {first_parts_s:.1f} | {first.tippecanoe_runs} | |",
        f"| one ride added: hash pass + 1 part + tile-join (warm cache) | {incremental_s:.1f} "
        f"| {again.tippecanoe_runs} | {sizes[1] / 1e6:.1f} MB |",
        "",
    ]


def run() -> str:
    return "\n".join(["## Re-tiling one ride (bench_incremental)", "", *bench_incremental()]) + "\n"


if __name__ == "__main__":
    print(run())
