"""Rides list, explorer layer and export: one streaming pass over the archive (issue 13.3/13.4, 10.6)."""

from __future__ import annotations

import gzip
import json
import math
import random
import tracemalloc
from pathlib import Path

from ridelines.archive import ArchiveWriter, encode_feature, iter_lines, line_hash
from ridelines.data_products import from_archive, ride_products
from ridelines.explorer import feature_tiles, max_square
from ridelines.features import fit_to_feature
from ridelines.rides_list import bbox

FIT_DIR = Path(__file__).resolve().parents[2] / "data" / "fit"
REAL = [
    "sports-lib/rides/fit/614953343.fit",
    "sports-lib/rides/fit/828989227.fit",
    "python-fitparse/Edge810-Vector-2013-08-16-15-35-10.fit",
    "fit-file-faker/zwift_20250401.fit",  # virtual: in the export, not on the map, list or explorer
]


def real_features() -> list[dict]:
    features = []
    for n, name in enumerate(REAL):
        feature = fit_to_feature((FIT_DIR / name).read_bytes(), source=name)
        assert feature is not None
        feature["properties"]["id"] = f"r{n}"
        feature["properties"]["name"] = f"ride {n}"
        features.append(feature)
    return features


def write_archive(path: Path, features: list[dict]) -> Path:
    with ArchiveWriter(path) as writer:
        for feature in features:
            writer.write_feature(feature)
    return path


def test_one_pass_gives_the_three_products(tmp_path: Path) -> None:
    features = real_features()
    archive = write_archive(tmp_path / "a.zst", features)
    work = tmp_path / "work"
    work.mkdir()
    products = from_archive(archive, work)

    # export: every feature of the archive, byte for byte what the archive holds, virtual ones too
    exported = json.loads(gzip.decompress(products.export.read_bytes()))
    assert exported["type"] == "FeatureCollection"
    assert exported["features"] == [json.loads(line) for line in iter_lines(archive)]
    assert [f["properties"]["id"] for f in exported["features"]] == ["r0", "r1", "r2", "r3"]

    # rides list: outdoor rides only, newest first, the contract's fields
    rides = json.loads(products.rides.read_bytes())["rides"]
    starts = [r["start"] for r in rides]
    assert starts == sorted(starts, reverse=True)
    assert {r["id"] for r in rides} == {"r0", "r1", "r2"}
    assert set(rides[0]) == {
        "id", "name", "type", "start", "distance_m", "moving_s", "elevation_gain_m", "trainer", "bbox",
    }  # fmt: skip
    for ride in rides:
        source = next(f for f in features if f["properties"]["id"] == ride["id"])
        coordinates = source["geometry"]["coordinates"]
        points = (
            coordinates
            if source["geometry"]["type"] == "LineString"
            else [p for line in coordinates for p in line]
        )
        assert ride["bbox"] == [
            round(min(p[0] for p in points), 6),
            round(min(p[1] for p in points), 6),
            round(max(p[0] for p in points), 6),
            round(max(p[1] for p in points), 6),
        ]
        assert ride["name"] == source["properties"]["name"]
        assert ride["distance_m"] == source["properties"]["distance_m"]

    # explorer: the union of the outdoor rides' tiles
    union = set().union(*(feature_tiles(f) for f in features[:3]))
    explorer = json.loads(products.explorer.read_bytes())
    assert explorer["zoom"] == 14 and explorer["tiles"] == [list(t) for t in sorted(union)]
    square = max_square(union)
    assert square is not None
    assert explorer["max_square"] == {"x": square.x, "y": square.y, "size": square.size}
    assert products.explorer_summary == {"tiles": len(union), "max_square": square.size}


def test_hashes_follow_the_content_only(tmp_path: Path) -> None:
    features = real_features()
    (tmp_path / "1").mkdir(), (tmp_path / "2").mkdir(), (tmp_path / "3").mkdir()
    first = from_archive(write_archive(tmp_path / "a.zst", features), tmp_path / "1")
    again = from_archive(write_archive(tmp_path / "b.zst", features), tmp_path / "2")
    assert (first.rides_hash, first.export_hash) == (again.rides_hash, again.export_hash)
    assert first.export.read_bytes() == again.export.read_bytes()  # no time or name in the gzip header
    features[1]["properties"]["name"] = "renamed"
    renamed = from_archive(write_archive(tmp_path / "c.zst", features), tmp_path / "3")
    assert renamed.rides_hash != first.rides_hash and renamed.export_hash != first.export_hash


def test_an_empty_or_missing_archive_gives_empty_products(tmp_path: Path) -> None:
    products = from_archive(tmp_path / "missing.zst", tmp_path)
    assert json.loads(gzip.decompress(products.export.read_bytes())) == {
        "type": "FeatureCollection",
        "features": [],
    }
    assert json.loads(products.rides.read_bytes()) == {"rides": []}
    assert json.loads(products.explorer.read_bytes()) == {"zoom": 14, "tiles": [], "max_square": None}
    assert products.explorer_summary == {"tiles": 0, "max_square": 0}


def test_rides_without_a_start_come_last(tmp_path: Path) -> None:
    line = {"type": "LineString", "coordinates": [[8.5, 47.3], [8.6, 47.4]]}
    features = [
        {"type": "Feature", "properties": {"id": "old", "start": "2020-01-01T08:00:00Z"}, "geometry": line},
        {"type": "Feature", "properties": {"id": "nodate", "start": None}, "geometry": line},
        {"type": "Feature", "properties": {"id": "new", "start": "2024-06-01T08:00:00Z"}, "geometry": line},
    ]
    products = from_archive(write_archive(tmp_path / "a.zst", features), tmp_path)
    rides = json.loads(products.rides.read_bytes())["rides"]
    assert [r["id"] for r in rides] == ["new", "old", "nodate"]
    assert rides[0]["trainer"] is False and rides[0]["elevation_gain_m"] is None


def test_bbox_over_the_antimeridian_is_the_short_way_round() -> None:
    assert bbox([[[179.9, -16.8], [-179.9, -16.7]]]) == [179.9, -16.8, -179.9, -16.7]
    assert bbox([[[8.5, 47.3], [8.6, 47.4]]]) == [8.5, 47.3, 8.6, 47.4]
    assert bbox([]) is None


def synthetic_ride(n: int, points: int) -> dict:
    rng = random.Random(n)
    lon, lat = 8.5 + rng.uniform(-0.05, 0.05), 47.35 + rng.uniform(-0.05, 0.05)
    line = []
    for i in range(points):
        lon += 0.0001 * math.cos(i / 300 + n)
        lat += 0.0001 * math.sin(i / 300 + n)
        line.append([round(lon, 7), round(lat, 7), 400.0])
    return {
        "type": "Feature",
        "properties": {"id": f"s{n}", "name": f"ride {n}", "start": f"2024-01-01T{n % 24:02d}:00:00Z"},
        "geometry": {"type": "LineString", "coordinates": line},
    }


def peak_memory(archive: Path, work: Path) -> int:
    work.mkdir()
    tracemalloc.start()
    try:
        from_archive(archive, work)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_whatever_the_archive_size(tmp_path: Path) -> None:
    """The pass holds one ride's track at a time: four times the rides, about the same peak."""
    sizes = {}
    for rides in (30, 120):
        archive = tmp_path / f"{rides}.zst"
        with ArchiveWriter(archive) as writer:
            for n in range(rides):
                writer.write_feature(synthetic_ride(n, 4000))
        sizes[rides] = (peak_memory(archive, tmp_path / str(rides)), archive.stat().st_size)
    (small_peak, small_size), (big_peak, big_size) = sizes[30], sizes[120]
    assert big_size > 3.5 * small_size
    assert big_peak < 1.25 * small_peak, sizes


def test_a_second_pass_reuses_every_unchanged_ride_and_gives_the_same_bytes(tmp_path: Path) -> None:
    features = real_features()
    archive = write_archive(tmp_path / "a.zst", features)
    for name in ("cold", "warm", "renamed", "fresh", "other-settings", "damaged"):
        (tmp_path / name).mkdir()
    cold = from_archive(archive, tmp_path / "cold")
    assert (cold.reused, cold.computed) == (0, 4)
    warm = from_archive(archive, tmp_path / "warm", previous_cache=cold.cache)
    assert (warm.reused, warm.computed) == (4, 0)
    for attribute in ("rides", "explorer", "export"):
        assert getattr(warm, attribute).read_bytes() == getattr(cold, attribute).read_bytes()

    # one ride changed: only it is recomputed, and the result is what a pass without cache gives
    features[2]["properties"]["name"] = "renamed"
    features[2]["geometry"]["coordinates"] = features[2]["geometry"]["coordinates"][:200]
    changed = write_archive(tmp_path / "b.zst", features)
    renamed = from_archive(changed, tmp_path / "renamed", previous_cache=warm.cache)
    fresh = from_archive(changed, tmp_path / "fresh")
    assert (renamed.reused, renamed.computed) == (3, 1)
    for attribute in ("rides", "explorer", "export"):
        assert getattr(renamed, attribute).read_bytes() == getattr(fresh, attribute).read_bytes()
    assert renamed.explorer_summary == fresh.explorer_summary != cold.explorer_summary

    # a cache made with other settings, or damaged, is not trusted
    other = from_archive(
        changed, tmp_path / "other-settings", include_virtual=True, previous_cache=renamed.cache
    )
    assert other.reused == 0 and {r["id"] for r in json.loads(other.rides.read_bytes())["rides"]} == {
        "r0", "r1", "r2", "r3",
    }  # fmt: skip
    damaged_cache = tmp_path / "damaged.zst"
    damaged_cache.write_bytes(renamed.cache.read_bytes()[:40])
    damaged = from_archive(changed, tmp_path / "damaged", previous_cache=damaged_cache)
    assert damaged.reused == 0 and damaged.rides.read_bytes() == fresh.rides.read_bytes()


def test_products_known_from_the_converter_give_the_same_bytes_without_parsing(tmp_path: Path) -> None:
    """The sync's converters compute each new ride's products from the feature they encoded; the
    final pass reuses them by line hash (nothing parsed) and writes exactly what parsing gives,
    the next sync's cache included."""
    features = real_features()
    archive = write_archive(tmp_path / "a.zst", features)
    for name in ("parsed", "known"):
        (tmp_path / name).mkdir()
    parsed = from_archive(archive, tmp_path / "parsed")
    known = {
        line_hash(encode_feature(f)): ride_products(f, include_virtual=False) for f in features
    }  # from the features themselves, as the converter has them (tuples, not parsed JSON)
    reused = from_archive(archive, tmp_path / "known", known=known)
    assert (reused.reused, reused.computed) == (4, 0)
    for attribute in ("rides", "explorer", "export", "cache"):
        assert getattr(reused, attribute).read_bytes() == getattr(parsed, attribute).read_bytes()
