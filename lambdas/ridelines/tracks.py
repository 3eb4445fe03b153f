"""Positioned samples -> track segments (DESIGN §4).

A new segment starts:

* at a timer start after a stop, and at each chained FIT file (the decoder marks those samples);
* after a time gap longer than :data:`MAX_GAP_S` between consecutive positioned samples
  (GPS lost, recording paused without timer events): a straight line across it would be a lie;
* at a jump no rider could make: more than :data:`MIN_JUMP_M` away from the previous sample
  *and* faster than :data:`MAX_SPEED_MPS`, or with time standing still or going backwards
  (``dt <= 0``; a backwards step over a short distance is kept in the same segment).

Segments with fewer than :data:`MIN_SEGMENT_POINTS` points are dropped (a lone fix is not a
line). Consecutive samples that round to the same coordinates are collapsed (a stopped rider's
1 Hz fixes add bytes, not shape).

:func:`simplify_line` thins a line to within :data:`SIMPLIFY_TOLERANCE_M` of the original in one
pass (Opheim-style corridor), for the archive and for Tippecanoe's input: 1 m is below one tile
unit at the deepest zoom we cut (z12, ~1.6-2.4 m), so nothing visible is lost while straight
stretches shrink to their ends (typically 3x fewer points on real rides).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

from ridelines.fit import Sample

MAX_GAP_S = 300  # 5 min without a fix: whatever happened in between is not known
MAX_SPEED_MPS = 50.0  # 180 km/h: well above any descent on a bike
MIN_JUMP_M = 250.0  # below this, a "fast" step is GPS noise, not a teleport
MIN_SEGMENT_POINTS = 2
COORD_DECIMALS = 6  # ~0.1 m: far below GPS accuracy, keeps the archive small
ALT_DECIMALS = 1
SIMPLIFY_TOLERANCE_M = 1.0

EARTH_RADIUS_M = 6_371_008.8
_DEG = math.pi / 180
# Steps within this many degrees of latitude and of longitude are at most ~240 m
# (sqrt(2) x 170 m, cos(lat) <= 1): below MIN_JUMP_M, so no jump, and build_track skips the
# distance (cos + hypot per point) that only a jump would need.
_NEAR_DEG = 170.0 / (EARTH_RADIUS_M * _DEG)

Point = tuple[float, float, float | None]  # lon, lat, altitude (m) or None
T = TypeVar("T", bound=Sequence[Any])


@dataclass
class Track:
    segments: list[list[Point]]
    split_pause: int = 0
    split_gap: int = 0
    split_jump: int = 0
    # True: every point is known to carry an altitude (build_track met none without); False: look.
    every_point_has_altitude: bool = False

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.segments)

    @functools.cached_property
    def length_m(self) -> float:
        """Metres ridden: every step between consecutive points of a segment (:func:`distance_m`'s
        float operations), added in the order the points were read. Worked out when asked, not
        while building: a FIT session states its distance, so most tracks never need it."""
        length = 0.0
        for segment in self.segments:
            for a, b in pairwise(segment):
                length += distance_m(a[0], a[1], b[0], b[1])
        return length


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance: exact enough between consecutive GPS fixes, and cheap."""
    x = (lon2 - lon1) * _DEG * math.cos((lat1 + lat2) * 0.5 * _DEG)
    y = (lat2 - lat1) * _DEG
    return EARTH_RADIUS_M * math.hypot(x, y)


# Semicircles -> degrees rounded to COORD_DECIMALS without ``round`` (the hot loop's biggest cost).
# ``semi * 180 / 2**31 * 10**6`` is ``semi * 703125 / 2**23``: a product of at most 51 bits times a
# power of two, so one float multiplication gives it exactly; adding and subtracting 1.5 * 2**52
# rounds it half-to-even, as ``round(x, 6)`` rounds the exact value of x; dividing the integer by
# 10**6 gives the same nearest double. ``y * 0.0`` keeps the sign ``round`` gives a tiny negative
# (-0.0). tests/unit/tracks/test_coordinate_rounding.py proves the equality, ties included.
_MICRODEG_PER_SEMI = 45 * 10**COORD_DECIMALS / 2**29  # = 703125 / 2**23, exactly
_ROUND_HALF_EVEN = 1.5 * 2**52
_MICRODEG = 10.0**COORD_DECIMALS


def semicircles_to_degrees(semi: int) -> float:
    """``round(semi * SEMICIRCLES_TO_DEGREES, COORD_DECIMALS)``, without ``round``."""
    y = semi * _MICRODEG_PER_SEMI
    n = (y + _ROUND_HALF_EVEN) - _ROUND_HALF_EVEN
    return n / _MICRODEG if n else y * 0.0


def build_track(samples: Sequence[Sample]) -> Track:
    segments: list[list[Point]] = []
    current: list[Point] = []
    pauses = gaps = jumps = 0
    prev_ts: int | None = None
    prev_lon = prev_lat = 0.0
    # One long ride has a few thousand distinct altitudes (0.2 m steps): round each once.
    altitudes: dict[float | None, float | None] = {}
    altitude_missing = False
    # The per-point body is inlined (it runs 100,000 times on a long ride): semicircles_to_degrees,
    # distance_m, and round(alt, ALT_DECIMALS) through the cache.
    scale, magic, microdeg = _MICRODEG_PER_SEMI, _ROUND_HALF_EVEN, _MICRODEG
    cos, hypot, deg, near = math.cos, math.hypot, _DEG, _NEAR_DEG
    for ts, lat_semi, lon_semi, alt, new_segment in samples:
        y = lon_semi * scale
        n = (y + magic) - magic
        lon = n / microdeg if n else y * 0.0
        y = lat_semi * scale
        n = (y + magic) - magic
        lat = n / microdeg if n else y * 0.0
        if current:
            if new_segment:
                pauses += 1
                split = True
            elif ts is not None and prev_ts is not None and ts - prev_ts > MAX_GAP_S:
                gaps += 1
                split = True
            elif lon == prev_lon and lat == prev_lat:  # a step of 0 m: never a jump
                if ts is not None:
                    prev_ts = ts
                continue
            elif -near < lon - prev_lon < near and -near < lat - prev_lat < near:
                split = False  # a step of at most ~240 m: never a jump, no distance needed
            else:
                # distance_m(prev_lon, prev_lat, lon, lat), the same float operations
                step = EARTH_RADIUS_M * hypot(
                    (lon - prev_lon) * deg * cos((prev_lat + lat) * 0.5 * deg), (lat - prev_lat) * deg
                )
                split = step > MIN_JUMP_M and (
                    ts is None or prev_ts is None or ts <= prev_ts or step / (ts - prev_ts) > MAX_SPEED_MPS
                )
                if split:
                    jumps += 1
            if split:
                if len(current) >= MIN_SEGMENT_POINTS:
                    segments.append(current)
                current = []
        rounded = altitudes.get(alt, _UNSEEN)
        if rounded is _UNSEEN:
            if alt is None:
                rounded = altitudes[None] = None
                altitude_missing = True
            else:
                rounded = round(alt, ALT_DECIMALS)
                if alt:  # not 0.0: -0.0 is the same key but rounds to -0.0
                    altitudes[alt] = rounded
        current.append((lon, lat, rounded))  # type: ignore[arg-type]
        prev_lon, prev_lat = lon, lat
        if ts is not None:
            prev_ts = ts
    if len(current) >= MIN_SEGMENT_POINTS:
        segments.append(current)
    return Track(segments, pauses, gaps, jumps, every_point_has_altitude=not altitude_missing)


_UNSEEN = object()


def simplify_line(coords: Sequence[T], tolerance_m: float = SIMPLIFY_TOLERANCE_M) -> list[T]:
    """The points of ``coords`` ([lon, lat, ...] items, returned as they are) that keep the line
    within about ``tolerance_m`` of the original; always keeps the first and last point.

    One pass: from a key point, a direction is set by the next point; following points that stay
    within ``tolerance_m`` of that ray and keep moving forward along it are dropped; the first one
    outside (or turning back) makes the point before it the new key.
    """
    n = len(coords)
    if n < 3:
        return list(coords)
    kx = EARTH_RADIUS_M * _DEG * math.cos(coords[0][1] * _DEG)  # metres per degree, local
    ky = EARTH_RADIUS_M * _DEG
    tol2 = tolerance_m * tolerance_m
    first = coords[0]
    out = [first]
    key_x, key_y = first[0] * kx, first[1] * ky
    prev = coords[1]
    dx, dy = prev[0] * kx - key_x, prev[1] * ky - key_y
    len2 = along = dx * dx + dy * dy  # ``along``: progress of the last point along the ray (x len)
    for i in range(2, n):
        pt = coords[i]
        x, y = pt[0] * kx - key_x, pt[1] * ky - key_y
        cross = x * dy - y * dx
        progress = x * dx + y * dy
        if cross * cross > tol2 * len2 or progress < along:  # left the corridor, or turned back
            out.append(prev)
            key_x, key_y = prev[0] * kx, prev[1] * ky
            dx, dy = pt[0] * kx - key_x, pt[1] * ky - key_y
            len2 = along = dx * dx + dy * dy
        elif len2 == 0:  # the direction point sat on the key: take this one
            dx, dy = x, y
            len2 = along = x * x + y * y
        else:
            along = progress
        prev = pt
    out.append(prev)
    return out
