"""The map by parts: real Tippecanoe and tile-join, decoded back tile by tile.

Adding one ride re-tiles only its year's part (Tippecanoe runs counted), the merged file is one
PMTiles with one layer ``activities`` and every ride id at every zoom 1..12, and a change of the
tiling transform (privacy) re-tiles every part.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from pmtiles.reader import MmapSource, Reader, all_tiles

from ridelines import tile_parts, tiling
from ridelines.adapters.memory import MemoryBlobStore
from ridelines.archive import ArchiveWriter, iter_features, line_hash, rewrite_archive
from ridelines.tile_parts import build_tiles_in_parts, parts_prefix

PREFIX = parts_prefix("athletes/i7/activities.geojson.zst")


def ride(n: int, year: int, *, dense: bool = False) -> dict[str, Any]:
    """A 12 km ride near Zurich (dense: all in one small area, to pile rides into one tile)."""
    rnd = random.Random(n)
    spread = 0.01 if dense else 0.3
    lon, lat = 8.54 + rnd.uniform(-spread, spread), 47.37 + rnd.uniform(-spread, spread)
    heading = rnd.uniform(0, 2 * math.pi)
    coords = []
    for _ in range(300):
        heading += rnd.gauss(0, 0.2)
        lat += 40 * math.cos(heading) / 111_195
        lon += 40 * math.sin(heading) / (111_195 * math.cos(math.radians(lat)))
        coords.append([round(lon, 6), round(lat, 6)])
    return {
        "type": "Feature",
        "properties": {
            "id": f"r{n}",
            "name": f"Ride {n}",
            "type": "Ride",
            "start": f"{year}-06-0{1 + n % 9}T08:00:00Z",
        },
        "geometry": {"type": "LineString", "coordinates": coords},
    }


def write_archive(path: Path, features: list[dict[str, Any]]) -> Path:
    with ArchiveWriter(path) as writer:
        for feature in features:
            writer.write_feature(feature)
    return path


def ids_by_zoom(path: Path) -> tuple[dict[int, set[str]], set[str]]:
    ids: dict[int, set[str]] = {}
    layers: set[str] = set()
    with open(path, "rb") as f:
        reader = Reader(MmapSource(f))
        for (z, _x, _y), data in all_tiles(reader.get_bytes):
            tile = mapbox_vector_tile.decode(gzip.decompress(data))
            layers.update(tile)
            for feature in tile.get(tiling.LAYER, {"features": []})["features"]:
                ids.setdefault(z, set()).add(str(feature["properties"]["id"]))
    return ids, layers


def tiles_of(path: Path) -> dict[tuple[int, int, int], bytes]:
    """Every tile's decoded bytes (the files' metadata names Tippecanoe's scratch paths)."""
    with open(path, "rb") as f:
        return {zxy: gzip.decompress(data) for zxy, data in all_tiles(Reader(MmapSource(f)).get_bytes)}


@pytest.fixture
def history() -> list[dict[str, Any]]:
    return [ride(n, 2019 + n % 3, dense=n % 2 == 0) for n in range(30)] + [
        {**ride(99, 2020), "properties": {"id": "undated-1", "type": "Ride"}}
    ]


def test_one_new_ride_retiles_only_its_part_and_every_ride_stays_at_every_zoom(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    blobs = MemoryBlobStore()
    archive = write_archive(tmp_path / "a.zst", history)
    first = build_tiles_in_parts(
        archive, tmp_path / "map1.pmtiles", blobs=blobs, prefix=PREFIX, workdir=tmp_path
    )
    assert sorted(first.tiled) == ["2019", "2020", "2021", "undated"]
    assert first.tippecanoe_runs == 4 and not first.reused
    assert sorted(blobs.list_keys(PREFIX)) == sorted(p.key(PREFIX) for p in first.parts)

    # one new ride in 2021: the archive is rewritten the way the sync does it (order changes)
    new = ride(500, 2021, dense=True)
    updated = tmp_path / "b.zst"
    rewrite_archive(archive, updated, keep=lambda i: True, additions=[_line(new)])
    second = build_tiles_in_parts(
        updated, tmp_path / "map2.pmtiles", blobs=blobs, prefix=PREFIX, workdir=tmp_path
    )
    assert second.tiled == ["2021"]
    assert sorted(second.reused) == ["2019", "2020", "undated"]
    old_2021 = next(p.key(PREFIX) for p in first.parts if p.name == "2021")
    assert second.deleted_keys == [old_2021] and not blobs.exists(old_2021)

    every_id = {f["properties"]["id"] for f in iter_features(updated)}
    assert len(every_id) == len(history) + 1
    ids, layers = ids_by_zoom(second.path)
    assert layers == {tiling.LAYER}
    for zoom in range(1, 13):
        assert ids.get(zoom, set()) == every_id, f"z{zoom} misses {every_id - ids.get(zoom, set())}"

    # nothing changed: nothing is tiled again, and the merged map is the same
    third = build_tiles_in_parts(
        updated, tmp_path / "map3.pmtiles", blobs=blobs, prefix=PREFIX, workdir=tmp_path
    )
    assert third.tippecanoe_runs == 0
    assert ids_by_zoom(third.path)[0] == ids


def test_a_changed_transform_retiles_every_part_and_applies_per_part(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    blobs = MemoryBlobStore()
    archive = write_archive(tmp_path / "a.zst", history)
    build_tiles_in_parts(archive, tmp_path / "m1.pmtiles", blobs=blobs, prefix=PREFIX, workdir=tmp_path)
    seen: list[str] = []

    def hide_r1(features: Any) -> Any:  # stands in for privacy: drops one ride from the map
        for feature in features:
            seen.append(feature["properties"]["id"])
            if feature["properties"]["id"] != "r1":
                yield feature

    result = build_tiles_in_parts(
        archive,
        tmp_path / "m2.pmtiles",
        blobs=blobs,
        prefix=PREFIX,
        workdir=tmp_path,
        transform=hide_r1,
        transform_key="zones-v1",
    )
    assert sorted(result.tiled) == ["2019", "2020", "2021", "undated"]
    assert sorted(seen) == sorted(f["properties"]["id"] for f in history)
    ids, _ = ids_by_zoom(result.path)
    assert "r1" not in ids[12] and "r3" in ids[12]
    assert len(list(blobs.list_keys(PREFIX))) == 4  # the old settings' parts are gone


def test_a_lost_part_object_is_tiled_again(tmp_path: Path, history: list[dict[str, Any]]) -> None:
    blobs = MemoryBlobStore()
    archive = write_archive(tmp_path / "a.zst", history)
    first = build_tiles_in_parts(
        archive, tmp_path / "m1.pmtiles", blobs=blobs, prefix=PREFIX, workdir=tmp_path
    )
    blobs.delete(next(p.key(PREFIX) for p in first.parts if p.name == "2020"))
    again = build_tiles_in_parts(
        archive, tmp_path / "m2.pmtiles", blobs=blobs, prefix=PREFIX, workdir=tmp_path
    )
    assert again.tiled == ["2020"]
    assert ids_by_zoom(again.path)[0][12] == {f["properties"]["id"] for f in history}


def test_an_empty_archive_gives_a_valid_empty_map(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.zst", [])
    result = build_tiles_in_parts(
        archive, tmp_path / "m.pmtiles", blobs=MemoryBlobStore(), prefix=PREFIX, workdir=tmp_path
    )
    assert result.parts == [] and result.tippecanoe_runs == 0
    ids, layers = ids_by_zoom(result.path)
    assert ids == {} and layers == {tiling.LAYER}


def test_part_names_follow_the_start_year() -> None:
    assert tile_parts.part_of({"start": "2023-12-31T23:59:59Z"}) == "2023"
    assert tile_parts.part_of({"start": None}) == tile_parts.UNDATED_PART
    assert tile_parts.part_of({}) == tile_parts.UNDATED_PART
    line = _line(
        {
            **ride(1, 2022),
            "properties": {"id": "x", "name": 'tricky ,"geometry": name', "start": "2022-01-01T00:00:00Z"},
        }
    )
    assert tile_parts.line_properties(line)["name"] == 'tricky ,"geometry": name'


def _line(feature: dict[str, Any]) -> bytes:
    from ridelines.archive import encode_feature

    return encode_feature(feature)


def test_out_of_time_stops_between_parts_and_the_next_attempt_tiles_only_the_rest(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    blobs = MemoryBlobStore()
    archive = write_archive(tmp_path / "a.zst", history)
    asked: list[int] = []

    def out_of_time() -> bool:  # time for two parts, then the leg's deadline is near
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(tile_parts.PartsIncomplete):
        build_tiles_in_parts(
            archive,
            tmp_path / "m1.pmtiles",
            blobs=blobs,
            prefix=PREFIX,
            workdir=tmp_path,
            parallel=1,
            out_of_time=out_of_time,
        )
    assert len(list(blobs.list_keys(PREFIX))) == 2 and not (tmp_path / "m1.pmtiles").exists()
    resumed = build_tiles_in_parts(
        archive, tmp_path / "m2.pmtiles", blobs=blobs, prefix=PREFIX, workdir=tmp_path
    )
    assert resumed.tippecanoe_runs == 2 and len(resumed.reused) == 2
    assert ids_by_zoom(resumed.path)[0][12] == {f["properties"]["id"] for f in history}


def test_parts_tiled_ahead_without_a_merge_are_reused_and_nothing_is_deleted(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    """An early tiling of the years a first sync has completed: their parts go into the cache, no
    map is written and no other stored part is deleted; the next merge reuses them."""
    blobs = MemoryBlobStore()
    first = build_tiles_in_parts(
        write_archive(tmp_path / "a.zst", history), tmp_path / "m1.pmtiles", blobs=blobs, prefix=PREFIX,
        workdir=tmp_path,
    )  # fmt: skip
    stored = set(blobs.list_keys(PREFIX))
    more = [ride(n, 2022) for n in range(600, 605)]  # a year completed meanwhile
    ahead = build_tiles_in_parts(
        write_archive(tmp_path / "b.zst", more), tmp_path / "ahead.pmtiles", blobs=blobs, prefix=PREFIX,
        workdir=tmp_path, merge=False,
    )  # fmt: skip
    assert ahead.tiled == ["2022"] and not ahead.deleted_keys
    assert not (tmp_path / "ahead.pmtiles").exists()
    assert set(blobs.list_keys(PREFIX)) == stored | {ahead.parts[0].key(PREFIX)}  # 2019-2021 kept
    merged = build_tiles_in_parts(
        write_archive(tmp_path / "c.zst", history + more), tmp_path / "m2.pmtiles", blobs=blobs,
        prefix=PREFIX, workdir=tmp_path,
    )  # fmt: skip
    assert merged.tippecanoe_runs == 0 and sorted(merged.reused) == sorted([*first.tiled, "2022"])
    assert ids_by_zoom(merged.path)[0][12] == {f["properties"]["id"] for f in history + more}


def test_out_of_time_after_the_last_part_stores_every_part_and_merges_nothing(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    """Asked once more before the merge (an early map stopped because the downloads ended: the
    final merge follows at once, so a merged file now would be thrown away)."""
    blobs = MemoryBlobStore()
    archive = write_archive(tmp_path / "a.zst", history)
    asked: list[int] = []

    def out_of_time() -> bool:  # every part is tiled, then the stop comes
        asked.append(1)
        return len(asked) > 4

    with pytest.raises(tile_parts.PartsIncomplete, match="merging"):
        build_tiles_in_parts(
            archive, tmp_path / "m1.pmtiles", blobs=blobs, prefix=PREFIX, workdir=tmp_path,
            parallel=1, out_of_time=out_of_time,
        )  # fmt: skip
    assert len(asked) == 5 and len(list(blobs.list_keys(PREFIX))) == 4
    assert not (tmp_path / "m1.pmtiles").exists()
    resumed = build_tiles_in_parts(
        archive, tmp_path / "m2.pmtiles", blobs=blobs, prefix=PREFIX, workdir=tmp_path
    )
    assert resumed.tippecanoe_runs == 0 and len(resumed.reused) == 4 and resumed.path.exists()


def _known_tile_lines(features: list[dict[str, Any]], budget: int = 1 << 30) -> tile_parts.TileLines:
    """What a sync's converters hand over: each ride's Tippecanoe line by its archive line's hash."""
    known = tile_parts.TileLines(budget)
    for feature in features:
        line = _line(feature)
        known.add(line_hash(line), tiling.tile_line(json.loads(line)) or b"")
    return known


def test_ready_tile_lines_build_the_same_parts_as_parsing_the_archive(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    """The converters' lines go to Tippecanoe as they are: the same part files, byte for byte, as
    parsing and thinning every archive line, and every ride is drawn from them."""
    virtual = {**ride(77, 2020), "properties": {**ride(77, 2020)["properties"], "id": "v77", "virtual": True}}
    features = [*history, virtual]
    archive = write_archive(tmp_path / "a.zst", features)
    parsed_blobs, ready_blobs = MemoryBlobStore(), MemoryBlobStore()
    parsed = build_tiles_in_parts(
        archive, tmp_path / "p.pmtiles", blobs=parsed_blobs, prefix=PREFIX, workdir=tmp_path
    )
    known = _known_tile_lines(history)
    assert known.add(line_hash(_line(virtual)), b"")  # not drawn: virtual rides are off
    ready = build_tiles_in_parts(
        archive, tmp_path / "r.pmtiles", blobs=ready_blobs, prefix=PREFIX, workdir=tmp_path, tile_lines=known
    )
    assert known.hits == len(features)  # not one line parsed again
    assert [p.key(PREFIX) for p in ready.parts] == [p.key(PREFIX) for p in parsed.parts]
    for part in parsed.parts:  # same keys, and each object holds the same tiles
        ready_part, parsed_part = tmp_path / "ready-part", tmp_path / "parsed-part"
        ready_part.write_bytes(ready_blobs.get_bytes(part.key(PREFIX)) or b"")
        parsed_part.write_bytes(parsed_blobs.get_bytes(part.key(PREFIX)) or b"")
        assert tiles_of(ready_part) == tiles_of(parsed_part), part.name
    assert tiles_of(ready.path) == tiles_of(parsed.path)
    assert "v77" not in ids_by_zoom(ready.path)[0][12]


def test_lines_not_ready_are_parsed_and_a_transform_parses_them_all(
    tmp_path: Path, history: list[dict[str, Any]]
) -> None:
    archive = write_archive(tmp_path / "a.zst", history)
    some = _known_tile_lines(history[:10])
    partly = build_tiles_in_parts(
        archive,
        tmp_path / "m1.pmtiles",
        blobs=MemoryBlobStore(),
        prefix=PREFIX,
        workdir=tmp_path,
        tile_lines=some,
    )
    assert some.hits == 10
    assert ids_by_zoom(partly.path)[0][12] == {f["properties"]["id"] for f in history}

    # a privacy cut needs each feature: the ready lines would show what it hides
    every = _known_tile_lines(history)
    cut = build_tiles_in_parts(
        archive,
        tmp_path / "m2.pmtiles",
        blobs=MemoryBlobStore(),
        prefix=PREFIX,
        workdir=tmp_path,
        transform=lambda fs: (f for f in fs if f["properties"]["id"] != "r1"),
        transform_key="zones-v1",
        tile_lines=every,
    )
    assert every.hits == 0
    assert "r1" not in ids_by_zoom(cut.path)[0][12]


def test_tile_lines_stop_at_their_memory_budget() -> None:
    known = tile_parts.TileLines(budget_bytes=10)
    assert known.add(b"a" * 16, b"12345") and known.add(b"b" * 16, b"6789")
    assert not known.add(b"c" * 16, b"xy")  # 11 bytes would pass the budget: parsed later instead
    assert not known.add(b"a" * 16, b"")  # already there
    assert len(known) == 2 and known.used_bytes == 9
    assert known.get(b"c" * 16) is None and known.get(b"a" * 16) == b"12345" and known.hits == 1
