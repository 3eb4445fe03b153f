"""The cut as the map shows it: real rides through Tippecanoe, tile coordinates decoded back to lon/lat;
the CLI's --privacy-zone / --hide-ends on ``tiles`` and ``sync``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ridelines.privacy import PrivacySettings, PrivacyZone, apply_privacy, distance_m, protect
from ridelines.tiling import build_pmtiles
from ridelines_local.cli import main
from ridelines_local.standin.intervals import IntervalsStandin

from .conftest import points_inside, tile_points

FIT = Path(__file__).resolve().parents[2] / "data" / "fit"
HOME_LAT, HOME_LON = 47.3769, 8.5417
RADIUS = 300.0
FILES = (
    "python-fitparse/garmin-edge-500-activity.fit",
    "python-fitparse/sample-activity.fit",
    "python-fitparse/Edge810-Vector-2013-08-16-15-35-10.fit",
    "sports-lib/rides/fit/3939576645.fit",
    "sports-lib/rides/fit/828989227.fit",
    "sports-lib/rides/fit/971150603.fit",
    "gpsbabel/track/garmin-edge-800.fit",
    "fit-file-faker/karoo_20251119.fit",
    "sports-lib/rides/fit/614953343.fit",
    "sports-lib/rides/fit/7739869618.fit",
    "sports-lib/others/27-days-activity.fit",
    "fit-file-faker/coros_20251118.fit",
    "python-fitparse/coros-pace-2-cycling-misaligned-fields.fit",
)


def feature_of(name: str) -> dict[str, Any]:
    from ridelines.features import fit_to_feature

    feature = fit_to_feature((FIT / name).read_bytes(), source=name)
    assert feature is not None
    return feature


def lines(feature: dict[str, Any]) -> list[list[list[float]]]:
    g = feature["geometry"]
    return [g["coordinates"]] if g["type"] == "LineString" else g["coordinates"]


def shifted(feature: dict[str, Any], anchor: list[float], ride_id: str) -> dict[str, Any]:
    """The ride translated so ``anchor`` (one of its points) lies on the home."""
    dlon, dlat = HOME_LON - anchor[0], HOME_LAT - anchor[1]
    moved = [[[p[0] + dlon, p[1] + dlat] for p in line] for line in lines(feature)]
    return {
        "type": "Feature",
        "properties": {**feature["properties"], "id": ride_id},
        "geometry": {"type": "MultiLineString", "coordinates": moved},
    }


def comes_back(feature: dict[str, Any], effective: tuple[float, float, float]) -> bool:
    """Whether the ride, once it has left the zone's effective circle, passes through the zone again
    before its end portion (then the map may show it there: it passes by, it does not start or end
    there)."""
    lat, lon, reach = effective
    flat = [p for line in lines(feature) for p in line]
    outside = [distance_m(p[0], p[1], lon, lat) >= reach for p in flat]
    first_out = outside.index(True)
    last_out = len(outside) - 1 - outside[::-1].index(True)
    return any(distance_m(p[0], p[1], HOME_LON, HOME_LAT) < RADIUS for p in flat[first_out : last_out + 1])


def test_no_tile_coordinate_of_a_start_or_end_lies_in_the_zone(tmp_path: Path) -> None:
    privacy = protect(PrivacySettings(zones=[PrivacyZone(lat=HOME_LAT, lon=HOME_LON, radius_m=RADIUS)]))
    effective = privacy.zones[0].effective_circle()
    starting = []
    for n, name in enumerate(FILES):
        feature = feature_of(name)
        home_ride = shifted(feature, lines(feature)[0][0], f"home{n}")
        if not comes_back(home_ride, effective):
            starting.append(home_ride)
    assert len(starting) >= 5  # of 13 real rides, the others pass by home again later
    passing = feature_of("gpsbabel/track/wahoo-element-bolt.fit")  # point to point, 3.5 km
    flat = [p for line in lines(passing) for p in line]
    through = shifted(passing, flat[len(flat) // 2], "through")

    plain = tmp_path / "plain.pmtiles"
    build_pmtiles([*starting, through], plain)
    assert {f["properties"]["id"] for f in starting} <= set(
        points_inside(plain.read_bytes(), HOME_LAT, HOME_LON, RADIUS)
    )

    cut = tmp_path / "cut.pmtiles"
    build_pmtiles(apply_privacy([*starting, through], privacy), cut)
    data = cut.read_bytes()
    inside = points_inside(data, HOME_LAT, HOME_LON, RADIUS)  # z11+: a tile unit is ~2 m here
    assert set(inside) == {"through"}  # the ride passing through keeps its line...
    assert inside["through"] >= 10
    drawn = {activity for _z, activity, *_ in tile_points(data, 11)}
    assert drawn == {f["properties"]["id"] for f in [*starting, through]}  # ...and every ride is drawn


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "seed"
    monkeypatch.setenv("RIDELINES_PRIVACY_SEED_FILE", str(path))
    return path


def test_tiles_cli_cuts_ends_and_cuts_the_same_way_again(
    tmp_path: Path, seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ride = FIT / "gpsbabel/track/garmin-edge-800.fit"  # a loop: starts and ends 294 m apart
    start = lines(feature_of("gpsbabel/track/garmin-edge-800.fit"))[0][0]
    zone = f"{start[1]},{start[0]},{RADIUS}"
    plain, first, second = tmp_path / "plain.pmtiles", tmp_path / "a.pmtiles", tmp_path / "b.pmtiles"
    assert main(["tiles", str(ride), "-o", str(plain)]) == 0
    assert points_inside(plain.read_bytes(), start[1], start[0], RADIUS)
    for out in (first, second):
        assert main(["tiles", str(ride), "-o", str(out), "--privacy-zone", zone, "--hide-ends", "50"]) == 0
    assert points_inside(first.read_bytes(), start[1], start[0], RADIUS) == {}
    assert sorted(tile_points(first.read_bytes(), 11)) == sorted(tile_points(second.read_bytes(), 11))
    assert seed.stat().st_mode & 0o777 == 0o600 and len(seed.read_bytes()) == 32


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--privacy-zone", "47.1,8.2"], "LAT,LON,RADIUS_M"),
        (["--privacy-zone", "47.1,8.2,0"], "--privacy-zone #1: radius_m must be at least 100"),
        (
            ["--privacy-zone", "47.1,8.2,300", "--privacy-zone", "47.1,8.2,2500"],
            "--privacy-zone #2: radius_m",
        ),
        (["--privacy-zone", "91,8.2,300"], "--privacy-zone #1: lat"),
        (["--privacy-zone", "nan,8.2,300"], "finite"),
        (["--privacy-zone", "home,8.2,300"], "not a number"),
        (["--privacy-zone", "47.1,8.2,300"] * 11, "at most 10 zones"),
        (["--hide-ends", "-5"], "--hide-ends must be at least 0"),
        (["--hide-ends", "2001"], "--hide-ends must be at most 2000"),
        (["--hide-ends", "far"], "not a number"),
    ],
)
def test_tiles_cli_bad_privacy_exits_2_with_one_line(
    tmp_path: Path, seed: Path, capsys: pytest.CaptureFixture[str], options: list[str], words: str
) -> None:
    out = tmp_path / "out.pmtiles"
    code = main(["tiles", str(FIT / "gpsbabel/track/garmin-edge-800.fit"), "-o", str(out), *options])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and words in err and "Traceback" not in err
    assert not out.exists()


def test_sync_cli_retiles_a_privacy_change_without_downloading(
    standin: IntervalsStandin,
    tmp_path: Path,
    seed: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INTERVALS_URL", standin.base_url)
    out = tmp_path / "out"

    def sync(*extra: str) -> dict[str, Any]:
        assert main(["sync", "--out", str(out), "--api-key", "demo-api-key", "--quiet", *extra]) == 0
        return dict(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))

    sync()
    downloads = standin.count("GET", "/api/v1/activity/")
    start = lines(feature_of("gpsbabel/track/garmin-edge-800.fit"))[0][0]  # ride a3 of the stand-in
    tiles = out / "activities.pmtiles"
    assert "a3" in points_inside(tiles.read_bytes(), start[1], start[0], RADIUS)

    summary = sync("--privacy-zone", f"{start[1]},{start[0]},{RADIUS}")
    assert summary["counts"]["downloaded"] == 0 and summary["published"] is True
    assert standin.count("GET", "/api/v1/activity/") == downloads
    assert "a3" not in points_inside(tiles.read_bytes(), start[1], start[0], RADIUS)

    again = sync("--privacy-zone", f"{start[1]},{start[0]},{RADIUS}")
    assert again["published"] is False  # same zone, same seed: nothing to republish
    back = sync()  # the zone removed: the true ends are drawn again, still without downloading
    assert back["published"] is True and back["counts"]["downloaded"] == 0
    assert "a3" in points_inside(tiles.read_bytes(), start[1], start[0], RADIUS)
