"""The activity index (``activities.index``): what the last sync stored, for change detection.

One entry per activity the sync has dealt with: its id, the stable content hash of the listing
entry it was built from (:meth:`ridelines.intervals.models.IntervalsActivity.content_hash`), whether the archive holds a
track for it, and — for files that arrived whole but can never give a track — a status and a
short reason, so they are not fetched again until the activity itself changes.

Version 2 splits the content hash in two (:mod:`ridelines.intervals.models`): the *file hash*
(the recording's identity: a change means a new download) and the *meta hash* (what the map
shows from the listing: a change rewrites the feature's properties, no download). A version-1
index is still read: its entries carry the old combined hash and are marked ``legacy``; the sync
compares them with the listing's version-1 hash and, when equal, rewrites them as version 2
without downloading anything (the migration).

Byte format (version 2; version 1 is the same without the meta hash), integers little-endian::

    offset size  field
    0      8     magic            b"RLINDEX\\x00"
    8      2     version          u16 = 1
    10     2     reserved         u16 = 0
    12     4     entry count      u32
    16     8     body length      u64 (bytes after the 40-byte header)
    24     16    checksum         BLAKE2b-128 over header bytes 0..23 followed by the body
    40     ...   body             entries sorted by id (UTF-8 bytes, ascending), no duplicates

    entry:
    0      2     id length        u16 (1..1024)
    2      n     id               UTF-8
    .      16    file hash        BLAKE2b-128 digest (v1: the combined content hash)
    .      16    meta hash        BLAKE2b-128 digest (v2 only; zeros when legacy)
    .      1     status           u8 (see :class:`EntryStatus`)
    .      1     flags            u8, bit 0 = has track (set only with status TRACK),
                                  bit 1 = legacy (the file hash is a version-1 content hash)
    .      2     reason length    u16 (0..1024)
    .      m     reason           UTF-8

The checksum covers the header fields too, so a flipped bit anywhere, a truncated or extended
file, an unknown version or a bad magic is detected; :func:`decode_index` raises
:class:`IndexCorrupt` and the sync falls back to a full sync (never a crash). Entries are
sorted so the in-memory index (:class:`ActivityIndex`) finds an id by binary search.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum

MAGIC = b"RLINDEX\x00"
VERSION = 2
READABLE_VERSIONS = (1, 2)
HASH_SIZE = 16
MAX_ID_BYTES = 1024
MAX_REASON_BYTES = 1024
_HEADER = struct.Struct("<8sHHIQ16s")
HEADER_SIZE = _HEADER.size  # 40
_FLAG_HAS_TRACK = 0x01
_FLAG_LEGACY = 0x02
_NO_META = b"\x00" * HASH_SIZE


class IndexCorrupt(ValueError):
    """The bytes are not a valid index (bad magic, unknown version, checksum or structure)."""


class EntryStatus(IntEnum):
    """What the sync got for an activity. Everything but TRACK/NO_TRACK is a permanent skip."""

    TRACK = 0  # decoded, has a GPS track in the archive
    NO_TRACK = 1  # decoded, no GPS positions (indoor ride, pool swim...)
    NO_FILE = 2  # intervals.icu has no file for it (HTTP 422)
    NOT_FIT = 3  # the original file is GPX/TCX/something else
    UNDECODABLE = 4  # a FIT file that arrived whole but cannot be decoded
    UNAVAILABLE = 5  # intervals.icu answered 403/404/410 for this one file


@dataclass(frozen=True, slots=True)
class IndexEntry:
    id: str
    hash: bytes
    status: EntryStatus = EntryStatus.TRACK
    reason: str = ""
    meta: bytes = b""  # the meta hash; empty for a legacy (version-1) entry

    @property
    def has_track(self) -> bool:
        return self.status is EntryStatus.TRACK

    @property
    def legacy(self) -> bool:
        return not self.meta


class ActivityIndex:
    """Immutable-by-convention sorted index with binary-search lookups."""

    __slots__ = ("_entries", "_ids")

    def __init__(self, entries: Iterable[IndexEntry] = ()) -> None:
        by_id: dict[str, IndexEntry] = {}
        for entry in entries:
            by_id[entry.id] = entry  # last one wins
        ordered = sorted(by_id.values(), key=lambda e: e.id.encode("utf-8"))
        self._entries: list[IndexEntry] = ordered
        self._ids: list[bytes] = [e.id.encode("utf-8") for e in ordered]

    def get(self, activity_id: str) -> IndexEntry | None:
        key = activity_id.encode("utf-8")
        pos = bisect.bisect_left(self._ids, key)
        if pos < len(self._ids) and self._ids[pos] == key:
            return self._entries[pos]
        return None

    def __contains__(self, activity_id: object) -> bool:
        return isinstance(activity_id, str) and self.get(activity_id) is not None

    def __iter__(self) -> Iterator[IndexEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActivityIndex) and self._entries == other._entries

    def __hash__(self) -> int:  # pragma: no cover - not meant as a dict key
        return hash(tuple(self._entries))

    def ids(self) -> list[str]:
        return [e.id for e in self._entries]


def _checked_utf8(text: str, what: str, limit: int) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > limit:
        raise ValueError(f"{what} longer than {limit} bytes")
    return raw


def encode_index(index: ActivityIndex, *, version: int = VERSION) -> bytes:
    """Encode as ``version`` (2; 1 only to build the old format in tests of the migration)."""
    body = bytearray()
    for entry in index:
        raw_id = _checked_utf8(entry.id, "activity id", MAX_ID_BYTES)
        if not raw_id:
            raise ValueError("empty activity id")
        if len(entry.hash) != HASH_SIZE:
            raise ValueError(f"content hash must be {HASH_SIZE} bytes")
        # reasons are informational: truncate rather than refuse (on a character boundary)
        raw_reason = entry.reason.encode("utf-8")[:MAX_REASON_BYTES].decode("utf-8", "ignore").encode()
        flags = (_FLAG_HAS_TRACK if entry.has_track else 0) | (
            _FLAG_LEGACY if entry.legacy and version >= 2 else 0
        )
        if not entry.legacy and len(entry.meta) != HASH_SIZE:
            raise ValueError(f"meta hash must be {HASH_SIZE} bytes")
        body += struct.pack("<H", len(raw_id)) + raw_id + entry.hash
        if version >= 2:
            body += entry.meta or _NO_META
        elif not entry.legacy:
            raise ValueError("a version-1 index holds only legacy entries")
        body += struct.pack("<BBH", int(entry.status), flags, len(raw_reason)) + raw_reason
    prefix = struct.pack("<8sHHIQ", MAGIC, version, 0, len(index), len(body))
    checksum = hashlib.blake2b(prefix + body, digest_size=16).digest()
    return prefix + checksum + bytes(body)


def decode_index(data: bytes) -> ActivityIndex:
    """Parse and verify an index; raises :class:`IndexCorrupt` for anything not exactly valid."""
    if len(data) < HEADER_SIZE:
        raise IndexCorrupt("index shorter than its header")
    magic, version, reserved, count, body_length, checksum = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise IndexCorrupt("not an activity index (bad magic)")
    if version not in READABLE_VERSIONS:
        raise IndexCorrupt(f"unknown index version {version}")
    if reserved != 0:
        raise IndexCorrupt("reserved header field is not zero")
    if body_length != len(data) - HEADER_SIZE:
        raise IndexCorrupt("index length does not match its header (truncated or extended)")
    body = memoryview(data)[HEADER_SIZE:]
    expected = hashlib.blake2b(bytes(data[:24]) + bytes(body), digest_size=16).digest()
    if expected != checksum:
        raise IndexCorrupt("index checksum mismatch")
    entries: list[IndexEntry] = []
    pos = 0
    previous: bytes | None = None
    try:
        for _ in range(count):
            (id_len,) = struct.unpack_from("<H", body, pos)
            pos += 2
            if not 0 < id_len <= MAX_ID_BYTES:
                raise IndexCorrupt("bad id length")
            raw_id = bytes(body[pos : pos + id_len])
            pos += id_len
            content_hash = bytes(body[pos : pos + HASH_SIZE])
            pos += HASH_SIZE
            meta = b""
            if version >= 2:
                meta = bytes(body[pos : pos + HASH_SIZE])
                pos += HASH_SIZE
            status_code, flags, reason_len = struct.unpack_from("<BBH", body, pos)
            pos += 4
            raw_reason = bytes(body[pos : pos + reason_len])
            pos += reason_len
            if len(raw_id) != id_len or len(content_hash) != HASH_SIZE or len(raw_reason) != reason_len:
                raise IndexCorrupt("entry runs past the end of the index")
            if previous is not None and raw_id <= previous:
                raise IndexCorrupt("entries are not sorted by id")
            previous = raw_id
            status = EntryStatus(status_code)
            known = _FLAG_HAS_TRACK | (_FLAG_LEGACY if version >= 2 else 0)
            if bool(flags & _FLAG_HAS_TRACK) != (status is EntryStatus.TRACK) or flags & ~known:
                raise IndexCorrupt("entry flags disagree with its status")
            if flags & _FLAG_LEGACY:
                meta = b""
            elif version >= 2 and len(meta) != HASH_SIZE:
                raise IndexCorrupt("entry runs past the end of the index")
            entries.append(
                IndexEntry(raw_id.decode("utf-8"), content_hash, status, raw_reason.decode("utf-8"), meta)
            )
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, IndexCorrupt):
            raise
        raise IndexCorrupt(f"malformed index entry: {exc}") from exc
    if pos != len(body):
        raise IndexCorrupt("trailing bytes after the last entry")
    return ActivityIndex(entries)
