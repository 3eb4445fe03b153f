from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ridelines_local.localstack.cfn import Resolver, UnresolvedReference
from ridelines_local.localstack.provision import LOCAL_TILES_KEY_PAIR_ID, Provisioner

SITE_URL = "http://127.0.0.1:8123"


def _clients() -> dict[str, Any]:
    return {
        n: boto3.client(n, region_name="eu-west-1")
        for n in ("dynamodb", "s3", "kms", "secretsmanager", "sqs")
    }


@pytest.fixture
def provisioned(aws_env: None, cdk_templates: dict[str, Any]):
    with mock_aws():
        clients = _clients()
        resources = Provisioner(
            cdk_templates, clients=clients, region="eu-west-1", site_url=SITE_URL
        ).provision({"client_id": "cid", "client_secret": "csecret"})
        yield resources, clients


def test_tables_follow_the_template_keys_and_ttl(provisioned) -> None:
    resources, clients = provisioned
    ddb = clients["dynamodb"]
    state_table = resources.tables["OAuthStateTableC2D3"]
    assert state_table == "ridelines-dev-oauth-state"  # explicit TableName kept
    described = ddb.describe_table(TableName=state_table)["Table"]
    assert described["KeySchema"] == [{"AttributeName": "state", "KeyType": "HASH"}]
    ttl = ddb.describe_time_to_live(TableName=state_table)["TimeToLiveDescription"]
    assert ttl == {"AttributeName": "expires_at", "TimeToLiveStatus": "ENABLED"}
    users = ddb.describe_table(TableName=resources.tables["UsersTable0A1B"])["Table"]
    assert users["KeySchema"][0]["AttributeName"] == "athlete_id"
    assert users["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_keys_buckets_and_secret_are_created_as_declared(provisioned) -> None:
    resources, clients = provisioned
    kms = clients["kms"]
    jwt_key = kms.describe_key(KeyId=resources.keys["JwtKey5A6B"])["KeyMetadata"]
    assert (jwt_key["KeySpec"], jwt_key["KeyUsage"]) == ("RSA_2048", "SIGN_VERIFY")
    tiles_key = kms.describe_key(KeyId=resources.keys["TilesKey1F2E"])["KeyMetadata"]
    assert (tiles_key["KeySpec"], tiles_key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    token_key = kms.describe_key(KeyId=resources.keys["TokenKey7C8D"])["KeyMetadata"]
    assert token_key["KeySpec"] == "SYMMETRIC_DEFAULT"
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/ridelines-dev-jwt"] == resources.keys["JwtKey5A6B"]
    bucket = resources.buckets["DataBucketE3F4"]
    assert bucket in [b["Name"] for b in clients["s3"].list_buckets()["Buckets"]]
    secret = clients["secretsmanager"].get_secret_value(SecretId=resources.secrets["OAuthSecret9E0F"])
    assert json.loads(secret["SecretString"]) == {"client_id": "cid", "client_secret": "csecret"}


def test_lambda_environments_resolve_to_the_local_resources(provisioned) -> None:
    resources, _ = provisioned
    auth = resources.function("auth.handler.lambda_handler").environment
    assert auth["USERS_TABLE_NAME"] == resources.tables["UsersTable0A1B"]
    assert auth["OAUTH_STATE_TABLE_NAME"] == "ridelines-dev-oauth-state"
    assert auth["JWT_KMS_KEY_ID"] == resources.keys["JwtKey5A6B"]
    assert auth["OAUTH_CREDENTIALS_SECRET_ARN"] == resources.secrets["OAuthSecret9E0F"]
    assert auth["S3_BUCKET"] == resources.buckets["DataBucketE3F4"]
    # The distribution's domain is the local origin's host (LocalStack then sets SITE_URL to it exactly).
    assert auth["SITE_URL"] == "https://127.0.0.1:8123"
    assert auth["TILES_SIGNING_KMS_KEY_ID"] == resources.keys["TilesKey1F2E"]
    # CloudFront-only resources resolve to local stand-ins: the public key to the local key pair id.
    assert auth["TILES_KEY_PAIR_ID"] == LOCAL_TILES_KEY_PAIR_ID
    # A deploy-time custom resource's attributes are not emulated: that variable is left out, named.
    assert "WELL_KNOWN_VERSION" not in auth
    assert resources.function("auth.handler.lambda_handler").unresolved == ("WELL_KNOWN_VERSION",)
    sync = resources.function("sync.handler.lambda_handler")
    assert sync.timeout_seconds == 600
    assert sync.reserved_concurrency == 3  # the template's ReservedConcurrentExecutions
    assert resources.function("user.handler.lambda_handler").reserved_concurrency is None
    assert sync.environment["CLOUDFRONT_DISTRIBUTION_ID"] == ""  # no CDN to invalidate locally
    with pytest.raises(UnresolvedReference):
        resources.function("nope.handler")


def test_routes_and_the_jwt_authorizer_come_from_the_api(provisioned) -> None:
    resources, _ = provisioned
    routes = {r.route_key: r for r in resources.routes}
    assert set(routes) == {"GET /auth/{proxy+}", "ANY /api/{proxy+}", "GET /api/user"}
    assert routes["GET /auth/{proxy+}"].handler == "auth.handler.lambda_handler"
    assert routes["GET /auth/{proxy+}"].authorizer is None
    authorizer = routes["ANY /api/{proxy+}"].authorizer
    assert authorizer is not None
    assert authorizer.issuer == "https://127.0.0.1:8123/auth"  # LocalStack uses its own origin's issuer
    assert authorizer.audience == ("ridelines",)
    assert routes["GET /api/user"].handler == "user.handler.lambda_handler"
    assert resources.cors is None


def test_resolver_supports_sub_select_split_and_rejects_unknown_refs(cdk_templates: dict[str, Any]) -> None:
    resolver = Resolver(cdk_templates, "eu-west-1")
    assert resolver.resolve({"Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}:${!Literal}"}, "S") == (
        "arn:aws:x:eu-west-1:${Literal}"
    )
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "S") == "b"
    with pytest.raises(UnresolvedReference):
        resolver.resolve({"Ref": "Missing"}, "S")
    with pytest.raises(UnresolvedReference):
        resolver.resolve({"Fn::If": ["C", 1, 2]}, "S")
    with pytest.raises(UnresolvedReference):
        resolver.resolve({"Fn::ImportValue": "nobody-exports-this"}, "S")
