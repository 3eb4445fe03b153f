"""intervals.icu listing entries: validation at the edge and the stable content hash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ridelines.intervals.models import IntervalsActivity

BASE = {
    "id": "i55751783",
    "name": "Morning ride",
    "type": "Ride",
    "start_date": "2024-05-01T06:30:00Z",
    "start_date_local": "2024-05-01T08:30:00",
    "elapsed_time": 3600,
    "moving_time": 3400,
    "distance": 30123.4,
    "trainer": False,
    "source": "GARMIN_CONNECT",
    "file_type": "fit",
    "external_id": "garmin-1",
    "icu_sync_date": "2024-05-01T09:00:00Z",
}


def digest(**changes: object) -> bytes:
    return IntervalsActivity.model_validate({**BASE, **changes}).content_hash()


def test_hash_is_stable_and_ignores_fields_the_map_does_not_use() -> None:
    assert digest() == digest()
    assert len(digest()) == 16
    assert digest(icu_training_load=55, average_heartrate=140, moving_time=1) == digest()
    reordered = dict(reversed(list(BASE.items())))
    assert IntervalsActivity.model_validate(reordered).content_hash() == digest()
    assert digest(start_date="2024-05-01T08:30:00+02:00") == digest()  # same instant


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Evening ride"},
        {"type": "GravelRide"},
        {"start_date": "2024-05-01T06:31:00Z"},
        {"elapsed_time": 3601},
        {"distance": 30124.0},
        {"trainer": True},
        {"file_type": "gpx"},
        {"external_id": "garmin-2"},
        {"icu_sync_date": "2024-05-02T09:00:00Z"},
    ],
)
def test_hash_changes_with_what_the_map_shows_and_the_file_identity(change: dict) -> None:
    assert digest(**change) != digest()


@given(st.text(max_size=30), st.text(max_size=30))
def test_different_names_never_collide(a: str, b: str) -> None:
    assert (digest(name=a) == digest(name=b)) == (a == b)


@pytest.mark.parametrize("bad_id", ["", "../etc", "a/b", "x" * 65, "i 1"])
def test_ids_that_could_escape_a_url_path_are_rejected(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        IntervalsActivity.model_validate({**BASE, "id": bad_id})


def test_stubs_manual_and_no_gps_are_recognised() -> None:
    stub = IntervalsActivity.model_validate(
        {"id": "s1", "start_date_local": "2022-06-01T00:00:00", "source": "STRAVA"}
    )
    assert stub.is_strava_stub and stub.has_no_file and stub.start is not None
    assert IntervalsActivity.model_validate({**BASE, "source": "MANUAL"}).has_no_file
    indoor = IntervalsActivity.model_validate({**BASE, "stream_types": ["time", "watts"]})
    assert indoor.known_without_gps
    assert not IntervalsActivity.model_validate(BASE).known_without_gps  # unknown streams: download
    assert IntervalsActivity.model_validate({**BASE, "type": "VirtualRide"}).is_virtual
