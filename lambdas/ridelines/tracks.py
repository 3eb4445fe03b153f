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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ridelines.fit import Sample
from ridelines.fit import profile as p

MAX_GAP_S = 300  # 5 min without a fix: whatever happened in between is not known
MAX_SPEED_MPS = 50.0  # 180 km/h: well above any descent on a bike
MIN_JUMP_M = 250.0  # below this, a "fast" step is GPS noise, not a teleport
MIN_SEGMENT_POINTS = 2
COORD_DECIMALS = 6  # ~0.1 m: far below GPS accuracy, keeps the archive small
ALT_DECIMALS = 1

EARTH_RADIUS_M = 6_371_008.8
_DEG = math.pi / 180

Point = tuple[float, float, float | None]  # lon, lat, altitude (m) or None


@dataclass
class Track:
    segments: list[list[Point]]
    length_m: float
    split_pause: int = 0
    split_gap: int = 0
    split_jump: int = 0

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.segments)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance: exact enough between consecutive GPS fixes, and cheap."""
    x = (lon2 - lon1) * _DEG * math.cos((lat1 + lat2) * 0.5 * _DEG)
    y = (lat2 - lat1) * _DEG
    return EARTH_RADIUS_M * math.hypot(x, y)


def build_track(samples: Sequence[Sample]) -> Track:
    scale = p.SEMICIRCLES_TO_DEGREES
    segments: list[list[Point]] = []
    current: list[Point] = []
    length = 0.0
    pauses = gaps = jumps = 0
    prev_ts: int | None = None
    prev_lon = prev_lat = 0.0
    for ts, lat_semi, lon_semi, alt, new_segment in samples:
        lon = round(lon_semi * scale, COORD_DECIMALS)
        lat = round(lat_semi * scale, COORD_DECIMALS)
        split = False
        if current:
            step = distance_m(prev_lon, prev_lat, lon, lat)
            dt = None if ts is None or prev_ts is None else ts - prev_ts
            if new_segment:
                split, pauses = True, pauses + 1
            elif dt is not None and dt > MAX_GAP_S:
                split, gaps = True, gaps + 1
            elif step > MIN_JUMP_M and (dt is None or dt <= 0 or step / dt > MAX_SPEED_MPS):
                split, jumps = True, jumps + 1
            elif lon == prev_lon and lat == prev_lat:
                prev_ts = ts if ts is not None else prev_ts
                continue
            if not split:
                length += step
        if split:
            if len(current) >= MIN_SEGMENT_POINTS:
                segments.append(current)
            current = []
        current.append((lon, lat, None if alt is None else round(alt, ALT_DECIMALS)))
        prev_lon, prev_lat = lon, lat
        if ts is not None:
            prev_ts = ts
    if len(current) >= MIN_SEGMENT_POINTS:
        segments.append(current)
    return Track(segments, length, pauses, gaps, jumps)
