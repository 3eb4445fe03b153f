"""Publishing tiles, rides list, export and explorer layer together (content-hashed, no invalidation)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ridelines.adapters.memory import MemoryBlobStore, MemoryUserRepository
from ridelines.archive import ArchiveWriter
from ridelines.data_products import DataProducts, from_archive
from ridelines.errors import NotFound
from ridelines.publish import TILES_CACHE_CONTROL, CdnTilesPublisher, FileTilesPublisher

NOW = datetime(2026, 11, 29, tzinfo=UTC)
LINE = {"type": "LineString", "coordinates": [[8.50, 47.30], [8.56, 47.36]]}


class CountingBlobs(MemoryBlobStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def put_bytes(self, key: str, data: bytes, **kwargs: Any) -> None:
        self.writes.append(key)
        super().put_bytes(key, data, **kwargs)


def products(tmp_path: Path, names: tuple[str, ...] = ("Morning", "Evening")) -> DataProducts:
    work = tmp_path / f"work-{'-'.join(names)}"
    work.mkdir(exist_ok=True)
    archive = work / "a.zst"
    with ArchiveWriter(archive) as writer:
        for n, name in enumerate(names):
            writer.write_feature(
                {
                    "type": "Feature",
                    "properties": {"id": str(n), "name": name, "start": f"2025-0{n + 1}-01T08:00:00Z"},
                    "geometry": LINE,
                }
            )
    return from_archive(archive, work)


def setup(tmp_path: Path) -> tuple[CdnTilesPublisher, CountingBlobs, MemoryUserRepository, Path]:
    blobs, users = CountingBlobs(), MemoryUserRepository()
    users.upsert_login("7", "Rider", b"ct", NOW)
    tiles = tmp_path / "t.pmtiles"
    tiles.write_bytes(b"tiles one")
    return CdnTilesPublisher("7", blobs=blobs, users=users, clock=lambda: NOW), blobs, users, tiles


def test_first_publish_stores_every_artifact_content_hashed_and_records_them(tmp_path: Path) -> None:
    publisher, blobs, users, tiles = setup(tmp_path)
    assert publisher.current_key() is None
    made = products(tmp_path)
    result = publisher.publish(tiles, made)
    assert result.changed and set(result.keys) == {"tiles", "rides", "export"}
    assert result.keys["tiles"].startswith("tiles/7/") and result.keys["tiles"].endswith(".pmtiles")
    assert result.keys["rides"] == f"tiles/7/rides-{made.rides_hash}.json"
    assert result.keys["export"] == f"tiles/7/export-{made.export_hash}.geojson"
    assert blobs.metadata[result.keys["rides"]] == {
        "content_type": "application/json",
        "cache_control": TILES_CACHE_CONTROL,
    }
    assert blobs.metadata[result.keys["export"]] == {
        "content_type": "application/geo+json",
        "cache_control": TILES_CACHE_CONTROL,
        "content_encoding": "gzip",
        "content_disposition": 'attachment; filename="ridelines-7.geojson"',
    }
    exported = json.loads(gzip.decompress(blobs.objects[result.keys["export"]]))
    assert [f["properties"]["name"] for f in exported["features"]] == ["Morning", "Evening"]
    explorer = json.loads(blobs.objects["athletes/7/explorer.json"])
    assert explorer["zoom"] == 14 and len(explorer["tiles"]) == made.explorer_summary["tiles"] > 0
    user = users.get("7")
    assert user is not None
    assert user.published == dict(result.keys)
    assert user.tiles_key == result.keys["tiles"]  # the old single key stays in step
    assert user.explorer == made.explorer_summary
    assert publisher.current_key() == result.keys["tiles"]


def test_the_same_content_again_writes_nothing(tmp_path: Path) -> None:
    publisher, blobs, _users, tiles = setup(tmp_path)
    publisher.publish(tiles, products(tmp_path))
    before = dict(blobs.objects)
    blobs.writes.clear()
    again = publisher.publish(tiles, products(tmp_path))
    assert not again.changed
    assert blobs.writes == [] and blobs.objects == before


def test_a_rename_replaces_the_list_and_export_and_deletes_the_old_ones(tmp_path: Path) -> None:
    publisher, blobs, _users, tiles = setup(tmp_path)
    first = publisher.publish(tiles, products(tmp_path))
    tiles.write_bytes(b"tiles two")
    second = publisher.publish(tiles, products(tmp_path, ("Morning", "Renamed")))
    assert second.changed and second.previous_key == first.keys["tiles"]
    for kind in ("tiles", "rides", "export"):
        assert second.keys[kind] != first.keys[kind]
        assert not blobs.exists(first.keys[kind]) and blobs.exists(second.keys[kind])
    assert sorted(blobs.list_keys("tiles/7/")) == sorted(second.keys.values())
    rides = json.loads(blobs.objects[second.keys["rides"]])["rides"]
    assert [r["name"] for r in rides] == ["Renamed", "Morning"]  # newest first


def test_a_row_from_before_the_rides_list_is_republished_in_full(tmp_path: Path) -> None:
    publisher, blobs, users, tiles = setup(tmp_path)
    users.set_tiles_key("7", "tiles/7/old.pmtiles", NOW)  # written by the single-key code
    blobs.put_bytes("tiles/7/old.pmtiles", b"old tiles")
    user = users.get("7")
    assert user is not None and user.published_key("tiles") == "tiles/7/old.pmtiles"
    assert user.published_key("rides") is None
    assert publisher.current_key() is None  # so the next sync publishes everything
    result = publisher.publish(tiles, products(tmp_path))
    assert not blobs.exists("tiles/7/old.pmtiles")
    assert sorted(blobs.list_keys("tiles/7/")) == sorted(result.keys.values())


def test_tiles_alone_keep_the_published_list_and_export(tmp_path: Path) -> None:
    publisher, blobs, _users, tiles = setup(tmp_path)
    first = publisher.publish(tiles, products(tmp_path))
    tiles.write_bytes(b"an early partial map")
    early = publisher.publish(tiles)
    assert early.keys["rides"] == first.keys["rides"] and early.keys["export"] == first.keys["export"]
    assert blobs.exists(first.keys["rides"]) and not blobs.exists(first.keys["tiles"])
    assert not publisher.publish(tiles).changed


def test_an_account_deleted_mid_publish_leaves_nothing(tmp_path: Path) -> None:
    publisher, blobs, users, tiles = setup(tmp_path)
    made = products(tmp_path)
    users.delete("7")
    with pytest.raises(NotFound):
        publisher.publish(tiles, made)
    assert list(blobs.list_keys("")) == []
    assert users.get("7") is None


def test_the_folder_publisher_writes_rides_and_explorer_beside_the_map(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publisher = FileTilesPublisher(out / "activities.pmtiles")
    tiles = tmp_path / "t.pmtiles"
    tiles.write_bytes(b"abc")
    made = products(tmp_path)
    assert publisher.publish(tiles, made).changed
    assert (out / "rides.json").read_bytes() == made.rides.read_bytes()
    assert (out / "explorer.json").read_bytes() == made.explorer.read_bytes()
    assert publisher.current_key() == str(out / "activities.pmtiles")
    assert not publisher.publish(tiles, products(tmp_path)).changed
    assert publisher.publish(tiles, products(tmp_path, ("Renamed", "Evening"))).changed
    (out / "rides.json").unlink()
    assert publisher.current_key() is None  # a folder from before the rides list: publish again
