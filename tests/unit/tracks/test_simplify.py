"""Line thinning (ridelines.tracks.simplify_line): bounded error, endpoints kept, real reduction."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ridelines.features import decode_track
from ridelines.tracks import SIMPLIFY_TOLERANCE_M, distance_m, simplify_line

CORPUS = Path(__file__).resolve().parents[2] / "data" / "fit"


def _point_to_segment_m(p: list[float], a: list[float], b: list[float]) -> float:
    kx = 111_195.0 * math.cos(math.radians(a[1]))
    ax, ay, bx, by = a[0] * kx, a[1] * 111_195.0, b[0] * kx, b[1] * 111_195.0
    px, py = p[0] * kx, p[1] * 111_195.0
    dx, dy = bx - ax, by - ay
    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _max_error_m(original: list, kept: list) -> float:
    """Every original point's distance to the kept polyline, between the kept points around it."""
    index = {id(p): i for i, p in enumerate(original)}
    worst = 0.0
    for a, b in itertools.pairwise(kept):
        for p in original[index[id(a)] : index[id(b)] + 1]:
            worst = max(worst, _point_to_segment_m(p, a, b))
    return worst


def test_straight_line_keeps_its_ends() -> None:
    line = [[8.0 + i * 1e-4, 47.0] for i in range(100)]
    assert simplify_line(line) == [line[0], line[-1]]


def test_short_lines_unchanged() -> None:
    assert simplify_line([[1.0, 2.0], [1.1, 2.1]]) == [[1.0, 2.0], [1.1, 2.1]]


def test_u_turn_is_kept() -> None:
    line = [[8.0 + i * 1e-4, 47.0] for i in range(10)] + [
        [8.0 + i * 1e-4, 47.00005] for i in range(9, -1, -1)
    ]
    kept = simplify_line(line)
    assert line[9] in kept and kept[-1] == line[-1]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-30, 30), st.floats(-30, 30)), min_size=3, max_size=60))
def test_error_stays_within_twice_the_tolerance(steps: list[tuple[float, float]]) -> None:
    line, lon, lat = [], 8.0, 47.0
    for east, north in steps:
        lon += east / (111_195.0 * math.cos(math.radians(lat)))
        lat += north / 111_195.0
        line.append([lon, lat])
    kept = simplify_line(line)
    assert kept[0] is line[0] and kept[-1] is line[-1]
    assert _max_error_m(line, kept) <= 2 * SIMPLIFY_TOLERANCE_M + 1e-6


def test_real_ride_shrinks_and_stays_close() -> None:
    track = decode_track((CORPUS / "sports-lib/rides/fit/6783622686.fit").read_bytes()).track
    segment = [list(p) for p in max(track.segments, key=len)]
    kept = simplify_line(segment)
    assert len(kept) < len(segment) / 2
    assert _max_error_m(segment, kept) <= 2 * SIMPLIFY_TOLERANCE_M + 1e-6
    assert distance_m(*kept[0][:2], *segment[0][:2]) == 0
