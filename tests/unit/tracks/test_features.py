"""Feature properties, metadata precedence, and virtual-ride detection."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ridelines.features import ActivityMeta, fit_to_feature

CORPUS = Path(__file__).resolve().parents[2] / "data" / "fit"


def feature(name: str, meta: ActivityMeta | None = None) -> dict:
    path = CORPUS / name
    out = fit_to_feature(path.read_bytes(), meta, source=str(path))
    assert out is not None
    return out


def test_properties_from_the_fit_file() -> None:
    f = feature("python-fitparse/garmin-edge-820-bike.fit")
    assert f["type"] == "Feature"
    assert f["properties"] == {
        "id": "garmin-edge-820-bike",
        "name": None,
        "type": "Ride",
        "start": "2017-06-12T16:10:15Z",
        "distance_m": 457.1,
        "moving_s": 65,
        "elevation_gain_m": 0,
        "virtual": False,
        "trainer": False,
    }
    assert f["geometry"]["type"] == "LineString"
    assert len(f["geometry"]["coordinates"][0]) == 3  # lon, lat, altitude


def test_meta_wins() -> None:
    meta = ActivityMeta(
        id="i123",
        name="Morning ride",
        type="GravelRide",
        start=datetime(2024, 5, 1, 7, 0, tzinfo=UTC),
        distance_m=1000.0,
        moving_s=100,
        elevation_gain_m=12.5,
    )
    props = feature("python-fitparse/garmin-edge-820-bike.fit", meta)["properties"]
    assert props == {
        "id": "i123",
        "name": "Morning ride",
        "type": "GravelRide",
        "start": "2024-05-01T07:00:00Z",
        "distance_m": 1000.0,
        "moving_s": 100,
        "elevation_gain_m": 12.5,
        "virtual": False,
        "trainer": False,
    }


def test_elevation_gain_left_out_when_unknown() -> None:
    props = feature("gpsbabel/track/garmin-forerunner-10.fit")["properties"]  # no total_ascent
    assert "elevation_gain_m" not in props


@pytest.mark.parametrize(
    "name",
    [
        "fit-file-faker/zwift_20250401.fit",
        "fit-file-faker/zwift_non_utf8_20260130.fit",
        "fit-file-faker/mywhoosh_20260111.fit",
        "fit-file-faker/tpv_20251120.fit",
        "python-fitparse/null_compressed_speed_dist.fit",
        "tormoder-fit/misc/0134902991.fit",
    ],
)
def test_virtual_rides_detected_from_the_fit(name: str) -> None:
    assert feature(name)["properties"]["virtual"] is True


@pytest.mark.parametrize(
    "name",
    [
        "sports-lib/rides/fit/6783622686.fit",
        "fit-file-faker/karoo_20251119.fit",
        "tormoder-fit/bpg/garmin.fit",
    ],
)
def test_outdoor_rides_are_not_virtual(name: str) -> None:
    assert feature(name)["properties"]["virtual"] is False


def test_old_zwift_file_needs_intervals_type() -> None:
    """2015 Zwift files say manufacturer "development" on a real map: only the type tells."""
    name = "sports-lib/rides/fit/971150603.fit"
    assert feature(name)["properties"]["virtual"] is False
    assert feature(name, ActivityMeta(id="1", type="VirtualRide"))["properties"]["virtual"] is True
    assert feature(name, ActivityMeta(id="1", trainer=True))["properties"]["virtual"] is True


def test_explicit_virtual_flag_overrides_detection() -> None:
    name = "fit-file-faker/zwift_20250401.fit"
    assert feature(name, ActivityMeta(id="1", virtual=False))["properties"]["virtual"] is False


def test_multisegment_geometry_is_multilinestring() -> None:
    f = feature("gpsbabel/track/garmin-edge-800.fit")
    assert f["geometry"]["type"] == "MultiLineString" and len(f["geometry"]["coordinates"]) == 8


def test_feature_is_json_and_compact() -> None:
    import json

    f = feature("sports-lib/rides/fit/6783622686.fit")
    text = json.dumps(f, separators=(",", ":"), allow_nan=False)
    coords = f["geometry"]["coordinates"]
    assert all(len(str(c[0]).split(".")[-1]) <= 6 for seg in coords for c in seg)
    assert len(text) < 1_000_000
