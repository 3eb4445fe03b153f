"""build_track rounds semicircles in integers: it must give exactly what ``round(deg, 6)`` gives."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ridelines.fit import profile as p
from ridelines.tracks import (
    COORD_DECIMALS,
    MAX_GAP_S,
    MAX_SPEED_MPS,
    MIN_JUMP_M,
    build_track,
    distance_m,
    semicircles_to_degrees,
)

SEMI = st.integers(-(2**31) + 1, 2**31 - 1)
# semi = 2**22 (mod 2**23) puts the exact value half-way between two 6-decimal numbers.
TIES = st.integers(-(2**8), 2**8 - 1).map(lambda k: 2**22 + k * 2**23)


@settings(deadline=None)  # no wall-clock limit: the machine is shared
@given(st.one_of(SEMI, TIES))
@example(0)
@example(-1)  # rounds to -0.0
@example(-(2**21))
@example(2**22)
@example(-(2**22))
@example(3 * 2**22)
def test_equals_round_of_the_float_value(semi: int) -> None:
    expected = round(semi * p.SEMICIRCLES_TO_DEGREES, COORD_DECIMALS)
    assert semicircles_to_degrees(semi).hex() == expected.hex()  # bit for bit, signed zero included


def reference_build_track(samples: list) -> tuple:
    """build_track as it was written first (``round`` and ``distance_m`` per point): the
    inlined one must produce the same segments, bit for bit, and the same length and counts."""
    scale = p.SEMICIRCLES_TO_DEGREES
    segments: list = []
    current: list = []
    length = 0.0
    pauses = gaps = jumps = 0
    prev_ts = None
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
            if len(current) >= 2:
                segments.append(current)
            current = []
        current.append((lon, lat, None if alt is None else round(alt, 1)))
        prev_lon, prev_lat = lon, lat
        if ts is not None:
            prev_ts = ts
    if len(current) >= 2:
        segments.append(current)
    return segments, length, pauses, gaps, jumps


# Random walks with repeats, stops, pauses, gaps, clock jumps and teleports.
STEP = st.tuples(
    st.one_of(st.none(), st.integers(-3, 400)),  # dt (None: no timestamp)
    st.sampled_from([0, 0, 1, 7, 40, 300, 40_000, 2**23]),  # lat step (semicircles; ~0.0084 m each)
    st.sampled_from([0, 0, -1, 9, 55, 500, 90_000, -(2**23)]),  # lon step
    st.one_of(st.none(), st.floats(-500, 9000), st.sampled_from([0.0, -0.0, -0.04, 0.04, 12.25])),
    st.booleans(),
)


@settings(deadline=None)  # no wall-clock limit: the machine is shared
@given(
    st.one_of(SEMI.map(lambda s: s // 2), TIES, st.integers(-60, 60)),
    st.one_of(SEMI, TIES, st.integers(-60, 60)),  # around 0: -0.0 after rounding
    st.lists(STEP, max_size=60),
)
def test_the_inlined_loop_equals_the_reference(lat0: int, lon0: int, steps: list) -> None:
    samples, ts, lat, lon = [], 0, lat0, lon0
    for dt, dlat, dlon, alt, pause in steps:
        ts = None if dt is None else (ts or 0) + dt
        lat = max(-(2**30), min(2**30, lat + dlat))
        lon = max(-(2**31) + 1, min(2**31 - 1, lon + dlon))
        samples.append((ts, lat, lon, alt, pause))
    track = build_track(samples)
    segments, length, pauses, gaps, jumps = reference_build_track(samples)
    assert repr(track.segments) == repr(segments)
    has_altitudes = all(pt[2] is not None for seg in segments for pt in seg)
    assert track.every_point_has_altitude in (has_altitudes, False)  # True only when it holds
    if all(alt is not None for *_, alt, _ in samples):
        assert track.every_point_has_altitude
    assert (track.length_m.hex(), track.split_pause, track.split_gap, track.split_jump) == (
        length.hex(),
        pauses,
        gaps,
        jumps,
    )
