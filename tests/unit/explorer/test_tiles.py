"""Explorer tiles against an independent computation on real rides (DESIGN §4, issue 13.3).

The reference here shares no code with ``ridelines.explorer``: web mercator the way mercantile writes
it (``log(tan(lat) + sec(lat))``, not ``asinh(tan(lat))``), and instead of walking the tile grid it
resamples every segment densely (every 1/1000 of a tile, 1.5-2.4 m on the ground at z14) and takes
the tile of every sample. Dense sampling can only *miss* a tile the line clips by less than one
sample step, so the checks are: every sampled tile is found, and every tile found beyond those lies
within two sample steps of the track.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from ridelines.errors import FitDecodeError
from ridelines.explorer import ZOOM, ExplorerAccumulator, feature_tiles, summary_of
from ridelines.features import fit_to_feature

FIT_DIR = Path(__file__).resolve().parents[2] / "data" / "fit"
N = 2**ZOOM
STEP = 1e-3  # tile units between samples


# --- the independent reference ----------------------------------------------------------------


def mercator(lon: float, lat: float) -> tuple[float, float]:
    """Fractional tile coordinates, mercantile's formula; lon is NOT wrapped (the caller unwraps)."""
    phi = math.radians(lat)
    x = (lon + 180.0) / 360.0 * N
    y = (1.0 - math.log(math.tan(phi) + 1.0 / math.cos(phi)) / math.pi) / 2.0 * N
    return x, y


def inverse_mercator(x: float, y: float) -> tuple[float, float]:
    lon = x / N * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * y / N))))
    return lon, lat


def unwrapped(line: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for lon, lat, *_ in line:
        if out:
            previous = out[-1][0]
            lon = lon + 360.0 * round((previous - lon) / 360.0)
        out.append((lon, lat))
    return out


def samples(feature: dict) -> list[tuple[float, float]]:
    """Every vertex and dense samples between, in tile coordinates (x unwrapped)."""
    geometry = feature["geometry"]
    lines = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
    points: list[tuple[float, float]] = []
    for line in lines:
        projected = [mercator(lon, lat) for lon, lat in unwrapped(line)]
        points.append(projected[0])
        for (x0, y0), (x1, y1) in itertools.pairwise(projected):
            count = max(1, math.ceil(max(abs(x1 - x0), abs(y1 - y0)) / STEP))
            points.extend(
                (x0 + (x1 - x0) * i / count, y0 + (y1 - y0) * i / count) for i in range(1, count + 1)
            )
    return points


def on_a_corner(x: float, y: float) -> bool:
    return abs(x - round(x)) < 1e-9 and abs(y - round(y)) < 1e-9


def sampled_tiles(points: list[tuple[float, float]]) -> set[tuple[int, int]]:
    # a sample exactly on a tile corner touches four tiles in one point and visits none of them by
    # that alone (floor would credit it to the tile right and below, whichever way the line runs)
    return {(math.floor(x) % N, math.floor(y)) for x, y in points if not on_a_corner(x, y)}


def distance_to_tile(points: list[tuple[float, float]], tile: tuple[int, int]) -> float:
    tx, ty = tile
    best = math.inf
    for x, y in points:
        x = x % N
        for shift in (-N, 0, N):  # a tile at the antimeridian seen from the other side
            dx = max(tx - (x + shift), 0.0, (x + shift) - (tx + 1))
            dy = max(ty - y, 0.0, y - (ty + 1))
            best = min(best, math.hypot(dx, dy))
    return best


def assert_agrees_with_reference(feature: dict) -> set[tuple[int, int]]:
    found = feature_tiles(feature)
    points = samples(feature)
    reference = sampled_tiles(points)
    assert reference <= found, f"tiles the track visits but were not found: {sorted(reference - found)[:5]}"
    for tile in found - reference:
        assert distance_to_tile(points, tile) <= 2 * STEP, f"tile {tile} is not on the track"
    return found


# --- real rides ---------------------------------------------------------------------------------


def real_rides() -> list[tuple[str, dict]]:
    rides = []
    for path in sorted(FIT_DIR.rglob("*.fit")):
        try:
            feature = fit_to_feature(path.read_bytes(), source=str(path))
        except FitDecodeError:
            continue
        if feature is None or feature["properties"].get("virtual"):
            continue
        geometry = feature["geometry"]
        lines = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
        if sum(len(line) for line in lines) >= 200:
            rides.append((path.relative_to(FIT_DIR).as_posix(), feature))
    return rides


RIDES = real_rides()


def test_the_corpus_gives_enough_real_rides() -> None:
    assert len(RIDES) >= 30


@pytest.mark.parametrize(("name", "feature"), RIDES, ids=[name for name, _ in RIDES])
def test_real_ride_tiles_match_dense_resampling(name: str, feature: dict) -> None:
    found = assert_agrees_with_reference(feature)
    assert found  # every one of these rides is outdoors


def thinned(feature: dict, keep_every: int) -> dict:
    geometry = feature["geometry"]
    lines = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
    sparse = [[*line[::keep_every], line[-1]] for line in lines]
    return {**feature, "geometry": {"type": "MultiLineString", "coordinates": sparse}}


def vertex_tiles(feature: dict) -> set[tuple[int, int]]:
    return {
        (math.floor(x) % N, math.floor(y))
        for line in feature["geometry"]["coordinates"]
        for x, y in (mercator(lon, lat) for lon, lat, *_ in line)
    }


def test_sparse_tracks_mark_the_tiles_between_points_not_just_the_points() -> None:
    """A ride recorded every few hundred metres still marks every tile its line crosses."""
    gained = 0
    for _name, feature in RIDES[:12]:
        sparse = thinned(feature, 60)
        found = assert_agrees_with_reference(sparse)
        gained += len(found - vertex_tiles(sparse))
    assert gained > 0  # the tiles of the points alone would have missed these


# --- the antimeridian ---------------------------------------------------------------------------


def shifted_across_the_antimeridian(feature: dict) -> tuple[dict, int]:
    """The ride moved east by a whole number of tiles so that its middle sits on ±180°."""
    found = feature_tiles(feature)
    xs = sorted(x for x, _ in found)
    middle = (xs[0] + xs[-1] + 1) // 2
    shift_tiles = N - middle
    shift = shift_tiles * 360.0 / N

    def move(line: list) -> list:
        return [[((lon + shift + 180.0) % 360.0) - 180.0, lat, *rest] for lon, lat, *rest in line]

    geometry = feature["geometry"]
    if geometry["type"] == "LineString":
        moved = {"type": "LineString", "coordinates": move(geometry["coordinates"])}
    else:
        moved = {"type": "MultiLineString", "coordinates": [move(line) for line in geometry["coordinates"]]}
    return {**feature, "geometry": moved}, shift_tiles


@pytest.mark.parametrize("index", [0, 5, 10])
def test_a_ride_across_the_antimeridian(index: int) -> None:
    _name, feature = [r for r in RIDES if len(feature_tiles(r[1])) >= 5][index]
    moved, shift_tiles = shifted_across_the_antimeridian(feature)
    lons = [
        p[0]
        for line in moved["geometry"]["coordinates"]
        for p in (line if isinstance(line[0], list) else [line])
    ]
    assert min(lons) < -179.0 and max(lons) > 179.0  # it really crosses ±180
    found = assert_agrees_with_reference(moved)
    # the same tiles, moved: nothing lost at the seam and nothing drawn the long way round the world
    assert found == {((x + shift_tiles) % N, y) for x, y in feature_tiles(feature)}
    xs = {x for x, _ in found}
    assert N - 1 in xs and 0 in xs
    assert not any(N // 4 < x < 3 * N // 4 for x in xs)


def test_one_segment_straight_over_the_antimeridian() -> None:
    y = 9000.5
    lon_w, lat = inverse_mercator(N - 2.5, y)
    lon_e, _ = inverse_mercator(2.5, y)
    feature = {"geometry": {"type": "LineString", "coordinates": [[lon_w, lat], [lon_e, lat]]}}
    assert feature_tiles(feature) == {
        (N - 3, 9000),
        (N - 2, 9000),
        (N - 1, 9000),
        (0, 9000),
        (1, 9000),
        (2, 9000),
    }


# --- tile corners -------------------------------------------------------------------------------


def line_in_tiles(*points: tuple[float, float]) -> dict:
    return {
        "geometry": {"type": "LineString", "coordinates": [list(inverse_mercator(x, y)) for x, y in points]}
    }


CX, CY = 8580, 5740  # a tile corner near Zurich


def test_a_line_through_a_tile_corner_visits_only_the_two_tiles_it_runs_through() -> None:
    diagonal = line_in_tiles((CX - 0.4, CY - 0.3), (CX + 0.4, CY + 0.3))
    assert feature_tiles(diagonal) == {(CX - 1, CY - 1), (CX, CY)}
    anti = line_in_tiles((CX - 0.4, CY + 0.3), (CX + 0.4, CY - 0.3))
    assert feature_tiles(anti) == {(CX - 1, CY), (CX, CY - 1)}
    # both agree with the dense reference (whose sample on the corner point itself visits nothing)
    assert_agrees_with_reference(diagonal)
    assert_agrees_with_reference(anti)


def test_a_line_just_beside_a_corner_visits_the_third_tile() -> None:
    # 0.001 tile (2 m) above the corner: the line clips the tile right of the corner's column, above
    above = line_in_tiles((CX - 0.4, CY - 0.3 - 0.001), (CX + 0.4, CY + 0.3 - 0.001))
    assert feature_tiles(above) == {(CX - 1, CY - 1), (CX, CY - 1), (CX, CY)}
    below = line_in_tiles((CX - 0.4, CY - 0.3 + 0.001), (CX + 0.4, CY + 0.3 + 0.001))
    assert feature_tiles(below) == {(CX - 1, CY - 1), (CX - 1, CY), (CX, CY)}


def test_a_real_ride_moved_so_that_it_crosses_a_tile_corner_exactly() -> None:
    _name, feature = RIDES[3]
    line = feature["geometry"]["coordinates"]
    line = line if feature["geometry"]["type"] == "LineString" else line[0]
    projected = [mercator(lon, lat) for lon, lat, *_ in line]
    # the first segment that moves diagonally by a fair amount: put its midpoint on a corner
    i = next(
        i
        for i, ((x0, y0), (x1, y1)) in enumerate(itertools.pairwise(projected))
        if abs(x1 - x0) > 1e-4 and abs(y1 - y0) > 1e-4
    )
    (x0, y0), (x1, y1) = projected[i], projected[i + 1]
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    dx, dy = round(mx) - mx, round(my) - my
    moved_line = [list(inverse_mercator(x + dx, y + dy)) for x, y in projected]
    moved = {"geometry": {"type": "LineString", "coordinates": moved_line}}
    found = assert_agrees_with_reference(moved)
    corner = (round(mx), round(my))
    step_x = 1 if x1 > x0 else -1
    step_y = 1 if y1 > y0 else -1
    before = (corner[0] - (1 if step_x > 0 else 0), corner[1] - (1 if step_y > 0 else 0))
    after = (corner[0] - (0 if step_x > 0 else 1), corner[1] - (0 if step_y > 0 else 1))
    assert before in found and after in found


# --- edges of the projection and degenerate input -----------------------------------------------


def test_points_on_a_tile_edge_belong_to_the_tile_right_and_below() -> None:
    on_edge = line_in_tiles((CX, CY + 0.5), (CX, CY + 0.5))
    assert feature_tiles(on_edge) == {(CX, CY)}
    # leaving an edge westwards also enters the tile on the west
    west = line_in_tiles((CX, CY + 0.5), (CX - 0.5, CY + 0.5))
    assert feature_tiles(west) == {(CX, CY), (CX - 1, CY)}


def test_polar_latitudes_are_clamped_to_the_map() -> None:
    feature = {"geometry": {"type": "LineString", "coordinates": [[10.0, 89.9], [10.0, 89.95]]}}
    assert {y for _, y in feature_tiles(feature)} == {0}
    feature = {"geometry": {"type": "LineString", "coordinates": [[10.0, -89.9], [10.0, -89.95]]}}
    assert {y for _, y in feature_tiles(feature)} == {N - 1}


def test_no_geometry_or_points_give_no_tiles() -> None:
    assert feature_tiles({"geometry": None}) == set()
    assert feature_tiles({"geometry": {"type": "Point", "coordinates": [8.5, 47.3]}}) == set()
    layer = ExplorerAccumulator()
    layer.add({"geometry": None})
    assert layer.document() == {"zoom": 14, "tiles": [], "max_square": None}
    assert summary_of(layer.document()) == {"tiles": 0, "max_square": 0}


def test_the_layer_is_the_union_of_the_rides_sorted() -> None:
    layer = ExplorerAccumulator()
    union: set[tuple[int, int]] = set()
    for _name, feature in RIDES[:8]:
        layer.add(feature)
        union |= feature_tiles(feature)
    document = layer.document()
    assert document["zoom"] == 14
    assert document["tiles"] == [list(t) for t in sorted(union)]
    assert summary_of(document)["tiles"] == len(union)
