"""The FIT CRC equals the FIT SDK's nibble algorithm, in any chunking and on real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ridelines.fit.crc import crc16

DATA = Path(__file__).resolve().parents[2] / "data/fit"

# The FIT SDK's CRC (FIT Protocol, "File Header" / "CRC"): a 16-entry table, one nibble per step.
_SDK_TABLE = (
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
)  # fmt: skip


def sdk_crc(data: bytes, crc: int = 0) -> int:
    for byte in data:
        tmp = _SDK_TABLE[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _SDK_TABLE[byte & 0xF]
        tmp = _SDK_TABLE[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _SDK_TABLE[(byte >> 4) & 0xF]
    return crc


@settings(deadline=None)  # no wall-clock limit: the machine is shared
@given(st.binary(max_size=300), st.integers(0, 300))
def test_matches_the_sdk_algorithm_in_any_chunking(data: bytes, split: int) -> None:
    assert crc16(data) == sdk_crc(data)
    assert crc16(data[split:], crc16(data[:split])) == crc16(data)


def test_reads_any_buffer() -> None:
    data = b"x123456789y"
    assert crc16(b"123456789") == 0xBB3D  # the CRC-16/ARC check value
    assert crc16(memoryview(data)[1:-1]) == 0xBB3D
    assert crc16(bytearray(b"123456789")) == 0xBB3D


@pytest.mark.parametrize(
    "name",
    ["python-fitparse/garmin-edge-820-bike.fit", "python-fitparse/2019-02-17-062644-ELEMNT-297E-195-0.fit"],
)
def test_a_whole_fit_file_checks_to_zero_and_matches_the_sdk(name: str) -> None:
    data = (DATA / name).read_bytes()
    assert crc16(data) == 0  # CRC over the data followed by its own CRC is 0 for CRC-16/ARC
    assert crc16(data[:-2]) == sdk_crc(data[:-2]) == int.from_bytes(data[-2:], "little")
