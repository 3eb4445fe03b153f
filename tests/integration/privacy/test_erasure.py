"""DELETE /api/user while a sync runs: whatever the sync was writing, nothing of the rider survives in
any object version, no row is left, and the session works no more (versioned moto bucket)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from ridelines.pipeline.lambda_entry import handle_sync_event

from .conftest import ATHLETE, BUCKET, Api, FakeContext, SyncWorld


class DeleteAt:
    """Between the deletion fence and S3: runs ``delete`` once, just before or just after the first
    write the ``point`` matches (before: the write lands after the erasure; after: the erasure runs
    before the sync's next check)."""

    def __init__(
        self, inner: Any, point: Callable[[str, str], bool], moment: str, delete: Callable[[], None]
    ):
        self.inner, self.point, self.moment, self.delete_account = inner, point, moment, delete
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _write(self, op: str, key: str, write: Callable[[], Any]) -> Any:
        hit = not self.fired and self.point(op, key)
        if hit and self.moment == "before":
            self.fired = True
            self.delete_account()
        result = write()
        if hit and self.moment == "after":
            self.fired = True
            self.delete_account()
        return result

    def put_bytes(self, key: str, data: bytes, **kwargs: Any) -> None:
        self._write("put", key, lambda: self.inner.put_bytes(key, data, **kwargs))

    def put_file(self, key: str, path: Any, **kwargs: Any) -> None:
        self._write("put", key, lambda: self.inner.put_file(key, path, **kwargs))

    def delete(self, key: str) -> None:
        self._write("delete", key, lambda: self.inner.delete(key))

    def set_tiles_key(self, athlete_id: str, tiles_key: str | None, now: Any) -> None:
        self._write("publish", tiles_key or "", lambda: self.inner.set_tiles_key(athlete_id, tiles_key, now))

    def set_published(self, athlete_id: str, published: Any, now: Any, **kwargs: Any) -> None:
        self._write(
            "publish",
            published.get("tiles", ""),
            lambda: self.inner.set_published(athlete_id, published, now, **kwargs),
        )


WRITE_POINTS: dict[str, Callable[[str, str], bool]] = {
    "staging batch": lambda op, key: op == "put" and "/staging/" in key,
    "archive": lambda op, key: op == "put" and key.endswith("activities.geojson.zst"),
    "tiles upload": lambda op, key: op == "put" and key.startswith(f"tiles/{ATHLETE}/"),
    "publish": lambda op, key: op == "publish",
    "index": lambda op, key: op == "put" and key.endswith("activities.index"),
}


def every_version(prefix: str) -> list[str]:
    s3 = boto3.client("s3")
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, Prefix=prefix):
        found += [f"{v['Key']}@{v['VersionId']}" for v in page.get("Versions", [])]
        found += [f"{m['Key']}@{m['VersionId']} (delete marker)" for m in page.get("DeleteMarkers", [])]
    return found


@pytest.fixture
def versioned(world: SyncWorld) -> SyncWorld:
    boto3.client("s3").put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return world


@pytest.mark.parametrize("moment", ["before", "after"])
@pytest.mark.parametrize("point", list(WRITE_POINTS))
def test_delete_during_a_sync_leaves_nothing(versioned: SyncWorld, api: Api, point: str, moment: str) -> None:
    world = versioned
    assert world.trigger()["status"] == "succeeded"  # a published map, archive, index, old versions
    assert every_version(f"athletes/{ATHLETE}/") and every_version(f"tiles/{ATHLETE}/")

    answers: list[int] = []
    trigger = DeleteAt(
        world.blobs, WRITE_POINTS[point], moment, lambda: answers.append(api.call("DELETE", "/api/user")[0])
    )
    world.deps.blobs = trigger
    if point == "publish":
        world.deps.users = DeleteAt(world.users, WRITE_POINTS[point], moment, trigger.delete_account)  # type: ignore[assignment]
    result = world.trigger(full=True, drain=False)  # a full sync reaches every write point

    assert answers == [204], f"the write point {point} was never reached"
    assert result["status"] == "skipped"  # it stopped
    assert world.invoker.queue == []  # and queued nothing after itself
    assert every_version(f"athletes/{ATHLETE}/") == []
    assert every_version(f"tiles/{ATHLETE}/") == []
    assert world.users.get(ATHLETE) is None
    assert world.states.get(ATHLETE) is None
    # the rider's session does nothing any more
    assert api.call("GET", "/api/user")[0] == 404
    assert api.call("GET", "/api/sync")[0] == 404
    assert api.call("POST", "/api/sync")[0] == 404
    assert api.call("PUT", "/api/user/privacy", '{"zones": [], "hide_ends_m": 0}')[0] == 404
    assert world.states.get(ATHLETE) is None and world.invoker.queue == []
    # intervals.icu's grant was revoked
    assert world.standin.count("DELETE", "/api/v1/disconnect-app") == 1


def test_a_late_event_of_a_deleted_account_writes_nothing(versioned: SyncWorld, api: Api) -> None:
    """A queued sync event delivered after the deletion (async invoke, a retry) finds no account."""
    world = versioned
    world.trigger()
    sync_id = world.states.get(ATHLETE).sync_id  # type: ignore[union-attr]
    assert api.call("DELETE", "/api/user")[0] == 204
    result = handle_sync_event(
        {"athlete_id": ATHLETE, "sync_id": sync_id, "full": False}, FakeContext(), world.deps
    )
    assert result["status"] == "skipped"
    assert every_version(f"athletes/{ATHLETE}/") == [] and every_version(f"tiles/{ATHLETE}/") == []
    assert world.users.get(ATHLETE) is None and world.states.get(ATHLETE) is None
