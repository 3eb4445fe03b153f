"""The sync's AWS adapters against moto."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from ridelines.adapters.aws.cloudfront import CloudFrontInvalidator
from ridelines.adapters.aws.invoker import LambdaSyncInvoker
from ridelines.adapters.aws.s3 import S3BlobStore
from ridelines.adapters.aws.sync_state import DynamoSyncStateRepository
from ridelines.errors import NotFound, SyncInProgress
from ridelines.models import SyncStatus

from .conftest import make_bucket, make_table

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.usefixtures("aws")
def test_s3_blob_store_round_trip_and_metadata(tmp_path: Path) -> None:
    make_bucket("ridelines-test")
    store = S3BlobStore("ridelines-test")
    assert store.get_bytes("x") is None and not store.exists("x")
    assert store.download_file("x", tmp_path / "x") is False
    store.put_bytes("athletes/1/activities.index", b"abc")
    (tmp_path / "t.pmtiles").write_bytes(b"tiles")
    store.put_file(
        "tiles/1/h.pmtiles",
        tmp_path / "t.pmtiles",
        content_type="application/vnd.pmtiles",
        cache_control="public, max-age=31536000, immutable",
    )
    head = boto3.client("s3").head_object(Bucket="ridelines-test", Key="tiles/1/h.pmtiles")
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["ContentType"] == "application/vnd.pmtiles"
    assert store.get_bytes("athletes/1/activities.index") == b"abc"
    assert (
        store.download_file("tiles/1/h.pmtiles", tmp_path / "copy")
        and (tmp_path / "copy").read_bytes() == b"tiles"
    )
    assert list(store.list_keys("athletes/")) == ["athletes/1/activities.index"]
    store.delete("tiles/1/h.pmtiles")
    store.delete("tiles/1/h.pmtiles")  # missing is fine
    assert not store.exists("tiles/1/h.pmtiles")


@pytest.mark.usefixtures("aws")
def test_sync_lease_is_single_flight_and_expires() -> None:
    make_table("syncs")
    repo = DynamoSyncStateRepository("syncs")
    first = repo.acquire("a1", "s1", full=False, now=NOW, lease_seconds=60)
    assert first.status is SyncStatus.QUEUED
    with pytest.raises(SyncInProgress) as busy:
        repo.acquire("a1", "s2", full=False, now=NOW + timedelta(seconds=30), lease_seconds=60)
    assert busy.value.sync_id == "s1"
    # the holder's progress cannot be overwritten by a stale run
    with pytest.raises(SyncInProgress):
        repo.save(first.model_copy(update={"sync_id": "other"}))
    repo.save(first.model_copy(update={"status": SyncStatus.RUNNING}))
    assert repo.get("a1").status is SyncStatus.RUNNING  # type: ignore[union-attr]
    # after the lease runs out a new sync may start
    later = repo.acquire("a1", "s3", full=True, now=NOW + timedelta(seconds=61), lease_seconds=60)
    assert later.sync_id == "s3" and repo.get("a1").full  # type: ignore[union-attr]
    repo.save(later.model_copy(update={"status": SyncStatus.SUCCEEDED}))
    assert repo.acquire("a1", "s4", full=False, now=NOW + timedelta(seconds=62), lease_seconds=60)


@pytest.mark.usefixtures("aws")
def test_a_sync_running_when_the_account_is_deleted_cannot_bring_its_row_back() -> None:
    make_table("syncs")
    repo = DynamoSyncStateRepository("syncs")
    running = repo.acquire("a1", "s1", full=False, now=NOW, lease_seconds=60)
    repo.delete("a1")
    with pytest.raises(NotFound):
        repo.save(running.model_copy(update={"status": SyncStatus.RUNNING}))
    assert repo.get("a1") is None


@pytest.mark.usefixtures("aws")
def test_two_triggers_at_once_one_wins() -> None:
    make_table("syncs")
    repo = DynamoSyncStateRepository("syncs")
    # DynamoDB applies writes to one item one at a time (the condition is checked atomically with
    # the write); moto's in-process backend does not, so under load both conditions could pass
    # before either write. Serialising the calls gives moto DynamoDB's guarantee and leaves the race
    # between the two triggers (which one wins) as it is.
    put_item = repo._client.put_item
    one_at_a_time = threading.Lock()

    def serialised_put_item(**kwargs: Any) -> Any:
        with one_at_a_time:
            return put_item(**kwargs)

    repo._client.put_item = serialised_put_item
    results: list[str] = []
    barrier = threading.Barrier(2)

    def trigger(sync_id: str) -> None:
        barrier.wait()
        try:
            repo.acquire("a1", sync_id, full=False, now=NOW, lease_seconds=60)
            results.append("ran")
        except SyncInProgress:
            results.append("busy")

    threads = [threading.Thread(target=trigger, args=(f"s{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["busy", "ran"]


@pytest.mark.usefixtures("aws")
def test_cloudfront_invalidator_and_no_op() -> None:
    CloudFrontInvalidator(None).invalidate(["/tiles/1/x.pmtiles"])  # local stack: nothing to do
    client = boto3.client("cloudfront")
    dist = client.create_distribution(
        DistributionConfig={
            "CallerReference": "r",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "o",
                        "DomainName": "b.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "o",
                "ViewerProtocolPolicy": "https-only",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )["Distribution"]["Id"]
    CloudFrontInvalidator(dist).invalidate(["tiles/1/x.pmtiles"])
    CloudFrontInvalidator(dist).invalidate(["/tiles/1/x.pmtiles"])
    batches = client.list_invalidations(DistributionId=dist)["InvalidationList"]
    assert batches["Quantity"] == 2


def test_lambda_invoker_sends_an_async_event() -> None:
    calls: list[dict] = []

    class FakeLambda:
        def invoke(self, **kwargs: object) -> dict:
            calls.append(kwargs)
            return {"StatusCode": 202}

    LambdaSyncInvoker("sync-fn", client=FakeLambda()).invoke({"athlete_id": "1", "sync_id": "s"})
    assert calls[0]["InvocationType"] == "Event" and calls[0]["FunctionName"] == "sync-fn"
    assert json.loads(calls[0]["Payload"]) == {"athlete_id": "1", "sync_id": "s"}  # type: ignore[arg-type]


@pytest.mark.usefixtures("aws")
def test_save_if_unchanged_is_a_compare_and_swap() -> None:
    from ridelines.adapters.memory import MemorySyncStateRepository

    make_table("syncs")
    for repo in (DynamoSyncStateRepository("syncs"), MemorySyncStateRepository()):
        queued = repo.acquire("a1", "s1", full=False, now=NOW, lease_seconds=60)
        read = repo.get("a1")
        assert read == queued
        claim = read.model_copy(
            update={"status": SyncStatus.RUNNING, "checkpoint": {"leg": 0, "claimed": True}}
        )  # type: ignore[union-attr]
        assert repo.save_if_unchanged(claim, expected=read)  # type: ignore[arg-type]
        assert repo.get("a1") == claim
        # a second claimant that read the same record before the first wrote loses
        other = read.model_copy(
            update={"status": SyncStatus.RUNNING, "checkpoint": {"leg": 0, "claim_id": "x"}}
        )  # type: ignore[union-attr]
        assert not repo.save_if_unchanged(other, expected=read)  # type: ignore[arg-type]
        assert repo.get("a1") == claim
        repo.delete("a1")
        assert not repo.save_if_unchanged(claim, expected=claim)  # gone: nothing comes back
        assert repo.get("a1") is None
