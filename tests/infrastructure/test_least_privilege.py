"""IAM, parsed from the templates: who may sign, write tiles, invalidate, invoke (DESIGN §5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

KEYS = ("auth", "user", "sync", "site_content")
# Actions AWS only grants on Resource "*" (no resource-level permissions).
RESOURCELESS_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(env: Any) -> dict[str, list[dict[str, Any]]]:
    """Function key ("auth"...) -> every IAM statement attached to that function's role."""
    api = env.templates["api"]["Resources"]
    role_of = {}
    for fn in env.resources("api", "AWS::Lambda::Function").values():
        key = fn["Properties"]["FunctionName"].rsplit("-", 1)[-1]
        role_of[fn["Properties"]["Role"]["Fn::GetAtt"][0]] = key
    statements: dict[str, list[dict[str, Any]]] = {key: [] for key in KEYS}
    for resource in api.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for role in resource["Properties"]["Roles"]:
            key = role_of.get(role["Ref"])
            if key:
                statements[key].extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions_on(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if s["Effect"] == "Allow" and action in _as_list(s["Action"])]


def who_may(env: Any, action: str) -> set[str]:
    return {key for key, statements in role_statements(env).items() if actions_on(statements, action)}


def resource_text(statement: dict[str, Any]) -> str:
    return json.dumps(statement["Resource"])


def test_each_function_has_its_own_role_without_managed_policies(env: Any) -> None:
    roles = env.resources("api", "AWS::IAM::Role")
    fn_roles = [
        fn["Properties"]["Role"]["Fn::GetAtt"][0]
        for fn in env.resources("api", "AWS::Lambda::Function").values()
    ]
    assert len(set(fn_roles)) == 4
    for role in fn_roles:
        props = roles[role]["Properties"]
        assert "ManagedPolicyArns" not in props
        assert props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"
        }


def test_only_auth_signs_sessions_auth_and_user_sign_tiles_cookies(env: Any) -> None:
    assert who_may(env, "kms:Sign") == {"auth", "user"}
    statements = role_statements(env)
    signers: dict[str, set[str]] = {}
    for key in ("auth", "user"):
        for statement in actions_on(statements[key], "kms:Sign"):
            text = resource_text(statement)
            for name in ("JwtSigningKey", "TilesSigningKey", "TokenEncryptionKey"):
                if name in text:
                    signers.setdefault(name, set()).add(key)
            if "TilesSigningKey" in text:
                assert statement["Condition"] == {"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}
                assert "JwtSigningKey" not in text
    assert signers == {"JwtSigningKey": {"auth"}, "TilesSigningKey": {"auth", "user"}}


def test_only_the_deploy_time_function_reads_public_keys_besides_auth(env: Any) -> None:
    assert who_may(env, "kms:GetPublicKey") == {"auth", "site_content"}
    keys = {
        name
        for statement in actions_on(role_statements(env)["site_content"], "kms:GetPublicKey")
        for name in ("JwtSigningKey", "TilesSigningKey", "TokenEncryptionKey")
        if name in resource_text(statement)
    }
    assert keys == {"JwtSigningKey", "TilesSigningKey"}


def test_the_deploy_time_function_writes_only_the_web_bucket_and_reads_only_its_assets(env: Any) -> None:
    statements = role_statements(env)["site_content"]
    s3_actions = {a for s in statements for a in _as_list(s["Action"]) if a.startswith("s3:")}
    assert s3_actions == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:ListBucket"):
        for statement in actions_on(statements, action):
            for resource in _as_list(statement["Resource"]):
                assert json.dumps(resource).startswith('{"Fn::') and "WebBucket" in json.dumps(resource)
    for statement in actions_on(statements, "s3:GetObject"):
        for resource in _as_list(statement["Resource"]):
            text = json.dumps(resource)
            assert "cdk-hnb659fds-assets" in text and ".zip" in text and "*" not in text
    assert not [
        a for s in statements for a in _as_list(s["Action"]) if a.startswith(("dynamodb:", "kms:Sign"))
    ]


def test_only_auth_encrypts_tokens_user_and_sync_decrypt_with_context(env: Any) -> None:
    assert who_may(env, "kms:Encrypt") == {"auth"}
    assert who_may(env, "kms:Decrypt") == {"user", "sync"}
    statements = role_statements(env)
    for key, action in (("auth", "kms:Encrypt"), ("user", "kms:Decrypt"), ("sync", "kms:Decrypt")):
        for statement in actions_on(statements[key], action):
            assert "TokenEncryptionKey" in resource_text(statement)
            assert statement["Condition"] == {"Null": {"kms:EncryptionContextKeys": "false"}}


def test_only_auth_reads_the_oauth_client_secret(env: Any) -> None:
    assert who_may(env, "secretsmanager:GetSecretValue") == {"auth"}


def test_only_sync_writes_tiles(env: Any) -> None:
    writers = set()
    for key, statements in role_statements(env).items():
        for statement in actions_on(statements, "s3:PutObject"):
            if "/tiles/" in resource_text(statement):
                writers.add(key)
    assert writers == {"sync"}
    assert who_may(env, "s3:PutObject") == {"sync", "site_content"}  # site_content: the web bucket only


def test_only_user_invalidates_this_distribution(env: Any) -> None:
    # Publishing needs no invalidation (content-hashed keys); erasure invalidates the rider's prefix.
    assert who_may(env, "cloudfront:CreateInvalidation") == {"user"}
    for key in ("user",):
        for statement in actions_on(role_statements(env)[key], "cloudfront:CreateInvalidation"):
            text = resource_text(statement)
            assert ":distribution/" in text and "SiteDistribution" in text


def test_only_user_invokes_sync_besides_sync_itself(env: Any) -> None:
    assert who_may(env, "lambda:InvokeFunction") == {"user", "sync"}
    for key in ("user", "sync"):
        for statement in actions_on(role_statements(env)[key], "lambda:InvokeFunction"):
            assert resource_text(statement).endswith(f':function:ridelines-{env.env}-sync"]]}}')


def test_auth_touches_no_bucket_and_user_only_deletes(env: Any) -> None:
    statements = role_statements(env)
    assert not [a for s in statements["auth"] for a in _as_list(s["Action"]) if a.startswith("s3:")]
    user_s3 = {a for s in statements["user"] for a in _as_list(s["Action"]) if a.startswith("s3:")}
    assert user_s3 == {
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:GetObject",
    }
    for statement in actions_on(statements["user"], "s3:GetObject"):  # the explorer layer only
        assert resource_text(statement).endswith('/explorer.json"]]}')


@pytest.mark.parametrize("key", ["user", "sync"])
def test_erasers_remove_every_version_under_exactly_the_rider_prefixes(env: Any, key: str) -> None:
    """Issue 10.4: account deletion (user) and the deletion fence of a sync still running (sync) list
    versions (prefix-conditioned) and delete them, nothing else."""
    statements = role_statements(env)[key]
    (listing,) = actions_on(statements, "s3:ListBucketVersions")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["athletes/*", "tiles/*"]}}
    assert "DataBucketArn" in resource_text(listing) and "*" not in resource_text(listing)
    (deleting,) = actions_on(statements, "s3:DeleteObjectVersion")
    resources = [json.dumps(r) for r in _as_list(deleting["Resource"])]
    assert len(resources) == 2
    assert any(r.endswith('/athletes/*"]]}') for r in resources)
    assert any(r.endswith('/tiles/*"]]}') for r in resources)
    assert who_may(env, "s3:DeleteObjectVersion") == {"user", "sync"}
    assert who_may(env, "s3:ListBucketVersions") == {"user", "sync"}


def test_table_access_per_function(env: Any) -> None:
    statements = role_statements(env)

    def tables(key: str, action: str) -> set[str]:
        found = set()
        for statement in actions_on(statements[key], action):
            for table in ("UsersTable", "OAuthStateTable", "SyncsTable"):
                if table in resource_text(statement):
                    found.add(table)
        return found

    assert tables("auth", "dynamodb:DeleteItem") == {"OAuthStateTable"}  # consume state once
    assert tables("auth", "dynamodb:UpdateItem") == {"UsersTable"}
    assert tables("user", "dynamodb:DeleteItem") == {"UsersTable", "SyncsTable"}
    assert tables("user", "dynamodb:UpdateItem") == {"SyncsTable"}
    assert tables("sync", "dynamodb:UpdateItem") == {"UsersTable", "SyncsTable"}
    assert "OAuthStateTable" not in tables("sync", "dynamodb:GetItem") | tables("user", "dynamodb:GetItem")
    for key in KEYS:
        for statement in statements[key]:
            for action in _as_list(statement["Action"]):
                assert action not in {"dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:BatchWriteItem"}


@pytest.mark.parametrize("key", KEYS)
def test_no_wildcard_actions_and_no_star_resource_on_data(env: Any, key: str) -> None:
    for statement in role_statements(env)[key]:
        actions = _as_list(statement["Action"])
        for action in actions:
            assert action != "*" and not action.endswith(":*") and "*" not in action.split(":", 1)[1][:-1], (
                action
            )
        if "*" in _as_list(statement["Resource"]):
            assert set(actions) <= RESOURCELESS_ACTIONS, statement


def test_bucket_wildcards_are_prefix_scoped(env: Any) -> None:
    for key, statements in role_statements(env).items():
        if key == "site_content":  # the web bucket alone (its own test above)
            continue
        for statement in statements:
            if not any(a.startswith("s3:") for a in _as_list(statement["Action"])):
                continue
            for resource in _as_list(statement["Resource"]):
                text = json.dumps(resource)
                if "*" in text:
                    assert text.endswith(
                        ('/athletes/*"]]}', '/tiles/*"]]}', '/athletes/*/explorer.json"]]}')
                    ), (
                        key,
                        text,
                    )
            if "s3:ListBucket" in _as_list(statement["Action"]):
                assert "DataBucketArn" in json.dumps(statement["Resource"])
                if key == "user":  # sync lists unconditioned so that missing keys are 404, not 403
                    assert statement["Condition"] == {"StringLike": {"s3:prefix": ["athletes/*", "tiles/*"]}}


def test_logs_only_to_own_log_group(env: Any) -> None:
    groups = env.resources("api", "AWS::Logs::LogGroup")
    for key, statements in role_statements(env).items():
        for statement in actions_on(statements, "logs:PutLogEvents"):
            group = statement["Resource"]["Fn::GetAtt"][0]
            assert groups[group]["Properties"]["LogGroupName"] == f"/aws/lambda/ridelines-{env.env}-{key}"
