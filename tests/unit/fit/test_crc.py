"""The two-bytes-per-step FIT CRC equals the FIT SDK's nibble algorithm, in any chunking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ridelines.fit.crc import _byte_step, crc16


def sdk_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = _byte_step(crc, byte)
    return crc


@given(st.binary(max_size=300), st.integers(0, 300))
def test_matches_the_sdk_algorithm_in_any_chunking(data: bytes, split: int) -> None:
    assert crc16(data) == sdk_crc(data)
    assert crc16(data[split:], crc16(data[:split])) == crc16(data)


def test_a_whole_fit_file_checks_to_zero() -> None:
    from pathlib import Path

    data = (
        Path(__file__).resolve().parents[2] / "data/fit/python-fitparse/garmin-edge-820-bike.fit"
    ).read_bytes()
    assert crc16(data) == 0  # CRC over the data followed by its own CRC is 0 for CRC-16/ARC
