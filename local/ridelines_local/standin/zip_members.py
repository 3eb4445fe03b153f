"""The stand-in's ``download-fit-files`` body: a zip archive of members deflated ahead of time.

The benchmarks run the stand-in on the same two cores as the sync they measure, and deflating a
5000-ride history (400 MB of FIT) was most of the stand-in's CPU: work intervals.icu does on its
own servers. ``zipfile`` cannot take data that is already deflated (it compresses whatever it
is given), so the few headers of a plain zip archive are written here (APPNOTE 6.3: local file
headers, central directory, end record; no ZIP64: a batch is far below 4 GB and 65,535 entries).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_DEFLATED = 8
_UTF8_NAME = 0x800  # general purpose bit 11: the name is UTF-8 (else CP437)
_VERSION = 20  # 2.0: deflate
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the earliest a zip can say
_MEMBER_HEADER = struct.Struct("<2L")


@dataclass(frozen=True, slots=True)
class ZipMember:
    """One file as a zip entry holds it: its raw deflate stream, and the original's CRC-32 and size."""

    deflated: bytes
    crc: int
    size: int

    @classmethod
    def of(cls, data: bytes, level: int = 1) -> ZipMember:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        return cls(compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data))

    def to_bytes(self) -> bytes:
        """A member kept on disk (a benchmark's corpus): CRC and size, then the stream."""
        return _MEMBER_HEADER.pack(self.crc, self.size) + self.deflated

    @classmethod
    def from_bytes(cls, stored: bytes) -> ZipMember:
        crc, size = _MEMBER_HEADER.unpack_from(stored)
        return cls(stored[_MEMBER_HEADER.size :], crc, size)


def zip_of(members: Iterable[tuple[str, ZipMember]]) -> bytes:
    """A zip archive of the named members, as ``zipfile`` would write them deflated."""
    out = io.BytesIO()
    central = []
    for name, member in members:
        encoded = name.encode("utf-8")
        offset = out.tell()
        sizes = (member.crc, len(member.deflated), member.size, len(encoded))
        flags = 0 if name.isascii() else _UTF8_NAME
        out.write(_LOCAL.pack(b"PK\x03\x04", _VERSION, 0, flags, _DEFLATED, 0, _DOS_DATE, *sizes, 0))
        out.write(encoded)
        out.write(member.deflated)
        # made by 2.0 on Unix (3), rw-r--r--, at the local header's offset
        made_by = (_VERSION, 3, _VERSION, 0, flags, _DEFLATED, 0, _DOS_DATE)
        central.append(
            _CENTRAL.pack(b"PK\x01\x02", *made_by, *sizes, 0, 0, 0, 0, 0o644 << 16, offset) + encoded
        )
    start = out.tell()
    for record in central:
        out.write(record)
    out.write(_END.pack(b"PK\x05\x06", 0, 0, len(central), len(central), out.tell() - start, start, 0))
    return out.getvalue()
