"""A privacy change re-tiles from the archive and republishes with no download; the archive keeps the
true tracks; a change during a sync is applied by that sync or the follow-up it queues."""

from __future__ import annotations

import json
from typing import Any

from ridelines.archive import iter_features
from ridelines.pipeline.lambda_entry import handle_sync_event
from ridelines.pipeline.sync import SyncLayout, published_privacy_version
from ridelines.privacy import privacy_version

from .conftest import ATHLETE, Api, FakeContext, SyncWorld, points_inside, tile_points

ARCHIVE_KEY = f"athletes/{ATHLETE}/activities.geojson.zst"


def archive_features(world: SyncWorld, tmp_path: Any) -> dict[str, dict[str, Any]]:
    path = tmp_path / "archive.zst"
    path.write_bytes(world.blobs.get_bytes(ARCHIVE_KEY) or b"")
    return {str(f["properties"]["id"]): f for f in iter_features(path)}


def start_of(feature: dict[str, Any]) -> list[float]:
    geometry = feature["geometry"]
    return geometry["coordinates"][0] if geometry["type"] == "LineString" else geometry["coordinates"][0][0]


def published_tiles(world: SyncWorld) -> tuple[str, bytes]:
    user = world.users.get(ATHLETE)
    assert user is not None and user.tiles_key
    data = world.blobs.get_bytes(user.tiles_key)
    assert data is not None
    return user.tiles_key, data


def drain(world: SyncWorld) -> list[dict[str, Any]]:
    results = []
    while world.invoker.queue:
        results.append(handle_sync_event(world.invoker.queue.pop(0), FakeContext(), world.deps))
    return results


def zone_body(lon: float, lat: float, radius: float = 300.0, hide: float = 0.0) -> str:
    return json.dumps({"zones": [{"lat": lat, "lon": lon, "radius_m": radius}], "hide_ends_m": hide})


def test_a_privacy_change_republishes_cut_tiles_without_downloading(
    world: SyncWorld, api: Api, tmp_path: Any
) -> None:
    assert world.trigger()["status"] == "succeeded"
    old_key, old_tiles = published_tiles(world)
    archive_before = world.blobs.get_bytes(ARCHIVE_KEY)
    features = archive_features(world, tmp_path)
    lon, lat = start_of(features["a3"])[:2]
    assert points_inside(old_tiles, lat, lon, 300.0).get("a3")  # the home shows on the map today
    requests_before = len(world.standin.requests)

    status, body = api.call("PUT", "/api/user/privacy", zone_body(lon, lat))
    assert status == 200 and body["zones"][0]["radius_m"] == 300.0
    (payload,) = world.invoker.queue
    assert payload["retile"] is True
    (result,) = drain(world)

    assert result["status"] == "succeeded"
    assert result["counts"]["downloaded"] == 0
    assert len(world.standin.requests) == requests_before  # not even a listing: nothing downloaded
    new_key, new_tiles = published_tiles(world)
    assert new_key != old_key and not world.blobs.exists(old_key)
    assert world.cdn.paths == []  # a new content-hashed key needs no invalidation (ridelines.publish)
    assert "a3" not in points_inside(new_tiles, lat, lon, 300.0)  # the ride's start is gone...
    assert "a3" in {activity for _z, activity, *_ in tile_points(new_tiles, 11)}  # ...the ride is not
    # the archive keeps the true tracks, byte for byte
    assert world.blobs.get_bytes(ARCHIVE_KEY) == archive_before
    user = world.users.get(ATHLETE)
    assert user is not None
    assert published_privacy_version(world.blobs, SyncLayout.for_athlete(ATHLETE)) == privacy_version(
        user.privacy
    )


def test_unchanged_settings_saved_again_publish_the_same_tiles(
    world: SyncWorld, api: Api, tmp_path: Any
) -> None:
    world.trigger()
    lon, lat = start_of(archive_features(world, tmp_path)["a3"])[:2]
    api.call("PUT", "/api/user/privacy", zone_body(lon, lat))
    drain(world)
    key, _ = published_tiles(world)
    api.call("PUT", "/api/user/privacy", zone_body(lon, lat))
    assert world.invoker.queue == []  # same zone, same secret: nothing to republish
    assert published_tiles(world)[0] == key
    # and a normal sync afterwards neither downloads nor re-tiles
    downloads = world.downloads()
    assert world.trigger()["status"] == "succeeded"
    assert world.downloads() == downloads and published_tiles(world)[0] == key


def test_bad_settings_leave_the_published_map_alone(world: SyncWorld, api: Api) -> None:
    world.trigger()
    key, _ = published_tiles(world)
    before = world.users.get(ATHLETE)
    status, body = api.call(
        "PUT", "/api/user/privacy", json.dumps({"zones": [{"lat": 47, "lon": 8, "radius_m": 0}]})
    )
    assert status == 422 and body["field"] == "zones[0].radius_m"
    assert world.invoker.queue == []
    assert world.users.get(ATHLETE) == before and published_tiles(world)[0] == key


class ChangeDuring:
    """Blob store wrapper: runs ``action`` once, right after the first write whose key contains ``marker``."""

    def __init__(self, inner: Any, marker: str, action: Any) -> None:
        self.inner, self.marker, self.action, self.done = inner, marker, action, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _after(self, key: str) -> None:
        if not self.done and self.marker in key:
            self.done = True
            self.action()

    def put_bytes(self, key: str, data: bytes, **kwargs: Any) -> None:
        self.inner.put_bytes(key, data, **kwargs)
        self._after(key)

    def put_file(self, key: str, path: Any, **kwargs: Any) -> None:
        self.inner.put_file(key, path, **kwargs)
        self._after(key)


def _sync_with_change_at(world: SyncWorld, api: Api, tmp_path: Any, marker: str) -> tuple[float, float, int]:
    world.trigger()
    lon, lat = start_of(archive_features(world, tmp_path)["a3"])[:2]
    answers: list[int] = []
    world.deps.blobs = ChangeDuring(
        world.blobs,
        marker,
        lambda: answers.append(api.call("PUT", "/api/user/privacy", zone_body(lon, lat))[0]),
    )
    world.trigger(full=True, drain=False)  # re-downloads: every write point is reached
    assert answers == [200]  # stored at once, although a sync was running
    follow_ups = len(world.invoker.queue)
    drain(world)
    return lon, lat, follow_ups


def test_a_change_during_downloads_is_applied_by_the_running_sync(
    world: SyncWorld, api: Api, tmp_path: Any
) -> None:
    lon, lat, follow_ups = _sync_with_change_at(world, api, tmp_path, "/staging/")
    assert follow_ups == 0  # the sync read the settings when it cut the tiles
    _, tiles = published_tiles(world)
    assert "a3" not in points_inside(tiles, lat, lon, 300.0)
    user = world.users.get(ATHLETE)
    assert user is not None
    assert published_privacy_version(world.blobs, SyncLayout.for_athlete(ATHLETE)) == privacy_version(
        user.privacy
    )


def test_a_change_after_the_tiles_were_cut_is_applied_by_a_follow_up(
    world: SyncWorld, api: Api, tmp_path: Any
) -> None:
    lon, lat, follow_ups = _sync_with_change_at(world, api, tmp_path, f"tiles/{ATHLETE}/")
    assert follow_ups == 1  # queued by the sync when it finished, as a retile
    assert world.invoker.payloads[-1]["retile"] is True
    _, tiles = published_tiles(world)
    assert "a3" not in points_inside(tiles, lat, lon, 300.0)
    user = world.users.get(ATHLETE)
    assert user is not None
    assert published_privacy_version(world.blobs, SyncLayout.for_athlete(ATHLETE)) == privacy_version(
        user.privacy
    )
