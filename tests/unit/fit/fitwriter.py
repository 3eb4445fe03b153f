"""A tiny FIT encoder for tests: just enough to write the edge cases the corpus lacks."""

from __future__ import annotations

import struct

from ridelines.fit.crc import crc16

# (field number, size, base type)
RECORD_FIELDS = [(253, 4, 0x86), (0, 4, 0x85), (1, 4, 0x85), (78, 4, 0x86), (2, 2, 0x84)]
EVENT_FIELDS = [(253, 4, 0x86), (0, 1, 0x00), (1, 1, 0x00)]
FILE_ID_FIELDS = [(0, 1, 0x00), (1, 2, 0x84), (2, 2, 0x84), (4, 4, 0x86)]
T0 = 1_000_000_000  # FIT seconds (2021-09-08)
LAT0, LON0 = 572_000_000, 120_000_000  # ~47.9 N, 10.1 E, in semicircles


def definition(
    local: int,
    global_num: int,
    fields: list[tuple[int, int, int]],
    big_endian: bool = False,
    dev_fields: list[tuple[int, int, int]] | None = None,
) -> bytes:
    header = 0x40 | local | (0x20 if dev_fields else 0)
    endian = ">" if big_endian else "<"
    out = bytes([header, 0, 1 if big_endian else 0]) + struct.pack(endian + "HB", global_num, len(fields))
    out += b"".join(bytes(f) for f in fields)
    if dev_fields:
        out += bytes([len(dev_fields)]) + b"".join(bytes(f) for f in dev_fields)
    return out


def data(local: int, fmt: str, *values: int, compressed_offset: int | None = None) -> bytes:
    header = (0x80 | (local << 5) | compressed_offset) if compressed_offset is not None else local
    return bytes([header]) + struct.pack(fmt, *values)


def fit_file(body: bytes, *, header_size: int = 14, data_size: int | None = None) -> bytes:
    size = len(body) if data_size is None else data_size
    header = struct.pack("<BBHI4s", header_size, 0x20, 2100, size, b".FIT")
    if header_size == 14:
        header += struct.pack("<H", crc16(header))
    content = header + body
    return content + struct.pack("<H", crc16(content))


def file_id(file_type: int = 4, manufacturer: int = 1, product: int = 1) -> bytes:
    return definition(0, 0, FILE_ID_FIELDS) + data(0, "<BHHI", file_type, manufacturer, product, T0)


def records(n: int, *, start: int = 0, step_semi: int = 1000, local: int = 1) -> bytes:
    """``n`` records one second apart, moving ~10 m north each (1000 semicircles ~ 9.3 m)."""
    out = definition(local, 20, RECORD_FIELDS)
    for i in range(start, start + n):
        out += data(local, "<IiiIH", T0 + i, LAT0 + i * step_semi, LON0, (500 + 100) * 5, 0xFFFF)
    return out


def event(local: int, event_type: int, ts: int) -> bytes:
    return definition(local, 21, EVENT_FIELDS) + data(local, "<IBB", ts, 0, event_type)


def activity(n: int = 10) -> bytes:
    return fit_file(file_id() + records(n))
