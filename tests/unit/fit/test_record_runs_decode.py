"""The fast decoder's record runs (columns read with strided slices) give what one record at a
time gives and what fitdecode gives: both byte orders, developer fields, sentinels, pauses."""

from __future__ import annotations

import dataclasses
from types import ModuleType

import pytest

from ridelines import fit
from ridelines.fit.activity import ActivityBuilder
from ridelines.fit.fast import decode_fast


class OneRecordAtATime(ActivityBuilder):
    """Overriding ``record`` turns the bulk path off: the per-record rules only."""

    def record(self, *args):  # type: ignore[no-untyped-def]
        super().record(*args)


def ride(fw: ModuleType, *, big_endian: bool, dev: bool) -> bytes:
    endian = ">" if big_endian else "<"
    fmt = endian + "IiiIH"
    extra = b"\x01\x02" if dev else b""
    record_def = fw.definition(
        1, 20, fw.RECORD_FIELDS, big_endian=big_endian, dev_fields=[(0, 2, 0)] if dev else None
    )
    body = fw.file_id()
    if dev:
        body += fw.definition(3, 207, [(3, 1, 0x02)]) + fw.data(3, "<B", 0)
    body += record_def

    def rec(
        i: int, lat: int | None = None, lon: int | None = None, enh: int | None = None, alt: int = 0xFFFF
    ) -> bytes:
        lat = fw.LAT0 + i * 900 if lat is None else lat
        return (
            fw.data(
                1,
                fmt,
                fw.T0 + i,
                lat,
                fw.LON0 - i * 7 if lon is None else lon,
                3000 + i if enh is None else enh,
                alt,
            )
            + extra
        )

    for i in range(300):  # one long run
        body += rec(i)
    body += fw.event(2, 4, fw.T0 + 300) + fw.event(2, 0, fw.T0 + 310) + record_def  # pause, then a new run
    for i in range(310, 400):
        if i == 320:
            body += rec(i, lat=0x7FFFFFFF)  # invalid latitude sentinel inside a run
        elif i == 330:
            body += rec(i, lat=0, lon=0)  # null island
        elif i == 340:
            body += rec(i, enh=0xFFFFFFFF, alt=3100)  # enhanced altitude missing: plain one used
        elif i == 350:
            body += fw.data(1, fmt, 0xFFFFFFFF, fw.LAT0, fw.LON0, 3000, 0xFFFF) + extra  # no timestamp
        else:
            body += rec(i)
    return fw.fit_file(body)


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("dev", [False, True])
def test_runs_equal_one_record_at_a_time_and_fitdecode(fw: ModuleType, big_endian: bool, dev: bool) -> None:
    data = ride(fw, big_endian=big_endian, dev=dev)
    one = OneRecordAtATime()
    decode_fast(data, one, "ride.fit")
    fast = fit.decode(data, "ride.fit")
    reference = fit.decode(data, "ride.fit", reference=True)
    assert fast.records == 300 + 90 and len(fast.samples) == 390 - 2 and fast.invalid_positions == 2
    assert [i for i, s in enumerate(fast.samples) if s[4]] == [0, 300]
    for other in (one.activity, reference):
        assert dataclasses.asdict(fast) == dataclasses.asdict(other)
        assert repr(fast.samples) == repr(other.samples)
