"""A rider's sync and API over moto (S3, DynamoDB, KMS) and the stand-in intervals.icu."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ridelines.adapters.aws.kms import KmsTokenCipher
from ridelines.adapters.aws.s3 import S3BlobStore
from ridelines.adapters.aws.sync_state import DynamoSyncStateRepository
from ridelines.adapters.aws.users import DynamoUserRepository
from ridelines.adapters.memory import RecordingInvalidator, RecordingInvoker
from ridelines.api.events import http_api_event
from ridelines.api.user_app import UserDeps, create_app
from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.intervals import Credentials, IntervalsClient, RetryPolicy, TokenBucket
from ridelines.pipeline.lambda_entry import SyncDeps, handle_sync_event
from ridelines.pipeline.sync import SyncSettings
from ridelines_local.standin.intervals import IntervalsStandin
from tests.support.blobs import WriteRecorder
from tests.support.sessions import session_claims
from tests.support.signers import LocalEcdsaSigner

FIT_DIR = Path(__file__).resolve().parents[2] / "data" / "fit"
# real rides (tests/data/fit/PROVENANCE.md): three outdoor rides and one Zwift ride
RIDES = [
    FIT_DIR / "gpsbabel/track/garmin-edge-800.fit",
    FIT_DIR / "gpsbabel/track/wahoo-element-bolt.fit",
    FIT_DIR / "sports-lib/rides/fit/614953343.fit",
    FIT_DIR / "fit-file-faker/zwift_20250401.fit",
]
ATHLETE = "i1001"
BUCKET = "ridelines-data-products-test"
REGION = "eu-west-1"
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


class FakeContext:
    function_name = "sync"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:sync"

    def __init__(self) -> None:
        self.aws_request_id = uuid.uuid4().hex

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@dataclass
class Rider:
    standin: IntervalsStandin
    deps: SyncDeps
    blobs: WriteRecorder
    users: DynamoUserRepository
    states: DynamoSyncStateRepository
    cdn: RecordingInvalidator
    app: Any
    queue: list[dict[str, Any]] = field(default_factory=list)

    def sync(self) -> dict[str, Any]:
        sync_id = uuid.uuid4().hex
        self.states.acquire(ATHLETE, sync_id, full=False, now=datetime.now(UTC), lease_seconds=600)
        return handle_sync_event(
            {"athlete_id": ATHLETE, "sync_id": sync_id, "full": False}, FakeContext(), self.deps
        )

    def api(self, method: str, path: str) -> tuple[int, dict[str, str], Any]:
        claims = session_claims(ATHLETE, iss="https://site.example/auth")
        response = self.app.resolve(http_api_event(method, path, claims=claims), None)
        body = json.loads(response["body"]) if response.get("body") else None
        return response["statusCode"], response.get("headers") or {}, body

    def object(self, key: str) -> dict[str, Any]:
        return boto3.client("s3").get_object(Bucket=BUCKET, Key=key)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def standin() -> Iterator[IntervalsStandin]:
    stand = IntervalsStandin(rate_limit_per_second=500.0, burst=100)
    stand.add_athlete(ATHLETE, name="Demo Rider", api_key="demo-api-key")
    stand.seed_from_fit_files(ATHLETE, RIDES)
    stand.start()
    yield stand
    stand.stop()


def _table(name: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "athlete_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "athlete_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def rider(aws: None, standin: IntervalsStandin, tmp_path: Path) -> Rider:
    _table("users")
    _table("syncs")
    boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    key_id = boto3.client("kms").create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")[
        "KeyMetadata"
    ]["KeyId"]
    users = DynamoUserRepository("users")
    cipher = KmsTokenCipher(key_id)
    users.upsert_login(
        ATHLETE, "Demo Rider", cipher.encrypt(standin.issue_token(ATHLETE), ATHLETE), datetime.now(UTC)
    )
    states = DynamoSyncStateRepository("syncs")
    blobs = WriteRecorder(S3BlobStore(BUCKET))
    cdn = RecordingInvalidator()
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
        blobs=blobs,  # type: ignore[arg-type]
        invoker=RecordingInvoker(),
        intervals_url=standin.base_url,
        workdir=work,
        client_factory=client_factory,
        sync_settings=SyncSettings(workers=2, batch_size=50, lease_seconds=600),
    )
    app = create_app(
        UserDeps(
            users=users,
            syncs=states,
            blobs=blobs,  # type: ignore[arg-type]
            invalidator=cdn,
            invoker=RecordingInvoker(),
            cipher=cipher,
            intervals=IntervalsOAuthClient(standin.base_url),
            site_url="https://site.example",
            tiles_signer=LocalEcdsaSigner(),
            tiles_key_pair_id="KTESTTILESKEY",
        )
    )
    return Rider(standin, deps, blobs, users, states, cdn, app)
