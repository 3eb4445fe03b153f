"""Bad input gives one FitDecodeError with a clear reason; edge cases the corpus lacks decode right."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from types import ModuleType

import pytest

from ridelines import fit
from ridelines.errors import FitDecodeError
from ridelines.features import decode_track, fit_to_feature
from ridelines.fit import MIN_SALVAGED_POSITIONS

CORPUS = Path(__file__).resolve().parents[2] / "data" / "fit"


def _both(data: bytes) -> list[fit.FitActivity]:
    return [fit.decode(data, "x.fit"), fit.decode(data, "x.fit", reference=True)]


def _rejects(data: bytes, reason: str) -> None:
    for reference in (False, True):
        with pytest.raises(FitDecodeError) as err:
            fit.decode(data, "ride.fit", reference=reference)
        assert err.value.message.startswith("ride.fit: ")
        assert "\n" not in err.value.message
    with pytest.raises(FitDecodeError, match=reason):
        fit.decode(data, "ride.fit")


def test_empty(fw: ModuleType) -> None:
    _rejects(b"", "empty file")


@pytest.mark.parametrize("data", [b"hello, this is not a FIT file at all", b"\x0e\x10", b"\x00" * 40])
def test_not_fit(data: bytes) -> None:
    _rejects(data, "not a FIT file")


def test_bad_header_size(fw: ModuleType) -> None:
    good = fw.activity()
    _rejects(bytes([13]) + good[1:], "bad FIT header|not a FIT file")


def test_header_crc_mismatch(fw: ModuleType) -> None:
    good = bytearray(fw.activity())
    good[12] ^= 0xFF
    _rejects(bytes(good), "CRC mismatch")


def test_file_crc_mismatch(fw: ModuleType) -> None:
    good = bytearray(fw.activity())
    good[-1] ^= 0xFF
    _rejects(bytes(good), "CRC mismatch")


def test_flipped_position_byte_is_caught_by_crc(fw: ModuleType) -> None:
    good = bytearray(fw.activity())
    good[-12] ^= 0x01
    _rejects(bytes(good), "CRC mismatch")


def test_undefined_local_message(fw: ModuleType) -> None:
    body = fw.file_id() + fw.data(5, "<I", 1)
    _rejects(fw.fit_file(body), "local message 5")


def test_never_finalised_header(fw: ModuleType) -> None:
    body = fw.file_id() + fw.records(5)
    _rejects(fw.fit_file(body, data_size=0)[:-2] + b"\x00\x00", "never finalised")


def test_message_running_past_its_data_section(fw: ModuleType) -> None:
    body = fw.file_id() + fw.records(5)
    damaged = fw.fit_file(body, data_size=len(body) - 3) + b"\x00" * 8
    _rejects(damaged, "runs past the end of the data section|CRC mismatch|unreadable")


class TestTruncation:
    """Policy (ridelines.fit docstring): keep what decoded before the break when it is a track."""

    def test_truncated_inside_records_keeps_the_ride_before_the_break(self, fw: ModuleType) -> None:
        whole = fw.activity(100)
        for cut in (len(whole) - 1, len(whole) - 2, len(whole) - 10, len(whole) // 2):
            for activity in _both(whole[:cut]):
                assert activity.truncated
                assert MIN_SALVAGED_POSITIONS <= len(activity.samples) < 100 or cut >= len(whole) - 2
            feature = fit_to_feature(whole[:cut], source="cut.fit")
            assert feature is not None and feature["geometry"]["type"] == "LineString"

    def test_truncated_before_two_positions_is_rejected(self, fw: ModuleType) -> None:
        whole = fw.activity(100)
        header_and_file_id = 14 + len(fw.file_id())
        for cut in (13, 20, header_and_file_id + 5, header_and_file_id + 40):
            _rejects(whole[:cut], "truncated")

    def test_truncated_chained_part_keeps_the_complete_first_file(self, fw: ModuleType) -> None:
        first = fw.activity(20)
        second = fw.activity(20)
        for activity in _both(first + second[:30]):
            assert activity.truncated and len(activity.samples) == 20
        for activity in _both(first + second[:5]):
            assert activity.truncated and len(activity.samples) == 20


def test_gzip_input_recognised_by_magic_bytes() -> None:
    plain = (CORPUS / "python-fitparse" / "garmin-edge-820-bike.fit").read_bytes()
    zipped = gzip.compress(plain)
    assert fit_to_feature(zipped, source="a") == fit_to_feature(plain, source="a")


@pytest.mark.parametrize("cut", [3, 20, -8])
def test_corrupt_or_truncated_gzip(cut: int) -> None:
    zipped = gzip.compress((CORPUS / "python-fitparse" / "garmin-edge-820-bike.fit").read_bytes())
    damaged = zipped[:cut]
    with pytest.raises(FitDecodeError, match="gzip"):
        fit.decode(damaged, "g.fit.gz")


def test_positions_sentinel_null_island_and_out_of_range_are_dropped(fw: ModuleType) -> None:
    body = fw.file_id() + fw.definition(1, 20, fw.RECORD_FIELDS)
    rows = [
        (fw.LAT0, fw.LON0),
        (0x7FFFFFFF, fw.LON0),  # sentinel latitude
        (fw.LAT0, 0x7FFFFFFF),  # sentinel longitude
        (0, 0),  # null island
        (2**30 + 5, fw.LON0),  # latitude beyond 90 degrees
        (fw.LAT0 + 1000, fw.LON0 + 1000),
    ]
    for i, (lat, lon) in enumerate(rows):
        body += fw.data(1, "<IiiIH", fw.T0 + i, lat, lon, 0xFFFFFFFF, 0xFFFF)
    for activity in _both(fw.fit_file(body)):
        assert [(s[1], s[2]) for s in activity.samples] == [rows[0], rows[5]]
        assert activity.invalid_positions == 4
        assert all(s[3] is None for s in activity.samples)


def test_enhanced_altitude_preferred_and_semicircles_to_degrees(fw: ModuleType) -> None:
    body = fw.file_id() + fw.definition(1, 20, fw.RECORD_FIELDS)
    body += fw.data(1, "<IiiIH", fw.T0, 2**30, -(2**30), (1234 + 500) * 5, (99 + 500) * 5)
    body += fw.data(1, "<IiiIH", fw.T0 + 1, 2**30 - 100, -(2**30), 0xFFFFFFFF, (99 + 500) * 5)
    feature = fit_to_feature(fw.fit_file(body), source="x")
    assert feature is not None
    (lon, lat, alt), (_, _, alt2) = feature["geometry"]["coordinates"]
    assert (lon, lat, alt, alt2) == (-90.0, 90.0, 1234.0, 99.0)


def test_compressed_timestamp_headers(fw: ModuleType) -> None:
    """A 5-bit time offset in the record header, rolling over every 32 s, from the last full timestamp."""
    expected = [fw.T0 + i for i in range(70)]
    body = fw.file_id() + fw.definition(1, 20, fw.RECORD_FIELDS)
    body += fw.data(1, "<IiiIH", fw.T0, fw.LAT0, fw.LON0, 0xFFFFFFFF, 0xFFFF)
    body += fw.definition(2, 20, fw.RECORD_FIELDS[1:])  # no timestamp field: the header carries it
    for i in range(1, 70):
        values = (fw.LAT0 + i * 500, fw.LON0, 0xFFFFFFFF, 0xFFFF)
        body += fw.data(2, "<iiIH", *values, compressed_offset=expected[i] & 0x1F)
    for activity in _both(fw.fit_file(body)):
        assert [s[0] for s in activity.samples] == expected


def test_big_endian_definitions_and_developer_fields(fw: ModuleType) -> None:
    body = fw.file_id() + fw.definition(1, 20, fw.RECORD_FIELDS, big_endian=True, dev_fields=[(0, 2, 0)])
    body += fw.data(1, ">IiiIH", fw.T0, fw.LAT0, fw.LON0, 3000, 0xFFFF) + b"\x01\x02"
    body += fw.data(1, ">IiiIH", fw.T0 + 1, fw.LAT0 + 900, fw.LON0, 3005, 0xFFFF) + b"\x03\x04"
    dev_id = fw.definition(3, 207, [(3, 1, 0x02)]) + fw.data(3, "<B", 0)  # developer_data_id index 0
    for activity in _both(fw.fit_file(fw.file_id() + dev_id + body[len(fw.file_id()) :])):
        assert [(s[0], s[1], s[3]) for s in activity.samples] == [
            (fw.T0, fw.LAT0, 100.0),
            (fw.T0 + 1, fw.LAT0 + 900, 101.0),
        ]


def test_unexpected_base_type_falls_back_to_fitdecode(
    fw: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = [(253, 4, 0x86), (0, 4, 0x86), (1, 4, 0x85)]  # latitude declared uint32: odd, legal
    body = fw.file_id() + fw.definition(1, 20, fields)
    for i in range(3):
        body += fw.data(1, "<IIi", fw.T0 + i, fw.LAT0 + i * 900, fw.LON0)
    calls = []
    real = fit.decode_reference

    def spy(*args):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(fit, "decode_reference", spy)
    activity = fit.decode(fw.fit_file(body), "odd.fit")
    assert calls and len(activity.samples) == 3


def test_timer_stop_start_marks_a_new_segment(fw: ModuleType) -> None:
    body = fw.file_id() + fw.records(10) + fw.event(2, 4, fw.T0 + 10) + fw.event(2, 0, fw.T0 + 20)
    body += fw.records(10, start=20, local=1)
    for activity in _both(fw.fit_file(body)):
        assert [i for i, s in enumerate(activity.samples) if s[4]] == [0, 10]
    track = decode_track(fw.fit_file(body)).track
    assert len(track.segments) == 2 and track.split_pause == 1


def test_non_activity_files_have_no_track(fw: ModuleType) -> None:
    course = fw.fit_file(fw.file_id(file_type=6) + fw.records(10))
    decoded = decode_track(course)
    assert not decoded.has_track and "course" in (decoded.no_track_reason or "")
    assert fit_to_feature(course) is None


def test_settings_file_chained_after_an_activity_keeps_the_activity(fw: ModuleType) -> None:
    settings = fw.fit_file(fw.file_id(file_type=2))
    decoded = decode_track(fw.activity(10) + settings)
    assert decoded.has_track and decoded.activity.file_types == [4, 2]


def test_no_gps_is_not_an_error(fw: ModuleType) -> None:
    fields = [(253, 4, 0x86), (3, 1, 0x02)]  # timestamp + heart rate only
    body = fw.file_id() + fw.definition(1, 20, fields)
    for i in range(30):
        body += fw.data(1, "<IB", fw.T0 + i, 120)
    decoded = decode_track(fw.fit_file(body))
    assert decoded.no_track_reason == "no GPS positions" and decoded.activity.no_position == 30
    assert fit_to_feature(fw.fit_file(body)) is None


def test_twelve_byte_header(fw: ModuleType) -> None:
    data = fw.fit_file(fw.file_id() + fw.records(5), header_size=12)
    assert all(len(a.samples) == 5 for a in _both(data))
    assert struct.unpack_from("<B", data)[0] == 12
