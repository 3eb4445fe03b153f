"""The binary activity index: round trip, lookups, and that any corruption is detected."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ridelines.index import (
    HEADER_SIZE,
    ActivityIndex,
    EntryStatus,
    IndexCorrupt,
    IndexEntry,
    decode_index,
    encode_index,
)

ids = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda s: len(s.encode()) <= 1024
)
entries = st.builds(
    IndexEntry,
    id=ids,
    hash=st.binary(min_size=16, max_size=16),
    status=st.sampled_from(list(EntryStatus)),
    reason=st.text(max_size=60),
)
indexes = st.lists(entries, max_size=30).map(ActivityIndex)


@given(indexes)
def test_round_trip_preserves_every_entry(index: ActivityIndex) -> None:
    assert decode_index(encode_index(index)) == index


@given(indexes, st.data())
@settings(max_examples=200)
def test_any_single_byte_change_is_detected(index: ActivityIndex, data: st.DataObject) -> None:
    raw = bytearray(encode_index(index))
    position = data.draw(st.integers(0, len(raw) - 1))
    flip = data.draw(st.integers(1, 255))
    raw[position] ^= flip
    with pytest.raises(IndexCorrupt):
        decode_index(bytes(raw))


@given(indexes, st.data())
def test_truncation_and_extension_are_detected(index: ActivityIndex, data: st.DataObject) -> None:
    raw = encode_index(index)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(IndexCorrupt):
        decode_index(raw[:cut])
    with pytest.raises(IndexCorrupt):
        decode_index(raw + data.draw(st.binary(min_size=1, max_size=8)))


@given(st.binary(max_size=200))
def test_random_bytes_never_crash(blob: bytes) -> None:
    with contextlib.suppress(IndexCorrupt):
        decode_index(blob)


def test_unknown_version_is_reported_as_corrupt() -> None:
    raw = bytearray(encode_index(ActivityIndex([IndexEntry("a1", b"\x01" * 16)])))
    raw[8] = 3
    with pytest.raises(IndexCorrupt, match="version"):
        decode_index(bytes(raw))


def test_entries_are_sorted_and_found_by_binary_search() -> None:
    names = [f"i{n}" for n in (30, 4, 100, 7, 55)]
    index = ActivityIndex(IndexEntry(n, hashlib.blake2b(n.encode(), digest_size=16).digest()) for n in names)
    assert index.ids() == sorted(names)
    assert index.get("i7") is not None and index.get("i7").id == "i7"
    assert index.get("i8") is None
    assert "i100" in index and "nope" not in index


def test_layout_is_little_endian_with_documented_header() -> None:
    index = ActivityIndex(
        [IndexEntry("a", b"\xaa" * 16, EntryStatus.UNDECODABLE, "crc mismatch", b"\xbb" * 16)]
    )
    raw = encode_index(index)
    assert raw[:8] == b"RLINDEX\x00"
    assert raw[8:10] == b"\x02\x00"  # version 2, little-endian
    assert raw[12:16] == b"\x01\x00\x00\x00"  # one entry
    body = raw[HEADER_SIZE:]
    assert body[:2] == b"\x01\x00" and body[2:3] == b"a" and body[3:19] == b"\xaa" * 16
    assert body[19:35] == b"\xbb" * 16  # the meta hash
    assert body[35] == EntryStatus.UNDECODABLE and body[36] == 0  # no track flag, not legacy
    decoded = decode_index(raw).get("a")
    assert decoded is not None and decoded.reason == "crc mismatch" and not decoded.has_track


def test_has_track_follows_status() -> None:
    assert IndexEntry("a", b"\0" * 16, EntryStatus.TRACK).has_track
    assert not IndexEntry("a", b"\0" * 16, EntryStatus.NO_TRACK).has_track


def test_a_version_1_index_is_still_read_and_its_entries_are_legacy() -> None:
    old = ActivityIndex(
        [
            IndexEntry("a", b"\xaa" * 16, EntryStatus.TRACK),
            IndexEntry("b", b"\xcc" * 16, EntryStatus.NO_FILE, "422"),
        ]
    )
    raw = encode_index(old, version=1)
    assert raw[8:10] == b"\x01\x00"
    decoded = decode_index(raw)
    assert decoded == old and all(e.legacy for e in decoded)
    # a legacy entry kept as is survives a version-2 round trip still marked legacy
    assert decode_index(encode_index(decoded)) == old


def test_unavailable_files_are_a_status_of_their_own() -> None:
    entry = IndexEntry("a", b"\x01" * 16, EntryStatus.UNAVAILABLE, "intervals.icu answered 410", b"\x02" * 16)
    decoded = decode_index(encode_index(ActivityIndex([entry]))).get("a")
    assert decoded == entry and not decoded.has_track and not decoded.legacy
