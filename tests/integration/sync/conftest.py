"""Shared fixtures for the sync integration tests: moto AWS, the stand-in intervals.icu, FIT files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

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
