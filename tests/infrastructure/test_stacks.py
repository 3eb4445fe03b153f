"""The synthesized templates, property by property (DESIGN §3.4, §5, §6; issue 2)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_

from ridelines import settings as names
from stacks.settings import AUTH, FUNCTIONS, SYNC, USER, cdk_json_context

FRONTEND_URLS = {env: block["frontend_url"] for env, block in cdk_json_context()["ridelines"].items()}


def functions(env: Any) -> dict[str, dict[str, Any]]:
    """FunctionName -> properties."""
    return {
        fn["Properties"]["FunctionName"]: fn["Properties"]
        for fn in env.all_resources("AWS::Lambda::Function").values()
    }


def by_key(env: Any, key: str) -> dict[str, Any]:
    return functions(env)[f"ridelines-{env.env}-{key}"]


def newest_python_runtime() -> str:
    versions = []
    for attr in dir(lambda_.Runtime):
        match = re.fullmatch(r"PYTHON_3_(\d+)", attr)
        if match:
            versions.append(int(match.group(1)))
    return f"python3.{max(versions)}"


# ---------------------------------------------------------------- Lambdas


def test_three_functions_with_the_real_handlers(env: Any) -> None:
    fns = functions(env)
    assert set(fns) == {f"ridelines-{env.env}-{spec.key}" for spec in FUNCTIONS}
    for spec in FUNCTIONS:
        assert by_key(env, spec.key)["Handler"] == f"{spec.key}.handler.lambda_handler"


def test_every_function_and_layer_is_arm64_on_the_newest_python(env: Any) -> None:
    runtime = newest_python_runtime()
    for props in functions(env).values():
        assert props["Architectures"] == ["arm64"]
        assert props["Runtime"] == runtime
    layers = env.all_resources("AWS::Lambda::LayerVersion")
    assert len(layers) == 2
    for layer in layers.values():
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
        assert layer["Properties"]["CompatibleRuntimes"] == [runtime]


def test_layer_python_version_matches_the_runtime() -> None:
    from layers import build
    from stacks.settings import PYTHON_RUNTIME

    assert PYTHON_RUNTIME.name == f"python{build.PYTHON_VERSION}"


def test_sizes_as_the_original_system(env: Any) -> None:
    sync = by_key(env, SYNC.key)
    assert sync["MemorySize"] == 2048
    assert sync["Timeout"] == 600
    assert sync["EphemeralStorage"]["Size"] >= 4096
    for spec in (AUTH, USER):
        props = by_key(env, spec.key)
        assert 256 <= props["MemorySize"] <= 512
        assert 10 <= props["Timeout"] <= 30


def test_only_sync_gets_the_tippecanoe_layer(env: Any) -> None:
    layer_ids = {k for k, v in env.resources("api", "AWS::Lambda::LayerVersion").items()}
    tippecanoe = next(k for k in layer_ids if k.startswith("LayersTippecanoe"))
    deps = next(k for k in layer_ids if k.startswith("LayersDependencies"))
    assert by_key(env, "sync")["Layers"] == [{"Ref": deps}, {"Ref": tippecanoe}]
    assert by_key(env, "auth")["Layers"] == [{"Ref": deps}]
    assert by_key(env, "user")["Layers"] == [{"Ref": deps}]


def test_json_logs_xray_and_log_retention(env: Any) -> None:
    log_groups = env.resources("api", "AWS::Logs::LogGroup")
    for fn_name, props in functions(env).items():
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        group = log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["LogGroupName"] == f"/aws/lambda/{fn_name}"
        assert group["Properties"]["RetentionInDays"] == (14 if env.env == "dev" else 90)
    for group in log_groups.values():
        assert "RetentionInDays" in group["Properties"]


def test_powertools_environment(env: Any) -> None:
    for spec in FUNCTIONS:
        variables = by_key(env, spec.key)["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == spec.key
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Ridelines"
        assert variables["POWERTOOLS_LOG_LEVEL"] in {"DEBUG", "INFO"}


def _imported(env: Any, value: Any) -> Any:
    assert set(value) == {"Fn::ImportValue"}, value
    return env.export_value(value["Fn::ImportValue"])


def test_environment_variables_point_at_the_right_resources(env: Any) -> None:
    data = env.templates["data"]["Resources"]
    for spec in FUNCTIONS:
        variables = by_key(env, spec.key)["Environment"]["Variables"]
        assert _imported(env, variables[names.USERS_TABLE_NAME]) == {"Ref": "UsersTable"}
        assert _imported(env, variables[names.OAUTH_STATE_TABLE_NAME]) == {"Ref": "OAuthStateTable"}
        assert _imported(env, variables[names.SYNC_TABLE_NAME]) == {"Ref": "SyncsTable"}
        assert _imported(env, variables[names.S3_BUCKET]) == {"Ref": "DataBucket"}
        assert _imported(env, variables[names.JWT_KMS_KEY_ID]) == {"Ref": "JwtSigningKey"}
        assert _imported(env, variables[names.TOKEN_KMS_KEY_ID]) == {"Ref": "TokenEncryptionKey"}
        assert _imported(env, variables[names.OAUTH_CREDENTIALS_SECRET_ARN]) == {"Ref": "OAuthClientSecret"}
        distribution = _imported(env, variables[names.CLOUDFRONT_DISTRIBUTION_ID])
        assert (
            env.templates["storage"]["Resources"][distribution["Ref"]]["Type"]
            == "AWS::CloudFront::Distribution"
        )
        tiles_url = variables[names.TILES_BASE_URL]["Fn::Join"][1]
        assert tiles_url[0] == "https://"
        assert _imported(env, tiles_url[1]) == {"Fn::GetAtt": [distribution["Ref"], "DomainName"]}
        assert variables[names.SYNC_LAMBDA_FUNCTION_NAME] == f"ridelines-{env.env}-sync"
        api = next(iter(env.resources("api", "AWS::ApiGatewayV2::Api")))
        assert variables[names.API_URL] == {"Fn::GetAtt": [api, "ApiEndpoint"]}
        assert variables[names.FRONTEND_URL] == FRONTEND_URLS[env.env]
        assert variables[names.INTERVALS_URL] == "https://intervals.icu"
        assert variables[names.JWT_LIFETIME_SECONDS] == str(12 * 3600)
        # Extra flags appended to ridelines.tiling's defaults; empty keeps the code's tuned settings.
        assert variables[names.TIPPECANOE_ARGS] == ""
    assert data["UsersTable"]["Type"] == "AWS::DynamoDB::Table"


def test_no_secret_values_in_environments(env: Any) -> None:
    for props in functions(env).values():
        text = json.dumps(props["Environment"]).lower()
        assert "client_secret" not in text
        assert "password" not in text


def test_failed_async_syncs_go_to_an_encrypted_tls_only_dlq(env: Any) -> None:
    configs = env.resources("api", "AWS::Lambda::EventInvokeConfig")
    assert len(configs) == 1
    (config,) = configs.values()
    queue_id = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = env.resources("api", "AWS::SQS::Queue")[queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert config["Properties"]["FunctionName"] == {"Ref": _logical_id_of_function(env, "sync")}
    policies = [p["Properties"] for p in env.resources("api", "AWS::SQS::QueuePolicy").values()]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for p in policies
        for s in p["PolicyDocument"]["Statement"]
    )


def _logical_id_of_function(env: Any, key: str) -> str:
    for logical_id, fn in env.resources("api", "AWS::Lambda::Function").items():
        if fn["Properties"]["FunctionName"] == f"ridelines-{env.env}-{key}":
            return logical_id
    raise KeyError(key)


def test_alarms_on_errors_throttles_dead_letters_and_failed_syncs(env: Any) -> None:
    alarms = [a["Properties"] for a in env.resources("api", "AWS::CloudWatch::Alarm").values()]
    topic = next(iter(env.resources("api", "AWS::SNS::Topic")))
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": topic}]
    watched = set()
    for alarm in alarms:
        dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        target = (
            dims.get("FunctionName", {}).get("Ref") if isinstance(dims.get("FunctionName"), dict) else None
        )
        watched.add((alarm["Namespace"], alarm["MetricName"], target))
    for key in ("auth", "user", "sync"):
        fn = _logical_id_of_function(env, key)
        assert ("AWS/Lambda", "Errors", fn) in watched
        assert ("AWS/Lambda", "Throttles", fn) in watched
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", None) in watched
    failed = [a for a in alarms if a["MetricName"] == "sync.failed"]
    assert failed and failed[0]["Namespace"] == "Ridelines"
    assert failed[0]["Dimensions"] == [{"Name": "service", "Value": "sync"}]
    topic_props = env.resources("api", "AWS::SNS::Topic")[topic]["Properties"]
    assert "KmsMasterKeyId" in topic_props


def test_dead_letter_and_failed_sync_alarms_watch_what_the_sync_produces(env: Any) -> None:
    """The DLQ alarm reads the queue the sync's failed invocations go to; the failed-sync alarm's
    dimension is the service name the sync Lambda's Powertools Metrics stamps on its EMF
    (tests/integration/sync/test_failed_sync_metric.py checks the emitted side)."""
    alarms = [a["Properties"] for a in env.resources("api", "AWS::CloudWatch::Alarm").values()]
    (config,) = env.resources("api", "AWS::Lambda::EventInvokeConfig").values()
    dlq = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    (dlq_alarm,) = [a for a in alarms if a["Namespace"] == "AWS/SQS"]
    assert dlq_alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]
    (failed,) = [a for a in alarms if a["MetricName"] == "sync.failed"]
    sync_env = by_key(env, SYNC.key)["Environment"]["Variables"]
    assert failed["Namespace"] == sync_env["POWERTOOLS_METRICS_NAMESPACE"]
    assert failed["Dimensions"] == [{"Name": "service", "Value": sync_env["POWERTOOLS_SERVICE_NAME"]}]
    for alarm in alarms:  # one occurrence in one 5-minute period is enough to tell a human
        assert alarm["Threshold"] == 1 and alarm["EvaluationPeriods"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


# ---------------------------------------------------------------- HTTP API


def _routes(env: Any) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in env.resources("api", "AWS::ApiGatewayV2::Route").values()
    }


def test_routes_are_exactly_the_contract(env: Any) -> None:
    assert set(_routes(env)) == {
        "GET /auth/login",
        "GET /auth/callback",
        "POST /auth/logout",
        "GET /auth/.well-known/openid-configuration",
        "GET /auth/.well-known/jwks.json",
        "GET /api/user",
        "DELETE /api/user",
        "POST /api/sync",
        "GET /api/sync",
    }


def test_jwt_authorizer_on_every_api_route_and_no_auth_route(env: Any) -> None:
    (authorizer_id,) = env.resources("api", "AWS::ApiGatewayV2::Authorizer")
    for key, route in _routes(env).items():
        path = key.split(" ", 1)[1]
        if path.startswith("/api/"):
            assert route["AuthorizationType"] == "JWT", key
            assert route["AuthorizerId"] == {"Ref": authorizer_id}, key
        else:
            assert path.startswith("/auth/")
            assert route.get("AuthorizationType", "NONE") == "NONE", key
            assert "AuthorizerId" not in route, key


def test_routes_reach_the_right_function(env: Any) -> None:
    integrations = env.resources("api", "AWS::ApiGatewayV2::Integration")
    for key, route in _routes(env).items():
        integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
        uri = integrations[integration_id]["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
        expected = "auth" if key.split(" ", 1)[1].startswith("/auth/") else "user"
        assert uri == _logical_id_of_function(env, expected), key


def test_jwt_authorizer_issuer_and_audience(env: Any) -> None:
    (authorizer,) = env.resources("api", "AWS::ApiGatewayV2::Authorizer").values()
    props = authorizer["Properties"]
    api = next(iter(env.resources("api", "AWS::ApiGatewayV2::Api")))
    assert props["AuthorizerType"] == "JWT"
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    assert props["JwtConfiguration"]["Audience"] == ["ridelines"]
    assert props["JwtConfiguration"]["Issuer"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [api, "ApiEndpoint"]}, "/auth"]]
    }


def test_api_cors_allows_only_the_frontend(env: Any) -> None:
    (api,) = env.resources("api", "AWS::ApiGatewayV2::Api").values()
    cors = api["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == [FRONTEND_URLS[env.env]]
    assert "Authorization" in cors["AllowHeaders"]


def test_default_stage_has_access_logs_and_throttling(env: Any) -> None:
    (stage,) = env.resources("api", "AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    group = props["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert "RetentionInDays" in env.resources("api", "AWS::Logs::LogGroup")[group]["Properties"]
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0


# ---------------------------------------------------------------- Data


def test_tables_keys_ttl_pitr_on_demand(env: Any) -> None:
    tables = env.resources("data", "AWS::DynamoDB::Table")
    expected = {"UsersTable": "athlete_id", "OAuthStateTable": "state", "SyncsTable": "athlete_id"}
    assert set(tables) == set(expected)
    for logical_id, key in expected.items():
        props = tables[logical_id]["Properties"]
        assert props["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
        assert props["AttributeDefinitions"] == [{"AttributeName": key, "AttributeType": "S"}]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["SSESpecification"]["SSEEnabled"] is True
    assert tables["OAuthStateTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }
    assert "TimeToLiveSpecification" not in tables["UsersTable"]["Properties"]


def test_jwt_key_is_rsa_sign_verify_with_alias_and_token_key_rotates(env: Any) -> None:
    keys = env.resources("data", "AWS::KMS::Key")
    jwt = keys["JwtSigningKey"]["Properties"]
    assert jwt["KeySpec"] == "RSA_2048"
    assert jwt["KeyUsage"] == "SIGN_VERIFY"
    assert not jwt.get("EnableKeyRotation")  # KMS cannot rotate asymmetric keys
    token = keys["TokenEncryptionKey"]["Properties"]
    assert token.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    assert token.get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
    assert token["EnableKeyRotation"] is True
    aliases = {
        a["Properties"]["AliasName"]: a["Properties"]["TargetKeyId"]
        for a in env.resources("data", "AWS::KMS::Alias").values()
    }
    assert aliases[f"alias/ridelines-{env.env}-jwt"] == {"Fn::GetAtt": ["JwtSigningKey", "Arn"]}


def test_oauth_secret_value_is_never_in_the_template(env: Any) -> None:
    (secret,) = env.resources("data", "AWS::SecretsManager::Secret").values()
    props = secret["Properties"]
    assert "SecretString" not in props
    generated = props["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "client_secret"
    assert set(json.loads(generated["SecretStringTemplate"])) == {"client_id"}


# ---------------------------------------------------------------- Storage and CDN


def _data_bucket(env: Any) -> dict[str, Any]:
    return env.resources("storage", "AWS::S3::Bucket")["DataBucket"]["Properties"]


def test_buckets_encrypted_private_and_tls_only(env: Any) -> None:
    buckets = env.resources("storage", "AWS::S3::Bucket")
    assert len(buckets) == 2
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in env.resources("storage", "AWS::S3::BucketPolicy").values()
    }
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert any(
            s["Effect"] == "Deny"
            and s["Action"] == "s3:*"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policies[logical_id]
        ), logical_id


def test_data_bucket_versioned_and_logged(env: Any) -> None:
    props = _data_bucket(env)
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    log_bucket = next(k for k in env.resources("storage", "AWS::S3::Bucket") if k != "DataBucket")
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket}
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in r for r in rules)
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_only_this_distribution_reads_only_tiles(env: Any) -> None:
    (distribution_id,) = env.resources("storage", "AWS::CloudFront::Distribution")
    policy = next(
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in env.resources("storage", "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": "DataBucket"}
    )
    allows = [s for s in policy if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert allow["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": ["DataBucket", "Arn"]}, "/tiles/*"]]}
    source_arn = json.dumps(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert f'"Ref": "{distribution_id}"' in source_arn
    assert ":distribution/" in source_arn


def test_distribution_uses_oac_and_serves_tiles_immutably(env: Any) -> None:
    storage = env.templates["storage"]["Resources"]
    (oac_id,) = env.resources("storage", "AWS::CloudFront::OriginAccessControl")
    oac = storage[oac_id]["Properties"]["OriginAccessControlConfig"]
    assert oac["OriginAccessControlOriginType"] == "s3"
    assert oac["SigningBehavior"] == "always"
    assert oac["SigningProtocol"] == "sigv4"
    (dist,) = env.resources("storage", "AWS::CloudFront::Distribution").values()
    config = dist["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    assert origin["DomainName"] == {"Fn::GetAtt": ["DataBucket", "RegionalDomainName"]}
    (tiles,) = config["CacheBehaviors"]
    assert tiles["PathPattern"] == "tiles/*"
    assert tiles["ViewerProtocolPolicy"] == "https-only"
    assert set(tiles["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS"}
    assert tiles["Compress"] is False  # byte ranges of already-compressed PMTiles
    cache = storage[tiles["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
    assert cache["DefaultTTL"] == 365 * 24 * 3600
    assert cache["MinTTL"] >= 24 * 3600
    key = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"]["QueryStringBehavior"] == "none"
    assert key["CookiesConfig"]["CookieBehavior"] == "none"
    headers = storage[tiles["ResponseHeadersPolicyId"]["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
    cors = headers["CorsConfig"]
    assert cors["AccessControlAllowOrigins"]["Items"] == [FRONTEND_URLS[env.env]]
    assert "Range" in cors["AccessControlAllowHeaders"]["Items"]
    assert "Content-Range" in cors["AccessControlExposeHeaders"]["Items"]
    assert config["Logging"]["Bucket"]["Fn::GetAtt"][0] != "DataBucket"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "https-only"


# ---------------------------------------------------------------- dev vs prod


STATEFUL = (
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
)


@pytest.mark.parametrize("cfn_type", STATEFUL)
def test_prod_retains_and_protects_dev_can_be_destroyed(dev: Any, prod: Any, cfn_type: str) -> None:
    for resource in prod.all_resources(cfn_type).values():
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"
    for resource in dev.all_resources(cfn_type).values():
        assert resource["DeletionPolicy"] == "Delete"


def test_prod_tables_have_deletion_protection(dev: Any, prod: Any) -> None:
    for table in prod.all_resources("AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True
    for table in dev.all_resources("AWS::DynamoDB::Table").values():
        assert table["Properties"].get("DeletionProtectionEnabled", False) is False


def test_stack_names_per_environment(env: Any) -> None:
    assert env.stack_names == {part: f"Ridelines-{env.env}-{part}" for part in ("data", "storage", "api")}


def test_environment_agnostic_no_lookups(env: Any) -> None:
    text = json.dumps(env.templates)
    assert re.search(r"\b\d{12}\b", text) is None  # no hard-coded account ids
    assert "cdk.context" not in text


def test_introspection_maps_every_env_var_to_a_resource_or_literal(env: Any) -> None:
    from stacks.introspect import lambda_environments

    environments = lambda_environments(env.env, env.templates)
    assert set(environments) == {"auth", "user", "sync"}
    auth = environments["auth"]
    assert auth[names.USERS_TABLE_NAME] == {
        "stack": "data",
        "logical_id": "UsersTable",
        "type": "AWS::DynamoDB::Table",
        "attribute": "Ref",
    }
    assert auth[names.S3_BUCKET]["logical_id"] == "DataBucket"  # type: ignore[index]
    assert auth[names.JWT_KMS_KEY_ID]["type"] == "AWS::KMS::Key"  # type: ignore[index]
    assert auth[names.API_URL]["attribute"] == "ApiEndpoint"  # type: ignore[index]
    tiles = auth[names.TILES_BASE_URL]
    assert tiles["join"][0] == "https://"  # type: ignore[index]
    assert tiles["join"][1]["type"] == "AWS::CloudFront::Distribution"  # type: ignore[index]
    assert auth[names.SYNC_LAMBDA_FUNCTION_NAME] == f"ridelines-{env.env}-sync"
