"""Track segmentation rules (ridelines.tracks): pauses, gaps, impossible jumps, time going back."""

from __future__ import annotations

import math

import pytest

from ridelines.tracks import MAX_GAP_S, MAX_SPEED_MPS, MIN_JUMP_M, build_track, distance_m

SEMI_PER_DEG = 2**31 / 180
LAT0, LON0 = 47.0, 8.0
M_PER_DEG_LAT = 111_195.0


def sample(
    t: int | None, north_m: float, east_m: float = 0.0, *, pause: bool = False, alt: float | None = 500.0
):
    lat = LAT0 + north_m / M_PER_DEG_LAT
    lon = LON0 + east_m / (M_PER_DEG_LAT * math.cos(math.radians(LAT0)))
    return (t, round(lat * SEMI_PER_DEG), round(lon * SEMI_PER_DEG), alt, pause)


def ride(n: int, *, t0: int = 0, north0: float = 0.0, speed: float = 8.0) -> list:
    return [sample(t0 + i, north0 + i * speed) for i in range(n)]


def test_one_steady_ride_is_one_segment() -> None:
    track = build_track(ride(100))
    assert len(track.segments) == 1 and track.points == 100
    assert track.length_m == pytest.approx(99 * 8.0, rel=1e-3)


def test_pause_marks_start_a_segment() -> None:
    samples = ride(10) + [sample(100 + i, 500 + i * 8, pause=(i == 0)) for i in range(10)]
    track = build_track(samples)
    assert [len(s) for s in track.segments] == [10, 10] and track.split_pause == 1


def test_gap_over_threshold_splits_and_at_threshold_does_not() -> None:
    before = ride(10)
    assert len(build_track(before + ride(10, t0=9 + MAX_GAP_S, north0=200)).segments) == 1
    track = build_track(before + ride(10, t0=10 + MAX_GAP_S, north0=200))
    assert len(track.segments) == 2 and track.split_gap == 1


def test_teleport_splits_and_a_lone_spike_vanishes() -> None:
    spike = [sample(10, 72 + 5000)]  # 5 km away for one second
    track = build_track(ride(10) + spike + ride(10, t0=11, north0=88))
    assert [len(s) for s in track.segments] == [10, 10]
    assert track.split_jump == 2


def test_fast_but_short_steps_are_noise_not_jumps() -> None:
    # 200 m in 1 s is "faster" than MAX_SPEED_MPS, but below MIN_JUMP_M: kept.
    assert MIN_JUMP_M > 200 > MAX_SPEED_MPS
    track = build_track([*ride(5), sample(5, 32 + 200), *ride(5, t0=6, north0=240)])
    assert len(track.segments) == 1


def test_speed_bound_for_long_steps() -> None:
    ok = ride(5) + ride(5, t0=100, north0=32 + 95 * 40)  # 40 m/s over 95 s: a fast descent
    assert len(build_track(ok).segments) == 1
    too_fast = ride(5) + ride(5, t0=10, north0=32 + 6 * 60)  # 60 m/s over 6 s
    assert len(build_track(too_fast).segments) == 2


def test_time_going_backwards() -> None:
    near = [*ride(10), sample(5, 80), sample(6, 88)]  # clock stepped back, rider kept going
    assert len(build_track(near).segments) == 1
    far = ride(10) + ride(10, t0=3, north0=2000)  # clock back and 2 km away: not one line
    track = build_track(far)
    assert len(track.segments) == 2 and track.split_jump == 1


def test_segments_under_two_points_are_dropped() -> None:
    samples = [*ride(5), sample(1000, 100, pause=True), *ride(3, t0=2000, north0=200)]
    track = build_track(samples)
    assert [len(s) for s in track.segments] == [5, 3]


def test_identical_positions_collapse() -> None:
    stopped = [sample(i, 0.0) for i in range(50)]
    assert build_track(stopped).segments == []
    track = build_track(stopped + ride(5, t0=50, north0=8))
    assert track.points == 6


def test_untimed_samples_split_only_on_long_steps() -> None:
    samples = [sample(None, i * 8.0) for i in range(10)] + [sample(None, 72 + 1000)] + [sample(None, 1080)]
    assert [len(s) for s in build_track(samples).segments] == [10, 2]


def test_coordinates_rounded_and_altitude_kept() -> None:
    track = build_track(ride(3))
    lon, lat, alt = track.segments[0][0]
    assert (lon, lat) == (round(lon, 6), round(lat, 6)) and alt == 500.0
    assert lat == pytest.approx(LAT0, abs=1e-6)


def test_distance_is_close_to_haversine() -> None:
    d = distance_m(8.0, 47.0, 8.01, 47.01)
    assert d == pytest.approx(1_345, rel=0.01)
