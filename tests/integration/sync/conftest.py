"""Shared fixtures for the sync integration tests: moto AWS, the stand-in intervals.icu, FIT files."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import mapbox_vector_tile
import pytest
from moto import mock_aws
from pmtiles.reader import MemorySource, Reader, all_tiles

from ridelines.adapters.aws.kms import KmsTokenCipher
from ridelines.adapters.aws.s3 import S3BlobStore
from ridelines.adapters.aws.sync_state import DynamoSyncStateRepository
from ridelines.adapters.aws.users import DynamoUserRepository
from ridelines.adapters.memory import RecordingInvalidator
from ridelines.intervals import Credentials, IntervalsClient, RetryPolicy, TokenBucket
from ridelines.pipeline.lambda_entry import SyncDeps, handle_sync_event
from ridelines.pipeline.sync import SyncSettings
from ridelines_local.standin.intervals import IntervalsStandin

FIT_DIR = Path(__file__).resolve().parents[2] / "data" / "fit"
# small real rides with GPS, from different devices (see tests/data/fit/PROVENANCE.md)
RIDES = [
    FIT_DIR / "python-fitparse/garmin-edge-820-bike.fit",
    FIT_DIR / "python-fitparse/garmin-fenix-5-bike.fit",
    FIT_DIR / "gpsbabel/track/garmin-edge-800.fit",
    FIT_DIR / "gpsbabel/track/wahoo-element-bolt.fit",
]
REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def make_table(name: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "athlete_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "athlete_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def make_bucket(name: str) -> None:
    boto3.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})


# -- the sync Lambda composition against moto and the stand-in ---------------------------------


ATHLETE = "i1001"
BUCKET = "ridelines-sync-test"
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


def pmtiles_features(data: bytes) -> dict[str, dict[str, Any]]:
    """Every feature of layer ``activities`` in a PMTiles archive, by activity id."""
    reader = Reader(MemorySource(data))
    found: dict[str, dict[str, Any]] = {}
    for _zxy, tile in all_tiles(reader.get_bytes):
        raw = gzip.decompress(tile) if tile[:2] == b"\x1f\x8b" else tile
        for feature in mapbox_vector_tile.decode(raw).get("activities", {"features": []})["features"]:
            found[str(feature["properties"]["id"])] = feature["properties"]
    return found


class FakeContext:
    """A Lambda context whose remaining time drops once ``budget()`` says so."""

    def __init__(self, budget: Any = None) -> None:
        self.budget = budget
        self.function_name = "sync"
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:sync"
        self.aws_request_id = uuid.uuid4().hex

    def get_remaining_time_in_millis(self) -> int:
        return int((self.budget() if self.budget else 900.0) * 1000)


@dataclass
class InProcessInvoker:
    """Records each re-invocation; ``drain`` runs the queued legs in this process."""

    payloads: list[dict[str, Any]] = field(default_factory=list)
    queue: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, payload: Any) -> None:
        import json

        event = json.loads(json.dumps(dict(payload)))  # only JSON survives an async invoke
        self.payloads.append(event)
        self.queue.append(event)


@dataclass
class SyncWorld:
    standin: IntervalsStandin
    deps: SyncDeps
    invoker: InProcessInvoker
    cdn: RecordingInvalidator  # the user API's (tests/integration/privacy); the sync has none
    states: DynamoSyncStateRepository
    users: DynamoUserRepository
    blobs: S3BlobStore
    kms_key_id: str = ""

    def trigger(self, *, full: bool = False, context: Any = None, drain: bool = True) -> dict[str, Any]:
        sync_id = uuid.uuid4().hex
        self.states.acquire(ATHLETE, sync_id, full=full, now=datetime.now(UTC), lease_seconds=600)
        result = handle_sync_event(
            {"athlete_id": ATHLETE, "sync_id": sync_id, "full": full}, context or FakeContext(), self.deps
        )
        while drain and self.invoker.queue:
            result = handle_sync_event(self.invoker.queue.pop(0), FakeContext(), self.deps)
        return result

    def downloads(self) -> int:
        return self.standin.count("GET", "/api/v1/activity/")

    def downloads_of(self, activity_id: str) -> int:
        return sum(
            1
            for m, p, s in self.standin.requests
            if m == "GET" and p == f"/api/v1/activity/{activity_id}/file" and s == 200
        )

    def tiles(self) -> dict[str, dict[str, Any]]:
        user = self.users.get(ATHLETE)
        assert user is not None and user.tiles_key
        data = self.blobs.get_bytes(user.tiles_key)
        assert data is not None
        return pmtiles_features(data)


@pytest.fixture
def standin() -> Iterator[IntervalsStandin]:
    stand = IntervalsStandin(rate_limit_per_second=500.0, burst=100)
    stand.add_athlete(ATHLETE, name="Demo Rider", api_key="demo-api-key")
    stand.seed_from_fit_files(ATHLETE, RIDES)
    stand.add_strava_stub(ATHLETE, "s1")
    stand.add_manual(ATHLETE, "m1")
    stand.start()
    yield stand
    stand.stop()


@pytest.fixture
def world(aws: None, standin: IntervalsStandin, tmp_path: Path) -> SyncWorld:
    make_table("users")
    make_table("syncs")
    make_bucket(BUCKET)
    key_id = boto3.client("kms").create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")[
        "KeyMetadata"
    ]["KeyId"]
    users = DynamoUserRepository("users")
    cipher = KmsTokenCipher(key_id)
    token = standin.issue_token(ATHLETE)
    users.upsert_login(ATHLETE, "Demo Rider", cipher.encrypt(token, ATHLETE), datetime.now(UTC))
    states = DynamoSyncStateRepository("syncs")
    blobs = S3BlobStore(BUCKET)
    cdn = RecordingInvalidator()
    invoker = InProcessInvoker()
    work = tmp_path / "work"
    work.mkdir()

    def client_factory(credentials: Credentials, url: str) -> IntervalsClient:
        return IntervalsClient(
            credentials, base_url=url, retry=FAST_RETRY, rate_limiter=TokenBucket(400.0, burst=20)
        )

    deps = SyncDeps(
        states=states,
        users=users,
        cipher=cipher,
        blobs=blobs,
        invoker=invoker,
        intervals_url=standin.base_url,
        workdir=work,
        client_factory=client_factory,
        sync_settings=SyncSettings(workers=3, batch_size=2, lease_seconds=600),
    )
    return SyncWorld(standin, deps, invoker, cdn, states, users, blobs, key_id)
