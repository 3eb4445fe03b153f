"""Explorer tiles (DESIGN §4): the z14 web-mercator tiles the rider's tracks touch, and the max square.

A tile is *visited* when a track runs through its interior or a track point lies in it (a point on a
tile edge belongs to the tile right/below, as ``floor`` puts it). Consecutive points are joined by a
straight line in web-mercator space and every tile that line passes through is marked (grid
traversal after Amanatides & Woo), not just the tiles of the points: a fast ride sampled every few
hundred metres still marks every tile it crossed. A line through a tile *corner* exactly touches
the two side tiles in one point only; it has no length in them and does not visit them (within
:data:`CORNER_TOLERANCE` tile units, a few micrometres on the ground).

Longitudes are unwrapped along a track, so a ride crossing ±180° marks the tiles on both sides of
the antimeridian and never the ones between them the long way round. Latitudes beyond web
mercator's ±85.0511° are clamped to its edge.

The max square is the side of the largest square block of visited tiles (VeloViewer's
"max square"), found in one pass over the tiles sorted by row (dynamic programming over the
bottom-right corner). Squares do not wrap across the antimeridian.

Everything streams: :class:`ExplorerAccumulator` takes one feature at a time, so computing the
layer over an archive of any size holds only the set of visited tiles.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ZOOM = 14
MAX_LATITUDE = 85.05112877980659  # web mercator's edge: atan(sinh(pi))
CORNER_TOLERANCE = 1e-9  # tile units: closer than this to a corner counts as through it

Tile = tuple[int, int]


def explorer_key(athlete_id: str) -> str:
    """Where the sync stores the rider's explorer layer (read by ``GET /api/user/explorer``)."""
    return f"athletes/{athlete_id}/explorer.json"


def tile_coordinates(lon: float, lat: float, zoom: int = ZOOM) -> tuple[float, float]:
    """Fractional web-mercator tile coordinates (x grows east, y grows south); x is not wrapped."""
    n = float(1 << zoom)
    lat = min(max(lat, -MAX_LATITUDE), MAX_LATITUDE)
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return x, min(max(y, 0.0), math.nextafter(n, 0.0))


def _mark_segment(x0: float, y0: float, x1: float, y1: float, n: int, out: set[Tile]) -> None:
    """Mark every tile the straight line (x0, y0) -> (x1, y1) passes through, both ends included."""
    cx, cy = math.floor(x0), math.floor(y0)
    ex, ey = math.floor(x1), math.floor(y1)
    out.add((cx % n, cy))
    if cx == ex and cy == ey:
        return
    dx, dy = x1 - x0, y1 - y0
    inf = math.inf
    if dx > 0:
        step_x, t_delta_x, t_max_x = 1, 1.0 / dx, (cx + 1 - x0) / dx
    elif dx < 0:
        step_x, t_delta_x, t_max_x = -1, -1.0 / dx, (x0 - cx) / -dx
    else:
        step_x, t_delta_x, t_max_x = 0, inf, inf
    if dy > 0:
        step_y, t_delta_y, t_max_y = 1, 1.0 / dy, (cy + 1 - y0) / dy
    elif dy < 0:
        step_y, t_delta_y, t_max_y = -1, -1.0 / dy, (y0 - cy) / -dy
    else:
        step_y, t_delta_y, t_max_y = 0, inf, inf
    # the corner test in tile units, whatever the segment's length
    tolerance = CORNER_TOLERANCE / max(abs(dx), abs(dy))
    budget = abs(ex - cx) + abs(ey - cy) + 2  # a straight line crosses at most this many edges
    while budget > 0:
        budget -= 1
        if abs(t_max_x - t_max_y) <= tolerance:
            if t_max_x >= 1.0:
                break
            cx += step_x
            cy += step_y
            t_max_x += t_delta_x
            t_max_y += t_delta_y
        elif t_max_x < t_max_y:
            if t_max_x >= 1.0:
                break
            cx += step_x
            t_max_x += t_delta_x
        else:
            if t_max_y >= 1.0:
                break
            cy += step_y
            t_max_y += t_delta_y
        out.add((cx % n, cy))
    out.add((ex % n, ey))


def mark_line(coordinates: Iterable[Sequence[float]], out: set[Tile], zoom: int = ZOOM) -> None:
    """Add the tiles of one line (``[lon, lat, ...]`` positions) to ``out``."""
    n = 1 << zoom
    scale = n / 360.0
    half = n / 2.0
    y_limit = math.nextafter(float(n), 0.0)
    radians_per_degree = math.pi / 180.0
    asinh, tan, pi = math.asinh, math.tan, math.pi
    previous_lon: float | None = None
    unwrapped = 0.0
    x0 = y0 = 0.0
    cell: Tile | None = None
    for position in coordinates:
        lon, lat = float(position[0]), float(position[1])
        if previous_lon is None:
            unwrapped = lon
        else:
            delta = lon - previous_lon
            if delta > 180.0:
                delta -= 360.0
            elif delta < -180.0:
                delta += 360.0
            unwrapped += delta
        previous_lon = lon
        x1 = (unwrapped + 180.0) * scale
        lat = MAX_LATITUDE if lat > MAX_LATITUDE else -MAX_LATITUDE if lat < -MAX_LATITUDE else lat
        y1 = (1.0 - asinh(tan(lat * radians_per_degree)) / pi) * half
        y1 = 0.0 if y1 < 0.0 else y_limit if y1 > y_limit else y1
        here = (math.floor(x1), math.floor(y1))
        if cell is None:
            out.add((here[0] % n, here[1]))
        elif here != cell:  # most consecutive points share a tile: nothing to traverse
            _mark_segment(x0, y0, x1, y1, n, out)
        x0, y0, cell = x1, y1, here


def geometry_lines(geometry: Mapping[str, Any] | None) -> list[Sequence[Sequence[float]]]:
    """The lines of a LineString / MultiLineString geometry (nothing for anything else)."""
    if not geometry:
        return []
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates") or []
    if kind == "LineString":
        return [coordinates]
    if kind == "MultiLineString":
        return list(coordinates)
    return []


def feature_tiles(feature: Mapping[str, Any], zoom: int = ZOOM) -> set[Tile]:
    tiles: set[Tile] = set()
    for line in geometry_lines(feature.get("geometry")):
        mark_line(line, tiles, zoom)
    return tiles


@dataclass(frozen=True, slots=True)
class Square:
    x: int  # top-left tile
    y: int
    size: int


def max_square(tiles: Iterable[Tile]) -> Square | None:
    """The largest square block of tiles (top-left corner and side), None for no tiles.

    Of several equally large squares, the one whose bottom-right tile comes first row by row.
    """
    sides: dict[Tile, int] = {}
    best: Square | None = None
    for x, y in sorted(set(tiles), key=lambda tile: (tile[1], tile[0])):
        side = 1 + min(sides.get((x - 1, y), 0), sides.get((x, y - 1), 0), sides.get((x - 1, y - 1), 0))
        sides[(x, y)] = side
        if best is None or side > best.size:
            best = Square(x - side + 1, y - side + 1, side)
    return best


class ExplorerAccumulator:
    """Streams features in, gives the explorer layer out."""

    def __init__(self, zoom: int = ZOOM) -> None:
        self.zoom = zoom
        self.tiles: set[Tile] = set()

    def add(self, feature: Mapping[str, Any]) -> None:
        for line in geometry_lines(feature.get("geometry")):
            mark_line(line, self.tiles, self.zoom)

    def document(self) -> dict[str, Any]:
        """``{"zoom": 14, "tiles": [[x, y], ...], "max_square": {"x", "y", "size"} | None}``."""
        square = max_square(self.tiles)
        return {
            "zoom": self.zoom,
            "tiles": [list(tile) for tile in sorted(self.tiles)],
            "max_square": None if square is None else {"x": square.x, "y": square.y, "size": square.size},
        }


def summary_of(document: Mapping[str, Any]) -> dict[str, int]:
    """``{"tiles": N, "max_square": M}`` (the sync summary and the profile; M is 0 without tiles)."""
    square = document.get("max_square")
    return {"tiles": len(document.get("tiles") or []), "max_square": int(square["size"]) if square else 0}


def encode_document(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


EMPTY_DOCUMENT: dict[str, Any] = {"zoom": ZOOM, "tiles": [], "max_square": None}
