"""Real rides (tests/data/fit, see its PROVENANCE.md) as GeoJSON features, and geometry helpers."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ridelines.features import fit_to_feature
from ridelines.privacy import EARTH_RADIUS_M, destination, distance_m

FIT_DIR = Path(__file__).resolve().parents[2] / "data" / "fit"
# outdoor rides and runs from several devices; loops (start near end) and point-to-point rides
REAL_RIDES = (
    "python-fitparse/garmin-edge-500-activity.fit",
    "python-fitparse/sample-activity.fit",
    "python-fitparse/Edge810-Vector-2013-08-16-15-35-10.fit",
    "sports-lib/rides/fit/3939576645.fit",
    "sports-lib/rides/fit/828989227.fit",
    "sports-lib/rides/fit/971150603.fit",
    "sports-lib/others/27-days-activity.fit",
    "gpsbabel/track/garmin-edge-800.fit",
    "fit-file-faker/karoo_20251119.fit",
)


@functools.cache
def real_ride(name: str) -> dict[str, Any]:
    feature = fit_to_feature((FIT_DIR / name).read_bytes(), source=name)
    assert feature is not None, name
    return feature


def segments(feature: dict[str, Any]) -> list[list[list[float]]]:
    geometry = feature["geometry"]
    return [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]


def points(feature: dict[str, Any]) -> list[list[float]]:
    return [p for segment in segments(feature) for p in segment]


def first_point(feature: dict[str, Any]) -> list[float]:
    return segments(feature)[0][0]


def last_point(feature: dict[str, Any]) -> list[float]:
    return segments(feature)[-1][-1]


def length_m(feature: dict[str, Any]) -> float:
    return sum(
        distance_m(a[0], a[1], b[0], b[1]) for line in segments(feature) for a, b in itertools.pairwise(line)
    )


def moved(feature: dict[str, Any], lat: float, lon: float, turn_deg: float = 0.0) -> dict[str, Any]:
    """The ride moved so it starts at (lat, lon), turned by ``turn_deg`` around its start (its shape
    in metres kept: a real ride that starts at someone else's home)."""
    lon0, lat0 = first_point(feature)[:2]

    def place(p: list[float]) -> list[float]:
        d = distance_m(lon0, lat0, p[0], p[1])
        if d == 0:
            return [lon, lat]
        y = (p[1] - lat0) * math.pi / 180 * EARTH_RADIUS_M
        x = (p[0] - lon0) * math.pi / 180 * EARTH_RADIUS_M * math.cos(math.radians(lat0))
        bearing = math.degrees(math.atan2(x, y)) + turn_deg
        new_lat, new_lon = destination(lat, lon, bearing % 360.0, d)
        return [new_lon, new_lat]

    lines = [[place(p) for p in line] for line in segments(feature)]
    geometry = (
        {"type": "LineString", "coordinates": lines[0]}
        if feature["geometry"]["type"] == "LineString"
        else {"type": "MultiLineString", "coordinates": lines}
    )
    return {**feature, "geometry": geometry}


def local_xy(lat0: float, lon0: float, p: list[float]) -> tuple[float, float]:
    kx = math.cos(math.radians(lat0)) * math.pi * EARTH_RADIUS_M / 180.0
    ky = math.pi * EARTH_RADIUS_M / 180.0
    return (p[0] - lon0) * kx, (p[1] - lat0) * ky


def all_rides() -> Iterator[dict[str, Any]]:
    for name in REAL_RIDES:
        yield real_ride(name)
