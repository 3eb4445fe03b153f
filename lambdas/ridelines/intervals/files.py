"""What ``GET /api/v1/activity/{id}/file`` returned: sniff the body, unwrap it, find the FIT.

The endpoint declares no media type and serves the *original* upload, usually gzip-compressed
without a ``Content-Encoding`` header, so the body is recognised by its magic bytes:
``1F 8B`` gzip (unwrapped, then sniffed again), ``PK\\x03\\x04`` zip (the first ``.fit`` member),
``.FIT`` at bytes 8..11 a FIT file, XML (GPX/TCX) or anything else "not FIT".
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
FIT_SIGNATURE = b".FIT"
# A FIT file of an activity is far below this; the cap keeps a hostile body from filling memory.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024


class TruncatedFile(Exception):
    """The compressed body ended early: the transfer broke, try again later (transient)."""


@dataclass(frozen=True, slots=True)
class SniffedFile:
    fit: bytes | None  # the FIT bytes, or None when the file is not FIT
    reason: str = ""  # why it is not FIT (for the index)
    data: bytes | None = None  # the unwrapped original when it is not FIT (GPX, TCX...)


def _gunzip(data: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, MAX_UNPACKED_BYTES)
    except zlib.error as exc:
        # bad data in a body that arrived whole: permanent (a cut transfer shows up as "no eof")
        raise ValueError(f"gzip stream is corrupt: {exc}") from exc
    if decompressor.unconsumed_tail:
        raise ValueError("gzip body unpacks beyond the size limit")
    if not decompressor.eof:
        raise TruncatedFile("gzip stream ended before its end marker")
    return out


def _describe_text(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<gpx" in text:
        return "original file is GPX, not FIT"
    if b"<trainingcenterdatabase" in text:
        return "original file is TCX, not FIT"
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        return "original file is XML, not FIT"
    return "original file is not FIT"


def sniff_activity_file(data: bytes, *, depth: int = 0) -> SniffedFile:
    """Return the FIT bytes inside ``data`` or the reason there are none.

    Raises :class:`TruncatedFile` when a compressed body is cut short (a transient failure).
    """
    if depth > 3:
        return SniffedFile(None, "original file is nested too deeply")
    if not data:
        return SniffedFile(None, "original file is empty")
    if data.startswith(GZIP_MAGIC):
        try:
            return sniff_activity_file(_gunzip(data), depth=depth + 1)
        except ValueError as exc:
            return SniffedFile(None, str(exc))
    if data.startswith(ZIP_MAGIC):
        return _from_zip(data, depth)
    if len(data) >= 12 and data[8:12] == FIT_SIGNATURE:
        return SniffedFile(data)
    return SniffedFile(None, _describe_text(data[:512]), data=data)


def _from_zip(data: bytes, depth: int) -> SniffedFile:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
            fit_members = [i for i in members if i.filename.lower().endswith((".fit", ".fit.gz"))]
            track_file: SniffedFile | None = None  # a GPX/TCX member, when there is no FIT one
            for info in fit_members or members:
                if info.file_size > MAX_UNPACKED_BYTES:
                    continue
                inner = sniff_activity_file(archive.read(info), depth=depth + 1)
                if inner.fit is not None:
                    return inner
                if (
                    track_file is None
                    and inner.data is not None
                    and ("GPX" in inner.reason or "TCX" in inner.reason)
                ):
                    track_file = inner
    except (zipfile.BadZipFile, EOFError) as exc:
        raise TruncatedFile(f"zip archive is incomplete: {exc}") from exc
    return track_file or SniffedFile(None, "zip archive holds no FIT file")
