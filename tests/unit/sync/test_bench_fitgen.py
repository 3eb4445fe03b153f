"""The benchmarks' synthetic FIT encoder (bench/fitgen.py) writes files both decoders read the same way."""

from __future__ import annotations

from datetime import UTC, datetime

import fitdecode
import pytest

from bench.fitgen import crc16, ride
from ridelines.features import fit_to_feature
from ridelines.fit import decode

START = datetime(2021, 6, 5, 7, 30, tzinfo=UTC)


def _fitdecode(
    data: bytes,
) -> tuple[list[tuple[datetime, float, float, float, float]], dict, list[tuple[str, str]]]:
    records, session, events = [], {}, []
    # CRC checks on (the default): a wrong header or file CRC raises
    with fitdecode.FitReader(data, check_crc=fitdecode.CrcCheck.RAISE) as reader:
        for frame in reader:
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            values = {f.name: f.value for f in frame.fields}
            if frame.name == "record":
                records.append(
                    (
                        values["timestamp"],
                        values["position_lat"],
                        values["position_long"],
                        values["enhanced_altitude"],
                        values["distance"],
                    )
                )
            elif frame.name == "session":
                session = values
            elif frame.name == "event":
                events.append((values["event"], values["event_type"]))
            elif frame.name == "file_id":
                assert values["type"] == "activity"
    return records, session, events


def test_crc16_matches_the_fit_sdk_check_value() -> None:
    assert crc16(b"123456789") == 0xBB3D  # CRC-16/ARC check value
    assert crc16(b"9", crc16(b"12345678")) == 0xBB3D  # continues from a running CRC
    assert crc16(b"") == 0


@pytest.mark.parametrize(("seed", "hours"), [(1, 0.02), (2, 0.05)])
def test_ride_decodes_identically_with_fitdecode_and_ridelines(seed: int, hours: float) -> None:
    data = ride(seed, START, hours)
    assert data == ride(seed, START, hours)  # deterministic: a bench can regenerate it on demand
    assert data[8:12] == b".FIT" and data[0] == 14

    records, session, events = _fitdecode(data)
    points = round(hours * 3600)
    assert len(records) == points
    assert [r[0] for r in records] == [
        datetime.fromtimestamp(START.timestamp() + k, UTC) for k in range(points)
    ]
    assert events == [("timer", "start"), ("timer", "stop_all")]
    assert session["sport"] == "cycling"
    assert session["start_time"] == START
    assert session["total_elapsed_time"] == session["total_timer_time"] == points - 1
    assert session["total_distance"] == pytest.approx(records[-1][4], abs=0.01)
    assert records[-1][4] > 0

    # our decoder (fast path) sees the same samples as fitdecode, point for point
    fit_epoch = datetime(1989, 12, 31, tzinfo=UTC).timestamp()
    activity = decode(data, "synthetic")
    assert activity.truncated is None and activity.records == points
    assert [(s[0], s[1], s[2]) for s in activity.samples] == [
        (int(r[0].timestamp() - fit_epoch), r[1], r[2]) for r in records
    ]
    assert [s[3] for s in activity.samples] == pytest.approx([r[3] for r in records], abs=1e-6)
    assert activity.sessions[0].distance_m == pytest.approx(session["total_distance"])
    assert activity.sessions[0].sport == 2  # cycling

    feature = fit_to_feature(data)
    assert feature is not None
    props = feature["properties"]
    assert props["type"] == "Ride"
    assert props["start"] == START.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert props["distance_m"] == pytest.approx(session["total_distance"], abs=0.1)
    assert props["moving_s"] == points - 1
    coords = feature["geometry"]["coordinates"]
    # thinning keeps the ends: they are fitdecode's first and last positions, in degrees
    semi = 180.0 / 2**31
    first, last = records[0], records[-1]
    assert coords[0][:2] == pytest.approx([first[2] * semi, first[1] * semi], abs=1e-6)
    assert coords[-1][:2] == pytest.approx([last[2] * semi, last[1] * semi], abs=1e-6)
    assert coords[0][2] == pytest.approx(first[3], abs=0.2)


def test_smart_recording_keeps_every_nth_record_of_the_same_ride() -> None:
    # bench/bench_budget.py's commutes: one record every 5 s (and the last), the same track and session
    every_second, _, _ = _fitdecode(ride(3, START, 0.05))
    records, session, _ = _fitdecode(ride(3, START, 0.05, every_s=5))
    assert records == [r for k, r in enumerate(every_second) if k % 5 == 0 or k == len(every_second) - 1]
    assert session == _fitdecode(ride(3, START, 0.05))[1]
