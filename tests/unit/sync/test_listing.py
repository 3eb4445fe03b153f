"""Listing entries are judged one by one: a bad one is skipped with its reason, the rest stand."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ridelines.intervals.listing import Listing, parse_page, readable_id, validate_entry
from ridelines.intervals.models import IntervalsActivity

GOOD = {"id": "i1", "name": "Ride", "type": "Ride", "start_date": "2024-05-01T06:30:00Z", "distance": 1000.0}


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({**GOOD, "distance": float("nan")}, "distance"),
        ({**GOOD, "name": "a\ud800b"}, "unicode"),
        ({**GOOD, "start_date": "1500-01-01T00:00:00Z"}, "start_date"),
        ({**GOOD, "elapsed_time": "x"}, "elapsed_time"),
        ({k: v for k, v in GOOD.items() if k != "id"}, "id"),
        ({**GOOD, "bad key!": 1}, "malformed field name"),
        (["not", "an", "object"], "not an object"),
    ],
)
def test_each_broken_entry_is_skipped_with_a_reason(entry: object, reason: str) -> None:
    outcome = validate_entry(entry)
    assert not isinstance(outcome, IntervalsActivity)
    assert reason in outcome.reason


def test_a_page_keeps_good_entries_and_protects_readable_ids_of_bad_ones() -> None:
    raw = json.loads(
        json.dumps(
            [GOOD, {**GOOD, "id": "i2", "distance": float("inf")}, {"id": 17, "trainer": "perhaps"}, None]
        )
    )
    listing = Listing()
    assert parse_page(raw, listing, set()) == 4
    assert [a.id for a in listing.activities] == ["i1"]
    assert listing.protected_ids == {"i2", "17"} and listing.unidentified_skips == 1


def test_well_formed_unknown_fields_are_ignored() -> None:
    assert isinstance(validate_entry({**GOOD, "icu_new_field_2027": [1, 2]}), IntervalsActivity)


def test_readable_id_refuses_what_cannot_be_a_url_segment() -> None:
    assert readable_id({"id": "../x"}) is None and readable_id({"id": True}) is None
    assert readable_id({"id": 42}) == "42"


@given(
    st.dictionaries(
        st.text(max_size=12),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
        max_size=8,
    )
)
def test_any_entry_is_validated_or_skipped_never_raised(entry: dict) -> None:
    validate_entry({**entry, "id": "i9"})
    validate_entry(entry)
