"""ActivityBuilder.record_run (a run of records as columns, the fast decoder's bulk path) builds
exactly what calling ActivityBuilder.record once per record builds."""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given, settings
from hypothesis import strategies as st

from ridelines.fit.activity import ActivityBuilder

LAT = st.one_of(st.integers(-(2**30), 2**30), st.sampled_from([None, 0, 2**30 + 1, -(2**30) - 1, 2**31 - 2]))
LON = st.one_of(st.integers(-(2**31) + 1, 2**31 - 1), st.sampled_from([None, 0, -(2**31)]))
TS = st.one_of(st.integers(0, 2**32 - 2), st.none())
ALT = st.one_of(st.integers(0, 2**16 - 2), st.none())
ROW = st.tuples(TS, LAT, LON, ALT, ALT)


def columns(rows: list[tuple], present: tuple[bool, bool, bool]) -> tuple:
    ts, lats, lons, enh, alt = (list(c) for c in zip(*rows, strict=True))
    has_ts, has_enh, has_alt = present
    return (ts if has_ts else None, lats, lons, enh if has_enh else None, alt if has_alt else None)


def state(builder: ActivityBuilder) -> dict:
    return {**asdict(builder.activity), "break_next": builder._break_next}


@settings(deadline=None)  # no wall-clock limit: the machine is shared
@given(
    st.lists(st.lists(ROW, min_size=1, max_size=20), max_size=4),
    st.tuples(st.booleans(), st.booleans(), st.booleans()),
    st.sampled_from(["plain", "after_pause", "not_activity"]),
    st.booleans(),
)
def test_record_run_equals_one_record_call_per_row(
    runs: list[list[tuple]], present: tuple[bool, bool, bool], before: str, clean: bool
) -> None:
    if clean:  # the common case: every position valid, every field present (the bulk path)
        runs = [
            [(t or 1, (la or 5) % 2**30, lo or 7, e or 9, a or 11) for t, la, lo, e, a in run] for run in runs
        ]
    one_by_one, bulk = ActivityBuilder(), ActivityBuilder()
    for builder in (one_by_one, bulk):
        builder.begin_file()
        if before == "after_pause":
            builder.record(1, 10, 10, None, None)
            builder.event(0, 1)  # timer stop
            builder.event(0, 0)  # timer start: the next position starts a segment
        elif before == "not_activity":
            builder.file_id(6, 1, 1, 1)  # a course file: its records do not count
    for run in runs:
        ts, lats, lons, enh, alt = columns(run, present)
        for i in range(len(run)):
            one_by_one.record(
                None if ts is None else ts[i],
                lats[i],
                lons[i],
                None if enh is None else enh[i],
                None if alt is None else alt[i],
            )
        bulk.record_run(ts, lats, lons, enh, alt)
    assert state(bulk) == state(one_by_one)
    assert repr(bulk.activity.samples) == repr(one_by_one.activity.samples)  # same floats, bit for bit
