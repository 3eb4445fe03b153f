"""Tile build: 1000 rides x 3600 points around one city, our settings vs the original system's.

Same in-memory features for both; best of two runs each. Original: the features written as GeoJSONSeq, then
``tippecanoe --preserve-input-order -fl activities`` (default zooms 0-14, default dropping).
Ours: ``ridelines.tiling.build_pmtiles`` (thinning, streaming to Tippecanoe, z0-12, nothing
dropped). Both timings include serialisation. Target: >= 3x faster, with every ride present in
our tiles at every zoom from 1 up (checked by decoding every tile).
"""

from __future__ import annotations

import gzip
import json
import math
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pmtiles.reader import MmapSource, Reader, all_tiles

from ridelines.tiling import LAYER, build_pmtiles, find_tippecanoe

RIDES = 1000
POINTS = 3600
CENTRE = (8.5417, 47.3769)  # Zurich
TARGET = 3.0
ORIGINAL_ARGS = ["--preserve-input-order", "-fl", LAYER]


def rides(n: int = RIDES, points: int = POINTS, seed: int = 7) -> Iterator[dict]:
    """1 Hz rides at ~25 km/h starting within ~8 km of the centre, wandering like real roads."""
    rnd = random.Random(seed)
    m_per_deg = 111_195.0
    for i in range(n):
        lon = CENTRE[0] + rnd.uniform(-0.1, 0.1)
        lat = CENTRE[1] + rnd.uniform(-0.07, 0.07)
        heading = rnd.uniform(0, 2 * math.pi)
        coords = []
        for _ in range(points):
            heading += rnd.gauss(0, 0.08)
            lat += 7.0 * math.cos(heading) / m_per_deg
            lon += 7.0 * math.sin(heading) / (m_per_deg * math.cos(math.radians(lat)))
            coords.append([round(lon, 6), round(lat, 6), 400.0])
        yield {
            "type": "Feature",
            "properties": {"id": f"ride-{i}", "type": "Ride", "virtual": False, "trainer": False},
            "geometry": {"type": "LineString", "coordinates": coords},
        }


# --- minimal MVT reading: only feature ids, geometry bytes skipped (decoding it all is slow) --


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, value
        elif wire == 2:
            size, pos = _varint(buf, pos)
            yield number, buf[pos : pos + size]
            pos += size
        elif wire == 5:
            pos += 4
        elif wire == 1:
            pos += 8
        else:
            raise ValueError(f"wire type {wire}")


def tile_ids(tile: bytes, key_name: str = "id") -> set[str]:
    ids: set[str] = set()
    for number, layer in _fields(tile):
        if number != 3 or not isinstance(layer, bytes):
            continue
        keys, values, features = [], [], []
        name = b""
        for n, v in _fields(layer):
            if n == 1 and isinstance(v, bytes):
                name = v
            elif n == 2:
                features.append(v)
            elif n == 3 and isinstance(v, bytes):
                keys.append(v.decode())
            elif n == 4 and isinstance(v, bytes):
                values.append(next((x for f, x in _fields(v) if f == 1), None))
        if name.decode() != LAYER or key_name not in keys:
            continue
        id_key = keys.index(key_name)
        for feature in features:
            assert isinstance(feature, bytes)
            for n, v in _fields(feature):
                if n == 2 and isinstance(v, bytes):
                    tags, pos = [], 0
                    while pos < len(v):
                        t, pos = _varint(v, pos)
                        tags.append(t)
                    for k, val in zip(tags[::2], tags[1::2], strict=True):
                        value = values[val]
                        if k == id_key and isinstance(value, bytes):
                            ids.add(value.decode())
    return ids


def ids_per_zoom(path: Path) -> tuple[dict[int, set[str]], int]:
    per_zoom: dict[int, set[str]] = {}
    count = 0
    with open(path, "rb") as f:
        reader = Reader(MmapSource(f))
        for (z, _x, _y), data in all_tiles(reader.get_bytes):
            count += 1
            per_zoom.setdefault(z, set()).update(tile_ids(gzip.decompress(data)))
    return per_zoom, count


def _original(features: list[dict], work: Path) -> Path:
    source = work / "activities.geojsonl"
    with open(source, "w") as f:
        for feature in features:
            f.write(json.dumps(feature, separators=(",", ":")) + "\n")
    out = work / "original.pmtiles"
    subprocess.run([find_tippecanoe(), *ORIGINAL_ARGS, "-q", "-o", str(out), str(source)], check=True)
    return out


def _coverage(per_zoom: dict[int, set[str]], zooms: range) -> str:
    return ", ".join(f"z{z}: {len(per_zoom.get(z, set()))}" for z in zooms)


def run() -> str:
    features = list(rides())
    all_ids = {f["properties"]["id"] for f in features}
    work = Path(tempfile.mkdtemp(prefix="bench-tiles-"))
    try:
        original_s = ours_s = float("inf")
        for _ in range(2):  # best of 2 for both: the machine is shared
            started = time.perf_counter()
            original = _original(features, work)
            original_s = min(original_s, time.perf_counter() - started)

            started = time.perf_counter()
            ours = build_pmtiles(iter(features), work / "ours.pmtiles")
            ours_s = min(ours_s, time.perf_counter() - started)

        ours_zoom, ours_tiles = ids_per_zoom(ours.path)
        orig_zoom, orig_tiles = ids_per_zoom(original)
        max_zoom = max(ours_zoom)
        missing = {z: len(all_ids - ours_zoom.get(z, set())) for z in range(1, max_zoom + 1)}
        complete = not any(missing.values())
        ratio = original_s / ours_s
        verdict = "PASS" if ratio >= TARGET and complete else "**FAIL**"
        orig_size, ours_size = original.stat().st_size, ours.path.stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return (
        "\n".join(
            [
                "## Tile build (bench_tiles)",
                "",
                f"{verdict}: {RIDES} rides x {POINTS} points around Zurich: ours **{ratio:.1f}x** faster than the "
                f"original settings (target >= {TARGET:.0f}x); every ride at every zoom 1-{max_zoom}: "
                f"{'yes' if complete else 'NO, missing ' + str(missing)}.",
                "",
                "| build | seconds | zooms | tiles | size |",
                "|---|---:|---:|---:|---:|",
                f"| original: GeoJSONSeq file + `tippecanoe {' '.join(ORIGINAL_ARGS)}` | {original_s:.1f} "
                f"| {min(orig_zoom)}-{max(orig_zoom)} | {orig_tiles} | {orig_size / 1e6:.1f} MB |",
                f"| ours: `build_pmtiles` (2 m thinning, streamed, z0-12, no dropping below 2 MB tiles) | {ours_s:.1f} "
                f"| {min(ours_zoom)}-{max_zoom} | {ours_tiles} | {ours_size / 1e6:.1f} MB |",
                "",
                f"Rides present per zoom, original: {_coverage(orig_zoom, range(0, max(orig_zoom) + 1))}.",
                f"Rides present per zoom, ours: {_coverage(ours_zoom, range(0, max_zoom + 1))}.",
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    print(run())
