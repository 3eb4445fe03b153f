"""Publishing tiles (content-hashed keys, old object deleted, nothing invalidated) and staging batches."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ridelines.adapters.local import FileBlobStore
from ridelines.adapters.memory import MemoryBlobStore, MemoryUserRepository
from ridelines.archive import encode_feature, iter_lines, line_activity_id
from ridelines.errors import NotFound
from ridelines.index import EntryStatus
from ridelines.pipeline.staging import BatchWriter, read_staged, staged_lines
from ridelines.publish import TILES_CACHE_CONTROL, CdnTilesPublisher, FileTilesPublisher

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def publisher() -> tuple[CdnTilesPublisher, MemoryBlobStore, MemoryUserRepository]:
    blobs, users = MemoryBlobStore(), MemoryUserRepository()
    users.upsert_login("7", "Rider", b"ct", NOW)
    return CdnTilesPublisher("7", blobs=blobs, users=users, clock=lambda: NOW), blobs, users


def test_publish_uses_a_content_hashed_immutable_key(tmp_path: Path) -> None:
    pub, blobs, users = publisher()
    tiles = tmp_path / "t.pmtiles"
    tiles.write_bytes(b"version one")
    first = pub.publish(tiles)
    assert first.changed and first.key.startswith("tiles/7/") and first.key.endswith(".pmtiles")
    assert blobs.metadata[first.key] == {
        "content_type": "application/vnd.pmtiles",
        "cache_control": TILES_CACHE_CONTROL,
    }
    assert users.get("7").tiles_key == first.key  # type: ignore[union-attr]

    assert not pub.publish(tiles).changed  # same bytes: nothing uploaded

    tiles.write_bytes(b"version two")
    second = pub.publish(tiles)
    assert second.changed and second.key != first.key and second.previous_key == first.key
    assert not blobs.exists(first.key) and blobs.exists(second.key)
    assert users.get("7").tiles_key == second.key  # type: ignore[union-attr]


def test_publish_for_an_account_deleted_mid_sync_leaves_nothing_behind(tmp_path: Path) -> None:
    pub, blobs, users = publisher()
    tiles = tmp_path / "t.pmtiles"
    tiles.write_bytes(b"tiles of a rider who just deleted the account")
    users.delete("7")
    with pytest.raises(NotFound):
        pub.publish(tiles)
    assert list(blobs.list_keys("tiles/")) == []  # the upload is removed again
    assert users.get("7") is None  # and the account is not resurrected


def test_file_publisher_replaces_only_when_bytes_differ(tmp_path: Path) -> None:
    target = tmp_path / "out" / "activities.pmtiles"
    pub = FileTilesPublisher(target)
    assert pub.current_key() is None
    built = tmp_path / "built.pmtiles"
    built.write_bytes(b"abc")
    assert pub.publish(built).changed and target.read_bytes() == b"abc"
    assert not pub.publish(built).changed
    built.write_bytes(b"abcd")
    assert pub.publish(built).changed and target.read_bytes() == b"abcd"


def feature(activity_id: str) -> dict:
    return {
        "type": "Feature",
        "properties": {"id": activity_id, "name": "x"},
        "geometry": {"type": "LineString", "coordinates": [[0.0, 1.0], [1.0, 2.0]]},
    }


def test_staging_batches_commit_results_after_features(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "store")
    work = tmp_path / "work"
    work.mkdir()
    batch = BatchWriter(store, ".staging/", work)
    batch.add("a1", b"\x01" * 16, EntryStatus.TRACK, line=encode_feature(feature("a1")))
    batch.add("a2", b"\x02" * 16, EntryStatus.UNDECODABLE, "CRC mismatch")
    assert batch.commit() == 2
    # changed again later
    batch.add("a1", b"\x03" * 16, EntryStatus.TRACK, line=encode_feature(feature("a1")))
    with pytest.raises(ValueError, match="another activity"):  # never staged under another ride
        batch.add("a3", b"\x04" * 16, EntryStatus.TRACK, line=encode_feature(feature("a1")))
    assert batch.commit() == 1
    assert batch.commit() == 0  # empty batches write nothing
    keys = list(store.list_keys(".staging/"))
    assert len(keys) == 4 and sum(k.endswith(".results.json") for k in keys) == 2

    staged = read_staged(store, ".staging/")
    assert staged["a1"].hash == b"\x03" * 16  # the later batch wins
    assert staged["a2"].status is EntryStatus.UNDECODABLE and staged["a2"].reason == "CRC mismatch"
    lines = list(staged_lines(store, {"a1": staged["a1"]}, work))
    assert [line_activity_id(x) for x in lines] == ["a1"]
    # a batch whose marker is missing never happened
    marker = next(k for k in keys if k.endswith(".results.json"))
    store.delete(marker)
    after = read_staged(store, ".staging/")
    assert set(after) == {"a1"} and after["a1"].hash == b"\x03" * 16
    assert list(work.iterdir()) == []  # temporary files cleaned up


def test_unreadable_staging_marker_is_ignored(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    store.put_bytes(".staging/x.results.json", b"{not json")
    assert read_staged(store, ".staging/") == {}
    assert list(iter_lines(tmp_path / "missing.zst")) == []
