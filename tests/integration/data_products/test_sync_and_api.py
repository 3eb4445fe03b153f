"""The sync publishes the rides list, export and explorer layer; the user API hands them out.

Real adapters on moto (S3, DynamoDB, KMS), the real stand-in intervals.icu, real FIT rides.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from typing import Any

from ridelines.adapters.aws.users import DynamoUserRepository
from ridelines.archive import iter_features
from ridelines.explorer import ExplorerAccumulator

from .conftest import ATHLETE, Rider

ARCHIVE_KEY = f"athletes/{ATHLETE}/activities.geojson.zst"
EXPLORER_KEY = f"athletes/{ATHLETE}/explorer.json"


def archive_features(rider: Rider, tmp_path: Any) -> list[dict[str, Any]]:
    path = tmp_path / "archive.zst"
    assert rider.blobs.download_file(ARCHIVE_KEY, path)
    return list(iter_features(path))


def test_before_any_sync_there_is_nothing_to_export_and_nothing_explored(rider: Rider) -> None:
    status, _, profile = rider.api("GET", "/api/user")
    assert status == 200
    assert profile["rides_url"] is None and profile["tiles_url"] is None
    assert profile["explorer"] == {"tiles": 0, "max_square": 0}
    status, _, explorer = rider.api("GET", "/api/user/explorer")
    assert status == 200 and explorer == {"zoom": 14, "tiles": [], "max_square": None}
    status, _, body = rider.api("GET", "/api/user/export")
    assert status == 404 and body["error"] and "Sync" in body["message"]


def test_a_sync_publishes_rides_export_and_explorer_and_the_api_serves_them(
    rider: Rider, tmp_path: Any
) -> None:
    assert rider.sync()["status"] == "succeeded"
    user = rider.users.get(ATHLETE)
    assert user is not None and user.published is not None
    keys = user.published
    assert set(keys) == {"tiles", "rides", "export"} and user.tiles_key == keys["tiles"]
    features = archive_features(rider, tmp_path)
    outdoor = [f for f in features if not f["properties"].get("virtual")]
    assert len(features) == 4 and len(outdoor) == 3

    # export: the archive's true tracks, gzip on the wire, saved as a file
    export = rider.object(keys["export"])
    assert export["ContentEncoding"] == "gzip"
    assert export["ContentType"] == "application/geo+json"
    assert export["ContentDisposition"] == f'attachment; filename="ridelines-{ATHLETE}.geojson"'
    collection = json.loads(gzip.decompress(export["Body"].read()))
    assert collection["type"] == "FeatureCollection" and collection["features"] == features

    # rides list: newest first, the outdoor rides
    rides = json.loads(rider.object(keys["rides"])["Body"].read())["rides"]
    assert {r["id"] for r in rides} == {f["properties"]["id"] for f in outdoor}
    assert [r["start"] for r in rides] == sorted((r["start"] for r in rides), reverse=True)

    # explorer: computed from the archive's tracks
    expected = ExplorerAccumulator()
    for feature in outdoor:
        expected.add(feature)
    document = expected.document()
    assert json.loads(rider.object(EXPLORER_KEY)["Body"].read()) == document
    summary = {"tiles": len(document["tiles"]), "max_square": document["max_square"]["size"]}
    assert user.explorer == summary and summary["tiles"] > 10

    # the API
    status, _, profile = rider.api("GET", "/api/user")
    assert status == 200
    assert profile["rides_url"] == f"/{keys['rides']}"
    assert profile["explorer"] == summary
    status, headers, body = rider.api("GET", "/api/user/explorer")
    assert status == 200 and body == document and headers["Cache-Control"] == "no-store"
    status, headers, _ = rider.api("GET", "/api/user/export")
    assert status == 302
    assert headers["Location"] == f"/{keys['export']}"
    assert headers["Location"].startswith(f"/tiles/{ATHLETE}/export-") and headers["Location"].endswith(
        ".geojson"
    )


def summarise(writes: list[tuple[str, str]]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for action, key in writes:
        name = key.rsplit("/", 1)[-1]
        if "/staging/" in key:
            name = "staging"
        elif "/parts/" in key:  # the per-year tiles parts merged into the published file
            name = "parts"
        elif name.endswith(".pmtiles"):
            name = "tiles"
        elif name.startswith("rides-"):
            name = "rides"
        elif name.startswith("export-"):
            name = "export"
        kinds[f"{action} {name}"] += 1
    return kinds


def test_a_one_ride_resync_replaces_what_changed_and_invalidates_nothing(rider: Rider) -> None:
    rider.sync()
    first = rider.users.get(ATHLETE)
    assert first is not None and first.published is not None
    # the README's table: one staging batch (2 objects) for 4 rides, then 7 files and the four
    # per-year tiles parts (ridelines.tile_parts); no invalidation. No early map: the one staging
    # commit of these 4 rides is the last of the downloads, and the final merge follows at once
    # (ridelines.pipeline.early_map; a bigger first sync's early maps: tests/integration/scale).
    assert summarise(rider.blobs.writes) == {
        "put staging": 2,
        "put parts": 4,
        "put activities.geojson.zst": 1,
        "put tiles": 1,
        "put rides": 1,
        "put export": 1,
        "put explorer.json": 1,
        "put .products-cache.zst": 1,
        "put activities.index": 1,
        "delete staging": 2,
    }
    assert rider.cdn.paths == []

    rider.blobs.writes.clear()
    rider.standin.rename_activity("a2", "Sunday loop")
    assert rider.sync()["counts"]["changed"] == 1
    second = rider.users.get(ATHLETE)
    assert second is not None and second.published is not None
    for kind in ("tiles", "rides", "export"):
        assert second.published[kind] != first.published[kind]
        assert not rider.blobs.exists(first.published[kind])
    # a rename is rewritten from the listing (no download, no staging) and visits no new tile: the
    # explorer layer is not rewritten; only the renamed ride's year part is re-tiled
    assert summarise(rider.blobs.writes) == {
        "put parts": 1,
        "delete parts": 1,
        "put activities.geojson.zst": 1,
        "put tiles": 1,
        "put rides": 1,
        "put export": 1,
        "put .products-cache.zst": 1,
        "put activities.index": 1,
        "delete tiles": 1,
        "delete rides": 1,
        "delete export": 1,
    }
    assert rider.cdn.paths == []  # content-hashed keys: no CloudFront invalidation
    rides = json.loads(rider.object(second.published["rides"])["Body"].read())["rides"]
    assert "Sunday loop" in {r["name"] for r in rides}

    rider.blobs.writes.clear()
    assert rider.sync()["counts"]["unchanged"] == 4
    assert rider.blobs.writes == []  # nothing changed: nothing written at all


def test_a_row_written_before_the_rides_list_gets_it_on_the_next_sync(rider: Rider) -> None:
    """Rows with only the old single ``tiles_key`` are read, and completed without a download."""
    rider.sync()
    user = rider.users.get(ATHLETE)
    assert user is not None and user.published is not None
    tiles_key = user.published["tiles"]
    # as the single-key code left it: no published map, no explorer summary
    rider_table = DynamoUserRepository("users")
    rider_table._client.update_item(
        TableName="users",
        Key={"athlete_id": {"S": ATHLETE}},
        UpdateExpression="REMOVE published, explorer",
    )
    legacy = rider.users.get(ATHLETE)
    assert legacy is not None and legacy.published is None and legacy.published_key("tiles") == tiles_key
    status, _, profile = rider.api("GET", "/api/user")
    assert status == 200 and profile["rides_url"] is None and profile["tiles_url"].endswith(tiles_key)
    downloads = rider.standin.count("GET", "/api/v1/activity/")

    result = rider.sync()
    assert result["counts"]["unchanged"] == 4
    assert rider.standin.count("GET", "/api/v1/activity/") == downloads
    upgraded = rider.users.get(ATHLETE)
    assert upgraded is not None and upgraded.published is not None
    assert set(upgraded.published) == {"tiles", "rides", "export"}
    # Tippecanoe's bytes may differ run to run: whichever map is published, nothing stale is left
    assert sorted(rider.blobs.list_keys(f"tiles/{ATHLETE}/")) == sorted(upgraded.published.values())
    assert upgraded.explorer and upgraded.explorer["tiles"] > 0
