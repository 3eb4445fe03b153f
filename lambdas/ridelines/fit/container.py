"""Unwrap what intervals.icu's original-file endpoint may return: plain FIT or gzip'd FIT."""

from __future__ import annotations

import zlib

from ridelines.errors import FitDecodeError

GZIP_MAGIC = b"\x1f\x8b"
# A 24-hour 1 Hz ride is ~5 MB of FIT; anything far beyond is not a ride (or is a gzip bomb).
MAX_FIT_BYTES = 64 * 1024 * 1024


def unwrap(data: bytes, source: str) -> bytes:
    """The FIT bytes inside ``data`` (gzip recognised by its magic bytes, not by a file name)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_FIT_BYTES + 1)
    except zlib.error as exc:
        raise FitDecodeError(f"{source}: corrupt gzip data ({exc})") from None
    if len(out) > MAX_FIT_BYTES:
        raise FitDecodeError(f"{source}: gzip content is larger than {MAX_FIT_BYTES // 2**20} MiB")
    if not inflater.eof:
        raise FitDecodeError(f"{source}: gzip data is truncated")
    return out
