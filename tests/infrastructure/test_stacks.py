"""The synthesized templates, property by property (DESIGN §3.4, §5, §6; issue 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_

from ridelines import settings as names
from stacks.settings import AUTH, FUNCTIONS, SITE_CONTENT, SYNC, USER

REPO = Path(__file__).resolve().parents[2]


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


def test_three_functions_and_the_deploy_time_one_with_the_real_handlers(env: Any) -> None:
    fns = functions(env)
    assert set(fns) == {f"ridelines-{env.env}-{spec.key}" for spec in (*FUNCTIONS, SITE_CONTENT)}
    for spec in (*FUNCTIONS, SITE_CONTENT):
        assert by_key(env, spec.key)["Handler"] == f"{spec.key}.handler.lambda_handler"
        module = spec.handler.rsplit(".", 1)[0].replace(".", "/")
        assert (REPO / "lambdas" / f"{module}.py").is_file()


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
    assert by_key(env, "site_content")["Layers"] == [{"Ref": deps}]


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
    api = env.templates["api"]["Resources"]
    (distribution,) = env.resources("api", "AWS::CloudFront::Distribution")
    (public_key,) = env.resources("api", "AWS::CloudFront::PublicKey")
    for spec in FUNCTIONS:
        variables = by_key(env, spec.key)["Environment"]["Variables"]
        assert _imported(env, variables[names.USERS_TABLE_NAME]) == {"Ref": "UsersTable"}
        assert _imported(env, variables[names.OAUTH_STATE_TABLE_NAME]) == {"Ref": "OAuthStateTable"}
        assert _imported(env, variables[names.SYNC_TABLE_NAME]) == {"Ref": "SyncsTable"}
        assert _imported(env, variables[names.S3_BUCKET]) == {"Ref": "DataBucket"}
        assert _imported(env, variables[names.JWT_KMS_KEY_ID]) == {"Ref": "JwtSigningKey"}
        assert _imported(env, variables[names.TOKEN_KMS_KEY_ID]) == {"Ref": "TokenEncryptionKey"}
        assert _imported(env, variables[names.TILES_SIGNING_KMS_KEY_ID]) == {"Ref": "TilesSigningKey"}
        assert variables[names.TILES_KEY_PAIR_ID] == {"Ref": public_key}  # Ref of a PublicKey is its id
        assert _imported(env, variables[names.OAUTH_CREDENTIALS_SECRET_ARN]) == {"Ref": "OAuthClientSecret"}
        assert variables[names.CLOUDFRONT_DISTRIBUTION_ID] == {"Ref": distribution}
        assert variables[names.SITE_URL] == {
            "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution, "DomainName"]}]]
        }
        assert variables[names.SYNC_LAMBDA_FUNCTION_NAME] == f"ridelines-{env.env}-sync"
        assert variables[names.INTERVALS_URL] == "https://intervals.icu"
        assert variables[names.JWT_LIFETIME_SECONDS] == str(12 * 3600)
        # Extra flags appended to ridelines.tiling's defaults; empty keeps the code's tuned settings.
        assert variables[names.TIPPECANOE_ARGS] == ""
        # One origin: the three URLs of the old design are gone from the stacks (CONTRACTS.md).
        for retired in ("FRONTEND_URL", "API_URL", "TILES_BASE_URL"):
            assert retired not in variables
    assert data["UsersTable"]["Type"] == "AWS::DynamoDB::Table"
    assert api[public_key]["Type"] == "AWS::CloudFront::PublicKey"


def test_no_secret_values_in_environments(env: Any) -> None:
    for props in functions(env).values():
        text = json.dumps(props["Environment"]).lower()
        assert "client_secret" not in text
        assert "password" not in text


def _dead_letter_queue_id(env: Any) -> str:
    sync = env.resources("api", "AWS::Lambda::Function")[_logical_id_of_function(env, "sync")]
    return str(sync["Properties"]["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0])


def test_failed_async_syncs_go_to_an_encrypted_tls_only_dlq(env: Any) -> None:
    queue_id = _dead_letter_queue_id(env)
    queue = env.resources("api", "AWS::SQS::Queue")[queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    policies = [p["Properties"] for p in env.resources("api", "AWS::SQS::QueuePolicy").values()]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for p in policies
        for s in p["PolicyDocument"]["Statement"]
    )


def test_a_sync_lambda_gave_up_on_is_handed_back_to_it_to_be_marked_failed(env: Any) -> None:
    """The on-failure destination is the sync function itself (ridelines.pipeline.gave_up marks the
    sync failed); the dead-letter queue keeps the event for replay. One retry, then both."""
    sync = _logical_id_of_function(env, "sync")
    (config,) = env.resources("api", "AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": sync}
    destination = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::Join"][1]
    assert destination[-2:] == [":function:", {"Ref": sync}]
    assert props["MaximumRetryAttempts"] == 1
    role = env.resources("api", "AWS::Lambda::Function")[sync]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in env.resources("api", "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any("sqs:SendMessage" in json.dumps(s["Action"]) for s in statements)


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
    dlq = _dead_letter_queue_id(env)
    (dlq_alarm,) = [a for a in alarms if a["Namespace"] == "AWS/SQS"]
    assert dlq_alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]
    (failed,) = [a for a in alarms if a["MetricName"] == "sync.failed"]
    sync_env = by_key(env, SYNC.key)["Environment"]["Variables"]
    assert failed["Namespace"] == sync_env["POWERTOOLS_METRICS_NAMESPACE"]
    assert failed["Dimensions"] == [{"Name": "service", "Value": sync_env["POWERTOOLS_SERVICE_NAME"]}]
    for alarm in alarms:  # one occurrence in one 5-minute period is enough to tell a human
        if alarm["MetricName"] != "api.unauthorized":  # a 401 is normal; only a burst is news
            assert alarm["Threshold"] == 1
        assert alarm["EvaluationPeriods"] == 1
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
        "GET /api/user/privacy",
        "PUT /api/user/privacy",
        "GET /api/user/explorer",
        "GET /api/user/export",
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


def test_jwt_authorizer_issuer_is_the_site_and_audience(env: Any) -> None:
    (authorizer,) = env.resources("api", "AWS::ApiGatewayV2::Authorizer").values()
    props = authorizer["Properties"]
    (distribution,) = env.resources("api", "AWS::CloudFront::Distribution")
    assert props["AuthorizerType"] == "JWT"
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    assert props["JwtConfiguration"]["Audience"] == ["ridelines"]
    assert props["JwtConfiguration"]["Issuer"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution, "DomainName"]}, "/auth"]]
    }


def test_api_has_no_cors_one_origin(env: Any) -> None:
    """The app, /auth and /api share the site's origin: no CORS anywhere (and none to drift)."""
    (api,) = env.resources("api", "AWS::ApiGatewayV2::Api").values()
    assert "CorsConfiguration" not in api["Properties"]
    assert "CorsConfiguration" not in _data_bucket(env)
    for policy in env.resources("api", "AWS::CloudFront::ResponseHeadersPolicy").values():
        assert "CorsConfig" not in policy["Properties"]["ResponseHeadersPolicyConfig"]


def test_default_stage_has_access_logs_and_throttling(env: Any) -> None:
    (stage,) = env.resources("api", "AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    group = props["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert "RetentionInDays" in env.resources("api", "AWS::Logs::LogGroup")[group]["Properties"]
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0


def test_access_log_uses_http_api_variables(env: Any) -> None:
    (stage,) = env.resources("api", "AWS::ApiGatewayV2::Stage").values()
    log_format = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
    for key, variable in {
        "requestId": "$context.requestId",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "authorizerError": "$context.authorizer.error",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
    }.items():
        assert log_format[key] == variable
    # REST API-only variables would log as '-': none of them.
    assert not [v for v in log_format.values() if v.startswith("$context.authorizer.claims")]


def test_api_5xx_and_401_burst_alarms(env: Any) -> None:
    alarms = [a["Properties"] for a in env.resources("api", "AWS::CloudWatch::Alarm").values()]
    (api,) = env.resources("api", "AWS::ApiGatewayV2::Api")
    (server_errors,) = [a for a in alarms if a["MetricName"] == "5xx"]
    assert server_errors["Namespace"] == "AWS/ApiGateway"
    dims = {d["Name"]: d["Value"] for d in server_errors["Dimensions"]}
    assert dims == {"ApiId": {"Ref": api}, "Stage": "$default"}
    (burst,) = [a for a in alarms if a["MetricName"] == "api.unauthorized"]
    assert burst["Threshold"] == (20 if env.env == "dev" else 50)
    (metric_filter,) = env.resources("api", "AWS::Logs::MetricFilter").values()
    (stage,) = env.resources("api", "AWS::ApiGatewayV2::Stage").values()
    group = stage["Properties"]["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert metric_filter["Properties"]["LogGroupName"] == {"Ref": group}
    assert metric_filter["Properties"]["FilterPattern"] == '{ $.status = "401" }'
    (transform,) = metric_filter["Properties"]["MetricTransformations"]
    assert (transform["MetricNamespace"], transform["MetricName"]) == ("Ridelines", "api.unauthorized")


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


def test_tiles_key_is_ecc_p256_sign_verify_with_alias(env: Any) -> None:
    """Issue 10.1: CloudFront accepts ECDSA P-256 public keys; the private half stays in KMS."""
    tiles = env.resources("data", "AWS::KMS::Key")["TilesSigningKey"]["Properties"]
    assert (tiles["KeySpec"], tiles["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    aliases = {
        a["Properties"]["AliasName"]: a["Properties"]["TargetKeyId"]
        for a in env.resources("data", "AWS::KMS::Alias").values()
    }
    assert aliases[f"alias/ridelines-{env.env}-tiles"] == {"Fn::GetAtt": ["TilesSigningKey", "Arn"]}


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


def _bucket_policies(env: Any) -> dict[str, list[dict[str, Any]]]:
    """Bucket logical id -> statements, whichever stack writes the policy (the data bucket's is in api)."""
    policies = {}
    for part in ("storage", "api"):
        for policy in env.resources(part, "AWS::S3::BucketPolicy").values():
            bucket = policy["Properties"]["Bucket"]
            if "Fn::ImportValue" in bucket:
                bucket = env.export_value(bucket["Fn::ImportValue"])
            policies[bucket["Ref"]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return policies


def test_buckets_encrypted_private_and_tls_only(env: Any) -> None:
    buckets = {**env.resources("storage", "AWS::S3::Bucket"), **env.resources("api", "AWS::S3::Bucket")}
    assert set(buckets) == {"DataBucket", "WebBucket", next(k for k in buckets if k.startswith("AccessLogs"))}
    policies = _bucket_policies(env)
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
            and s["Principal"] in ("*", {"AWS": "*"})
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policies[logical_id]
        ), logical_id


def test_data_bucket_versioned_and_logged(env: Any) -> None:
    props = _data_bucket(env)
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    log_bucket = next(k for k in env.resources("storage", "AWS::S3::Bucket") if k != "DataBucket")
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_old_versions_of_archives_kept_days_and_of_tiles_one_day(env: Any) -> None:
    """Issue 10.5: replaced archives keep old versions a few days (setting), rebuildable tiles one day."""
    rules = {r["Id"]: r for r in _data_bucket(env)["LifecycleConfiguration"]["Rules"]}
    athletes, tiles = rules["athletes-noncurrent-versions"], rules["tiles-noncurrent-versions"]
    assert athletes["Prefix"] == "athletes/"
    assert athletes["NoncurrentVersionExpiration"] == {"NoncurrentDays": 3 if env.env == "dev" else 7}
    assert tiles["Prefix"] == "tiles/"
    assert tiles["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    for rule in (athletes, tiles):
        assert rule["Status"] == "Enabled" and rule["ExpiredObjectDeleteMarker"] is True
    assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


# ---------------------------------------------------------------- dev vs prod


STATEFUL = (
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
)


@pytest.mark.parametrize("cfn_type", STATEFUL)
def test_prod_retains_and_protects_dev_can_be_destroyed(dev: Any, prod: Any, cfn_type: str) -> None:
    for logical_id, resource in prod.all_resources(cfn_type).items():
        if logical_id == "WebBucket":  # rewritten at every deploy: nothing in it to keep
            assert resource["DeletionPolicy"] == "Delete"
            continue
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
    assert set(environments) == {"auth", "user", "sync", "site_content"}
    auth = environments["auth"]
    assert auth[names.USERS_TABLE_NAME] == {
        "stack": "data",
        "logical_id": "UsersTable",
        "type": "AWS::DynamoDB::Table",
        "attribute": "Ref",
    }
    assert auth[names.S3_BUCKET]["logical_id"] == "DataBucket"  # type: ignore[index]
    assert auth[names.JWT_KMS_KEY_ID]["type"] == "AWS::KMS::Key"  # type: ignore[index]
    site = auth[names.SITE_URL]
    assert site["join"][0] == "https://"  # type: ignore[index]
    assert site["join"][1]["type"] == "AWS::CloudFront::Distribution"  # type: ignore[index]
    assert auth[names.TILES_SIGNING_KMS_KEY_ID]["logical_id"] == "TilesSigningKey"  # type: ignore[index]
    assert auth[names.TILES_KEY_PAIR_ID]["type"] == "AWS::CloudFront::PublicKey"  # type: ignore[index]
    assert auth[names.SYNC_LAMBDA_FUNCTION_NAME] == f"ridelines-{env.env}-sync"
