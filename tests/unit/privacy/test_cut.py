"""The cut on real rides: ends inside a zone go, rides passing through stay, cut ends don't point home."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from ridelines.privacy import (
    JITTER_MIN,
    OFFSET_MIN,
    PrivacySettings,
    PrivacyZone,
    StoredPrivacy,
    StoredZone,
    apply_privacy,
    cut_feature,
    distance_m,
    privacy_transform,
    protect,
)

from .conftest import (
    REAL_RIDES,
    first_point,
    last_point,
    length_m,
    local_xy,
    moved,
    points,
    real_ride,
    segments,
)

HOME_LAT, HOME_LON = 47.3769, 8.5417


def zone_at(p: list[float], radius_m: float) -> PrivacySettings:
    return PrivacySettings(zones=[PrivacyZone(lat=p[1], lon=p[0], radius_m=radius_m)])


def inside(p: list[float], lat: float, lon: float, radius_m: float) -> bool:
    return distance_m(p[0], p[1], lon, lat) < radius_m


def start_portion(track: list[list[float]], circle: tuple[float, float, float]) -> list[tuple[float, float]]:
    """The points from the start until the track first leaves the circle."""
    lat, lon, radius = circle
    portion = []
    for p in track:
        if not inside(p, lat, lon, radius * (1 - 1e-9)):
            break
        portion.append((p[0], p[1]))
    return portion


@pytest.mark.parametrize("name", REAL_RIDES)
def test_the_start_and_end_inside_a_zone_are_cut(name: str) -> None:
    ride = real_ride(name)
    start, end = first_point(ride), last_point(ride)
    apart = distance_m(start[0], start[1], end[0], end[1])
    radius = 300.0
    if radius < apart <= 4 * radius:
        # either one zone holding both ends, or two whose effective circles (<= 1.8 r) cannot overlap
        radius = apart / 4.1 if apart / 4.1 >= 100 else apart
    zones = [PrivacyZone(lat=start[1], lon=start[0], radius_m=radius)]
    if apart > radius:
        zones.append(PrivacyZone(lat=end[1], lon=end[0], radius_m=radius))
    privacy = protect(PrivacySettings(zones=zones))
    cut = cut_feature(ride, privacy)
    assert cut is not None
    kept = points(cut)
    track = points(ride)
    circles = [z.effective_circle() for z in privacy.zones]
    start_circle = circles[0]
    end_circle = next(c for c in circles if inside(end, c[0], c[1], c[2]))
    hidden_start = start_portion(track, start_circle)
    hidden_end = start_portion(track[::-1], end_circle)
    assert hidden_start and hidden_end  # the ride did start and end at the zone's centre
    # what is left is exactly the track between those portions, plus the two boundary crossings
    interior = [(p[0], p[1]) for p in track[len(hidden_start) : len(track) - len(hidden_end)]]
    kept_tuples = [(p[0], p[1]) for p in kept]
    assert kept_tuples[1 : 1 + len(interior)] == interior
    assert len(kept_tuples) == len(interior) + 2
    for kept_end, circle in ((kept[0], start_circle), (kept[-1], end_circle)):
        lat, lon, effective_radius = circle
        # the new end is where the track leaves the effective circle...
        assert distance_m(kept_end[0], kept_end[1], lon, lat) == pytest.approx(effective_radius, abs=0.5)
        # ...which lies outside the true zone, with room to spare for tile rounding
        for zone in zones:
            assert distance_m(kept_end[0], kept_end[1], zone.lon, zone.lat) > radius * JITTER_MIN - 1
    assert cut["properties"] == ride["properties"]


@pytest.mark.parametrize("name", REAL_RIDES)
def test_a_ride_passing_through_a_zone_keeps_its_line(name: str) -> None:
    ride = real_ride(name)
    track = points(ride)
    start, end = track[0], track[-1]
    # the point of the ride farthest from both ends: the ride passes it without stopping there
    middle = max(
        track, key=lambda p: min(distance_m(p[0], p[1], *start[:2]), distance_m(p[0], p[1], *end[:2]))
    )
    clearance = min(distance_m(middle[0], middle[1], *start[:2]), distance_m(middle[0], middle[1], *end[:2]))
    radius = min(2000.0, clearance / 2.5)  # the effective circle reaches at most 2.3 r from the centre
    assert radius >= 100.0, "ride too short for this test"
    privacy = protect(zone_at(middle, radius))
    cut = cut_feature(ride, privacy)
    assert cut is not None
    assert [[p[0], p[1]] for p in points(cut)] == [[p[0], p[1]] for p in track]
    assert any(inside(p, middle[1], middle[0], radius) for p in points(cut))  # the line through the zone


@pytest.mark.parametrize("name", REAL_RIDES[:4])
def test_hide_ends_trims_that_many_metres_from_every_start_and_end(name: str) -> None:
    ride = real_ride(name)
    hidden = 400.0
    cut = cut_feature(ride, StoredPrivacy(hide_ends_m=hidden))
    assert cut is not None
    assert length_m(cut) == pytest.approx(length_m(ride) - 2 * hidden, abs=0.5)
    # the new start lies on the original line, 400 m along it
    walked = 0.0
    for a, b in (pair for line in segments(ride) for pair in itertools.pairwise(line)):
        step = distance_m(a[0], a[1], b[0], b[1])
        if walked + step > hidden:
            t = (hidden - walked) / step
            expected = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
            break
        walked += step
    assert first_point(cut)[:2] == pytest.approx(expected, abs=1e-9)


def test_hide_ends_applies_after_the_zone_cut() -> None:
    ride = real_ride(REAL_RIDES[0])
    zone = protect(zone_at(first_point(ride), 300.0))
    zone_only = cut_feature(ride, zone)
    both = cut_feature(ride, StoredPrivacy(zones=zone.zones, hide_ends_m=250.0))
    assert zone_only is not None and both is not None
    assert length_m(both) == pytest.approx(length_m(zone_only) - 500.0, abs=0.5)


def test_a_ride_that_never_leaves_a_zone_is_dropped_and_others_pass() -> None:
    ride = real_ride(REAL_RIDES[0])
    track = points(ride)
    short = {**ride, "geometry": {"type": "LineString", "coordinates": track[:15]}}
    assert max(distance_m(p[0], p[1], *track[0][:2]) for p in track[:15]) < 1000
    privacy = protect(zone_at(track[0], 1000.0))
    far = moved(real_ride(REAL_RIDES[1]), HOME_LAT, HOME_LON)
    out = list(apply_privacy([short, far], privacy))
    assert out == [far]  # the short ride is gone, the ride elsewhere untouched


def test_no_settings_pass_every_feature_through_unchanged() -> None:
    rides = [real_ride(n) for n in REAL_RIDES[:3]]
    assert list(apply_privacy(rides, None)) == rides
    assert list(apply_privacy(rides, StoredPrivacy())) == rides


def test_the_tiles_transform_is_none_only_when_nothing_is_cut() -> None:
    """No transform lets the sync hand Tippecanoe the converters' lines as they are."""
    assert privacy_transform(None) is None and privacy_transform(StoredPrivacy()) is None
    ride = real_ride(REAL_RIDES[0])
    for privacy in (protect(zone_at(first_point(ride), 300.0)), StoredPrivacy(hide_ends_m=250.0)):
        transform = privacy_transform(privacy)
        assert transform is not None
        assert list(transform([ride])) == list(apply_privacy([ride], privacy))
        assert list(transform([ride])) != [ride]


# -- cut ends don't point home --------------------------------------------------------------------


def fitted_centre(ends: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares circle through points (x, y): x^2 + y^2 = 2 a x + 2 b y + c."""
    xy = np.array(ends)
    design = np.column_stack([2 * xy[:, 0], 2 * xy[:, 1], np.ones(len(xy))])
    (a, b, _c), *_ = np.linalg.lstsq(design, (xy**2).sum(axis=1), rcond=None)
    return float(a), float(b)


def fifty_rides_from_home() -> list[dict[str, Any]]:
    """Real rides moved to start at one home, each turned a different way (50 distinct starts)."""
    return [moved(real_ride(REAL_RIDES[k % len(REAL_RIDES)]), HOME_LAT, HOME_LON, 7.2 * k) for k in range(50)]


def cut_ends(rides: list[dict[str, Any]], privacy: StoredPrivacy) -> list[tuple[float, float]]:
    """Where the published lines now begin (and end, for loops that also ended in the zone)."""
    radius = privacy.zones[0].radius_m
    ends = []
    for ride in rides:
        cut = cut_feature(ride, privacy)
        assert cut is not None
        ends.append(local_xy(HOME_LAT, HOME_LON, first_point(cut)))
        if inside(last_point(ride), HOME_LAT, HOME_LON, radius):  # a loop home: its end was cut too
            ends.append(local_xy(HOME_LAT, HOME_LON, last_point(cut)))
    return ends


@pytest.mark.parametrize("radius", [200.0, 500.0, 1000.0])
def test_the_circle_through_fifty_cut_ends_is_not_centred_on_the_home(radius: float) -> None:
    rides = fifty_rides_from_home()
    for _draw in range(5):  # five independent zones (fresh random offsets)
        privacy = protect(PrivacySettings(zones=[PrivacyZone(lat=HOME_LAT, lon=HOME_LON, radius_m=radius)]))
        cx, cy = fitted_centre(cut_ends(rides, privacy))
        assert math.hypot(cx, cy) >= OFFSET_MIN * radius
        # it finds the effective centre (which is the point of the offset)
        lat, lon, _ = privacy.zones[0].effective_circle()
        ex, ey = local_xy(HOME_LAT, HOME_LON, [lon, lat])
        assert math.hypot(cx - ex, cy - ey) < 0.02 * radius


def test_without_the_offset_the_fit_would_find_the_home() -> None:
    """The check above is sensitive: cutting at a circle centred on the home gives the home away."""
    naive = StoredZone.model_construct(
        lat=HOME_LAT, lon=HOME_LON, radius_m=500.0, offset=0.0, bearing_deg=0.0, jitter=1.0
    )
    cx, cy = fitted_centre(
        cut_ends(fifty_rides_from_home(), StoredPrivacy.model_construct(zones=[naive], hide_ends_m=0.0))
    )
    assert math.hypot(cx, cy) < 0.01 * 500.0


def test_republishing_cuts_the_same_way() -> None:
    """The offsets are stored with the zone: saving the same zone again keeps them, so publishing
    again shows the same ends (new draws would average out to the home)."""
    settings = PrivacySettings(zones=[PrivacyZone(lat=HOME_LAT, lon=HOME_LON, radius_m=500.0)])
    first = protect(settings)
    again = protect(settings, previous=first)
    assert again == first and again.version() == first.version()
    rides = fifty_rides_from_home()[:5]
    assert list(apply_privacy(rides, first)) == list(apply_privacy(rides, again))
    # a new zone gets its own secret; the unchanged one keeps its own
    extended = PrivacySettings(zones=[*settings.zones, PrivacyZone(lat=46.0, lon=7.0, radius_m=300.0)])
    grown = protect(extended, previous=first)
    assert grown.zones[0] == first.zones[0]
    assert grown.version() != first.version()
    # a fresh save of the same zone without its history draws anew (the secret is random)
    assert {protect(settings).zones[0].bearing_deg for _ in range(5)} != {first.zones[0].bearing_deg}


@pytest.mark.parametrize("name", REAL_RIDES)
@pytest.mark.parametrize(("radius", "hide"), [(300.0, 0.0), (2000.0, 0.0), (100.0, 2000.0), (1000.0, 150.0)])
def test_looking_only_at_the_ends_cuts_exactly_like_the_whole_line(
    name: str, radius: float, hide: float
) -> None:
    """The cut examines a window at each end (growing when a cut reaches further) and passes the middle
    on untouched; it must give what cutting the whole line point by point gives."""
    from ridelines.privacy import _Circle, cut_line

    ride = real_ride(name)
    privacy = protect(zone_at(first_point(ride), radius))
    privacy = StoredPrivacy(zones=privacy.zones, hide_ends_m=hide)
    circles = [_Circle(*z.effective_circle()) for z in privacy.zones]
    flat = [[p[0], p[1], n] for n, line in enumerate(segments(ride)) for p in line]
    expected = [[p[0], p[1]] for p in cut_line(flat, circles, hide)]
    cut = cut_feature(ride, privacy)
    got = [] if cut is None else [[p[0], p[1]] for p in points(cut)]
    # (the full cut keeps one-point pieces that the feature drops as no line)
    assert [p for p in got] == [p for p in expected if p in got] and len(expected) - len(got) <= len(
        segments(ride)
    )
    assert got[:1] == expected[:1] and got[-1:] == expected[-1:]
