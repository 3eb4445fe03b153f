"""Facts sports-lib's integration spec asserts (tests/data/fit/sports-lib/EXPECTED-sports-lib.txt).

Deliberate difference: sports-lib rejects activities longer than 14 days (31-days-activity); we
keep them, and the multi-week gaps become segment breaks, never lines across the map.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ridelines import fit
from ridelines.errors import FitDecodeError
from ridelines.features import decode_track, fit_to_feature

SPORTS_LIB = Path(__file__).resolve().parents[2] / "data" / "fit" / "sports-lib"


@pytest.mark.parametrize(
    ("name", "distance_m"),
    [
        ("runs/fit/6909950168.fit", 6458),
        ("runs/fit/6910052863.fit", 8225),
        ("runs/fit/6914448270.fit", 49897),
        ("rides/fit/3939576645.fit", 42220.87),
        ("rides/fit/828989227.fit", 141944.2),
        ("rides/fit/971150603.fit", 32227.5),
    ],
)
def test_distance(name: str, distance_m: float) -> None:
    feature = fit_to_feature((SPORTS_LIB / name).read_bytes(), source=name)
    assert feature is not None
    assert feature["properties"]["distance_m"] == pytest.approx(distance_m, abs=0.05)


@pytest.mark.parametrize(
    ("name", "samples"),
    [
        ("rides/fit/3939576645.fit", 2547),
        ("rides/fit/7432332116.fit", 10063),
        ("others/27-days-activity.fit", 3699),
    ],
)
def test_record_counts(name: str, samples: int) -> None:
    assert fit.decode((SPORTS_LIB / name).read_bytes()).records == samples


@pytest.mark.parametrize("name", ["others/empty-activities.fit", "others/empty-sessions.fit"])
def test_files_without_activities_are_rejected(name: str) -> None:
    with pytest.raises(FitDecodeError):
        fit.decode((SPORTS_LIB / name).read_bytes(), name)


def test_no_null_island_at_the_start() -> None:
    feature = fit_to_feature((SPORTS_LIB / "others/broken-start-latlng.fit").read_bytes())
    assert feature is not None
    first = feature["geometry"]["coordinates"][0]
    assert (first[0], first[1]) != (0.0, 0.0)
    assert all(abs(c[0]) > 1 or abs(c[1]) > 1 for c in feature["geometry"]["coordinates"])


def test_month_long_activity_is_kept_and_split() -> None:
    decoded = decode_track((SPORTS_LIB / "others/31-days-activity.fit").read_bytes())
    assert decoded.has_track and len(decoded.track.segments) > 1


def test_start_date_of_the_triathlon() -> None:
    feature = fit_to_feature((SPORTS_LIB / "triathlons/fit/4623204522.fit").read_bytes())
    assert feature is not None and feature["properties"]["start"] == "2018-10-13T17:05:01Z"
