"""Integration fixtures: moto (DynamoDB, KMS, Secrets Manager, S3, CloudFront) + the real local HTTP
stand-in for intervals.icu, and the two Lambda handlers loaded from their files as Lambda does."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from ridelines_local.standin.intervals import IntervalsStandin

LAMBDAS = Path(__file__).resolve().parents[3] / "lambdas"
SITE = "https://site.example"
TILES_KEY_PAIR_ID = "K2ITKEYPAIR"
CLIENT_ID = "ridelines-it"
CLIENT_SECRET = "it-client-secret-never-logged"


@dataclass
class Aws:
    users_table: str
    state_table: str
    sync_table: str
    bucket: str
    signing_key_id: str
    tiles_key_id: str
    token_key_id: str
    secret_arn: str
    distribution_id: str
    dynamodb: Any
    kms: Any
    s3: Any


class LambdaContext:
    function_name = "ridelines-it"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ridelines-it"
    aws_request_id = "it-req"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        for table, key in (("users", "athlete_id"), ("oauth-state", "state"), ("syncs", "athlete_id")):
            dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            )
        dynamodb.update_time_to_live(
            TableName="oauth-state", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        kms = boto3.client("kms")
        signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        tiles = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        token = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"][
            "KeyId"
        ]
        secret_arn = boto3.client("secretsmanager").create_secret(
            Name="ridelines/oauth",
            SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
        )["ARN"]
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket="ridelines-data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        distribution_id = _distribution()
        yield Aws(
            "users",
            "oauth-state",
            "syncs",
            "ridelines-data",
            signing,
            tiles,
            token,
            secret_arn,
            distribution_id,
            dynamodb,
            kms,
            s3,
        )


def _distribution() -> str:
    config = {
        "CallerReference": uuid.uuid4().hex,
        "Comment": "tiles",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "s3",
                    "DomainName": "ridelines-data.s3.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "s3",
            "ViewerProtocolPolicy": "https-only",
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "MinTTL": 0,
        },
    }
    return str(
        boto3.client("cloudfront").create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    )


@pytest.fixture
def standin() -> Iterator[IntervalsStandin]:
    service = IntervalsStandin(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, rate_limit_per_second=1000, burst=1000
    )
    service.add_athlete("i1001", name="Rider A")
    service.add_athlete("i2002", name="Rider B")
    with service:
        yield service


@pytest.fixture
def env(aws: Aws, standin: IntervalsStandin, monkeypatch: pytest.MonkeyPatch) -> Aws:
    for name, value in {
        "USERS_TABLE_NAME": aws.users_table,
        "OAUTH_STATE_TABLE_NAME": aws.state_table,
        "SYNC_TABLE_NAME": aws.sync_table,
        "S3_BUCKET": aws.bucket,
        "JWT_KMS_KEY_ID": aws.signing_key_id,
        "TOKEN_KMS_KEY_ID": aws.token_key_id,
        "OAUTH_CREDENTIALS_SECRET_ARN": aws.secret_arn,
        "SYNC_LAMBDA_FUNCTION_NAME": "ridelines-sync",
        "CLOUDFRONT_DISTRIBUTION_ID": aws.distribution_id,
        "SITE_URL": SITE,
        "TILES_SIGNING_KMS_KEY_ID": aws.tiles_key_id,
        "TILES_KEY_PAIR_ID": TILES_KEY_PAIR_ID,
        "INTERVALS_URL": standin.base_url,
    }.items():
        monkeypatch.setenv(name, value)
    return aws


def load_handler(name: str) -> Any:
    """Import ``lambdas/<name>/handler.py`` fresh (a new container), as the Lambda runtime would."""
    spec = importlib.util.spec_from_file_location(
        f"_it_{name}_handler_{uuid.uuid4().hex}", LAMBDAS / name / "handler.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


@pytest.fixture
def auth_handler(env: Aws) -> Any:
    return load_handler("auth")


@pytest.fixture
def user_handler(env: Aws) -> Any:
    return load_handler("user")


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Everything the API Lambdas log (Powertools JSON), as emitted, down to DEBUG."""
    from ridelines.api.observability import logger

    handler = logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    previous_level = logger.log_level
    logger.setLevel("DEBUG")
    try:
        yield buffer
    finally:
        logger.setLevel(previous_level)
        handler.setStream(previous)  # type: ignore[attr-defined]


def approve_at_standin(authorize_url: str, athlete_id: str, decision: str = "approve") -> str:
    """Drive the stand-in's consent page like a browser: GET the page, POST its form. Returns Location."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200, page.text
    fields = {
        unescape(n): unescape(v)
        for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)
    }
    assert {"client_id", "redirect_uri", "scope", "state"} <= set(fields)
    base = authorize_url.split("?", 1)[0]
    answer = requests.post(
        base,
        data={**fields, "athlete_id": athlete_id, "decision": decision},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"])


@pytest.fixture
def consent() -> Any:
    return approve_at_standin


def call(handler: Any, context: Any, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    from ridelines.api.events import http_api_event

    return dict(handler(http_api_event(method, path, **kwargs), context))


def set_cookies(response: dict[str, Any]) -> dict[str, str]:
    """``name -> value`` of the cookies a Lambda response sets (payload 2.0 ``cookies``)."""
    return {c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0] for c in response.get("cookies") or []}


@dataclass
class Started:
    authorize_url: str
    state: str
    cookies: dict[str, str]  # the state cookie the browser now holds


@pytest.fixture
def start_login(auth_handler: Any, lambda_context: Any) -> Any:
    def run(redirect_path: str | None = None) -> Started:
        from urllib.parse import parse_qs, urlsplit

        query = {"redirect_path": redirect_path} if redirect_path else None
        start = call(auth_handler, lambda_context, "GET", "/auth/login", query=query)
        assert start["statusCode"] == 302, start
        location = str(start["headers"]["Location"])
        return Started(location, parse_qs(urlsplit(location).query)["state"][0], set_cookies(start))

    return run


@dataclass
class LoggedIn:
    location: str  # where the callback sent the browser
    cookies: dict[str, str]  # what it set

    @property
    def token(self) -> str:
        from ridelines.auth.cookies import SESSION_COOKIE

        return self.cookies[SESSION_COOKIE]


@pytest.fixture
def login(auth_handler: Any, lambda_context: Any, start_login: Any) -> Any:
    """The whole browser round trip, cookies included."""

    def run(athlete_id: str, redirect_path: str = "/map") -> LoggedIn:
        from urllib.parse import parse_qs, urlsplit

        started = start_login(redirect_path)
        back = approve_at_standin(started.authorize_url, athlete_id)
        query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        done = call(
            auth_handler, lambda_context, "GET", "/auth/callback", query=query, cookies=started.cookies
        )
        assert done["statusCode"] == 302, done
        return LoggedIn(str(done["headers"]["Location"]), set_cookies(done))

    return run


@pytest.fixture
def invoke() -> Any:
    """``invoke(handler, context, method, path, **event_kwargs)`` -> Lambda response dict."""
    return call
