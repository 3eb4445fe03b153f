"""User handler end to end: a real login issues the JWT, the authorizer's rules (JwtVerifier against the
served JWKS) turn it into claims, the user handler acts on moto + the stand-in."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ridelines.adapters.memory import RecordingInvoker
from ridelines.api.observability import make_lambda_handler
from ridelines.api.user_app import UserDeps, create_app
from ridelines.auth.verify import JwtVerifier

ISSUER = "https://site.example/auth"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


@pytest.fixture
def recorder() -> RecordingInvoker:
    return RecordingInvoker()


@pytest.fixture
def user_api(env: Any, recorder: RecordingInvoker) -> Any:
    """The user handler as the local stack builds it: AWS adapters from the environment, except the
    invoker (moto cannot run a Lambda), which records the async payloads."""
    return make_lambda_handler(lambda: create_app(UserDeps.from_environment(invoker=recorder)))


@pytest.fixture
def authorize(invoke: Any, auth_handler: Any, lambda_context: Any) -> Any:
    """Like API Gateway's JWT authorizer: verify the bearer token against the served JWKS -> claims."""

    def run(token: str) -> dict[str, Any]:
        jwks = body(invoke(auth_handler, lambda_context, "GET", "/auth/.well-known/jwks.json"))
        return JwtVerifier(jwks, issuer=ISSUER).verify_authorization_header(f"Bearer {token}")

    return run


@pytest.fixture
def rider(login: Any, authorize: Any) -> Any:
    def run(athlete_id: str) -> dict[str, Any]:
        return authorize(login(athlete_id).token)

    return run


def test_profile_of_the_logged_in_rider(rider: Any, user_api: Any, invoke: Any, lambda_context: Any) -> None:
    claims = rider("i1001")
    response = invoke(user_api, lambda_context, "GET", "/api/user", claims=claims)
    assert response["statusCode"] == 200
    profile = body(response)
    assert (profile["athlete_id"], profile["name"], profile["tiles_url"], profile["last_sync"]) == (
        "i1001",
        "Rider A",
        None,
        None,
    )
    assert profile["created_at"].endswith("Z")


def test_no_claims_is_401(user_api: Any, invoke: Any, lambda_context: Any, env: Any) -> None:
    response = invoke(user_api, lambda_context, "GET", "/api/user")
    assert (response["statusCode"], body(response)["error"]) == (401, "unauthorized")


def test_sync_is_queued_once_then_409(
    rider: Any, user_api: Any, invoke: Any, lambda_context: Any, recorder: RecordingInvoker, env: Any
) -> None:
    claims = rider("i1001")
    first = invoke(user_api, lambda_context, "POST", "/api/sync", claims=claims, body='{"full": false}')
    assert first["statusCode"] == 202
    sync_id = body(first)["sync_id"]
    assert recorder.payloads == [{"athlete_id": "i1001", "sync_id": sync_id, "full": False}]
    second = invoke(user_api, lambda_context, "POST", "/api/sync", claims=claims)
    assert second["statusCode"] == 409
    assert body(second)["sync_id"] == sync_id and body(second)["error"] == "sync_in_progress"
    assert len(recorder.payloads) == 1
    status = invoke(user_api, lambda_context, "GET", "/api/sync", claims=claims)
    assert status["statusCode"] == 200
    assert (body(status)["sync_id"], body(status)["status"]) == (sync_id, "queued")


def test_get_sync_is_404_before_any_sync(rider: Any, user_api: Any, invoke: Any, lambda_context: Any) -> None:
    response = invoke(user_api, lambda_context, "GET", "/api/sync", claims=rider("i1001"))
    assert response["statusCode"] == 404


def test_bad_sync_body_is_400_and_stores_nothing(
    rider: Any, user_api: Any, invoke: Any, lambda_context: Any, recorder: RecordingInvoker, env: Any
) -> None:
    response = invoke(
        user_api, lambda_context, "POST", "/api/sync", claims=rider("i1001"), body='{"full": "please"}'
    )
    assert response["statusCode"] == 400
    assert env.dynamodb.scan(TableName="syncs")["Count"] == 0 and recorder.payloads == []


def test_rider_a_cannot_read_sync_or_delete_rider_b(
    rider: Any,
    user_api: Any,
    invoke: Any,
    lambda_context: Any,
    recorder: RecordingInvoker,
    env: Any,
    standin: Any,
) -> None:
    a, b = rider("i1001"), rider("i2002")
    env.s3.put_object(Bucket=env.bucket, Key="tiles/i2002/b.pmtiles", Body=b"B")
    b_token_count = len(standin.tokens)
    sneaky = {"query": {"athlete_id": "i2002"}, "headers": {"x-athlete-id": "i2002"}}
    profile = body(invoke(user_api, lambda_context, "GET", "/api/user", claims=a, **sneaky))
    assert profile["athlete_id"] == "i1001"
    assert (
        invoke(
            user_api, lambda_context, "POST", "/api/sync", claims=a, body='{"athlete_id": "i2002"}', **sneaky
        )["statusCode"]
        == 400
    )
    assert invoke(user_api, lambda_context, "POST", "/api/sync", claims=a, **sneaky)["statusCode"] == 202
    assert [p["athlete_id"] for p in recorder.payloads] == ["i1001"]
    assert invoke(user_api, lambda_context, "DELETE", "/api/user", claims=a, **sneaky)["statusCode"] == 204
    # B is untouched: row, files, and B's intervals.icu access
    assert "Item" in env.dynamodb.get_item(TableName="users", Key={"athlete_id": {"S": "i2002"}})
    assert env.s3.get_object(Bucket=env.bucket, Key="tiles/i2002/b.pmtiles")["Body"].read() == b"B"
    assert len(standin.tokens) == b_token_count - 1
    assert "i2002" in standin.tokens.values() and "i1001" not in standin.tokens.values()
    assert body(invoke(user_api, lambda_context, "GET", "/api/user", claims=b))["athlete_id"] == "i2002"


def test_delete_erases_rows_files_tiles_and_disconnects(
    rider: Any, user_api: Any, invoke: Any, lambda_context: Any, env: Any, standin: Any
) -> None:
    claims = rider("i1001")
    assert invoke(user_api, lambda_context, "POST", "/api/sync", claims=claims)["statusCode"] == 202
    for key in (
        "athletes/i1001/activities.index",
        "athletes/i1001/activities.geojson.zst",
        "tiles/i1001/0123abcd.pmtiles",
        "athletes/i10010/keep.index",
    ):
        env.s3.put_object(Bucket=env.bucket, Key=key, Body=b"x")
    env.dynamodb.update_item(
        TableName="users",
        Key={"athlete_id": {"S": "i1001"}},
        UpdateExpression="SET tiles_key = :k",
        ExpressionAttributeValues={":k": {"S": "tiles/i1001/0123abcd.pmtiles"}},
    )
    assert body(invoke(user_api, lambda_context, "GET", "/api/user", claims=claims))["tiles_url"] == (
        "/tiles/i1001/0123abcd.pmtiles"
    )

    response = invoke(user_api, lambda_context, "DELETE", "/api/user", claims=claims)
    assert response["statusCode"] == 204
    assert "Item" not in env.dynamodb.get_item(TableName="users", Key={"athlete_id": {"S": "i1001"}})
    assert "Item" not in env.dynamodb.get_item(TableName="syncs", Key={"athlete_id": {"S": "i1001"}})
    keys = [o["Key"] for o in env.s3.list_objects_v2(Bucket=env.bucket).get("Contents", [])]
    assert keys == ["athletes/i10010/keep.index"]  # a prefix, not a substring: i10010 is someone else
    assert standin.count("DELETE", "/api/v1/disconnect-app") == 1
    assert "i1001" not in standin.tokens.values()  # revoked at intervals.icu
    invalidations = boto3.client("cloudfront").list_invalidations(DistributionId=env.distribution_id)
    items = invalidations["InvalidationList"].get("Items", [])
    assert len(items) == 1
    detail = boto3.client("cloudfront").get_invalidation(
        DistributionId=env.distribution_id, Id=items[0]["Id"]
    )
    assert detail["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/tiles/i1001/*"]
    # the rider is gone: the still-valid JWT reaches nothing
    assert invoke(user_api, lambda_context, "GET", "/api/user", claims=claims)["statusCode"] == 404


def test_delete_after_revocation_elsewhere_still_erases(
    rider: Any, user_api: Any, invoke: Any, lambda_context: Any, env: Any, standin: Any
) -> None:
    claims = rider("i1001")
    standin.tokens.clear()  # the rider revoked the app at intervals.icu: disconnect-app answers 401
    assert invoke(user_api, lambda_context, "DELETE", "/api/user", claims=claims)["statusCode"] == 204
    assert "Item" not in env.dynamodb.get_item(TableName="users", Key={"athlete_id": {"S": "i1001"}})


def test_delete_with_intervals_down_is_502_and_keeps_data(
    rider: Any, user_api: Any, invoke: Any, lambda_context: Any, env: Any, standin: Any
) -> None:
    claims = rider("i1001")
    env.s3.put_object(Bucket=env.bucket, Key="tiles/i1001/t.pmtiles", Body=b"x")
    standin.faults.inject(r"/api/v1/disconnect-app", "503")
    response = invoke(user_api, lambda_context, "DELETE", "/api/user", claims=claims)
    assert (response["statusCode"], body(response)["error"]) == (502, "upstream_error")
    assert "Item" in env.dynamodb.get_item(TableName="users", Key={"athlete_id": {"S": "i1001"}})
    assert env.s3.get_object(Bucket=env.bucket, Key="tiles/i1001/t.pmtiles")


def test_no_token_in_logs_or_bodies(
    rider: Any, user_api: Any, invoke: Any, lambda_context: Any, standin: Any, json_logs: Any
) -> None:
    claims = rider("i1001")
    tokens = list(standin.tokens)
    responses = [
        invoke(user_api, lambda_context, m, p, claims=claims)
        for m, p in (
            ("GET", "/api/user"),
            ("POST", "/api/sync"),
            ("POST", "/api/sync"),
            ("GET", "/api/sync"),
            ("DELETE", "/api/user"),
        )
    ]
    logs = json_logs.getvalue()
    assert '"athlete_id":"i1001"' in logs
    for secret in [*tokens, "it-client-secret-never-logged"]:
        assert secret not in logs
        assert all(secret not in (r.get("body") or "") for r in responses)


def test_logout_on_dynamodb_ends_the_session_to_the_millisecond(
    login: Any, authorize: Any, user_api: Any, invoke: Any, auth_handler: Any, lambda_context: Any, env: Any
) -> None:
    from ridelines.auth.cookies import SESSION_COOKIE

    done = login("i1001")
    claims = authorize(done.token)
    assert invoke(user_api, lambda_context, "GET", "/api/user", claims=claims)["statusCode"] == 200
    evil = invoke(
        auth_handler,
        lambda_context,
        "POST",
        "/auth/logout",
        cookies={SESSION_COOKIE: done.token},
        headers={"Origin": "https://evil.example"},
    )
    assert (evil["statusCode"], body(evil)["error"]) == (403, "foreign_origin")
    item = env.dynamodb.get_item(TableName="users", Key={"athlete_id": {"S": "i1001"}})["Item"]
    created_floor = int(item["sessions_valid_after"]["N"])
    assert created_floor < int(claims["iat_ms"])  # the login's own session is valid
    out = invoke(
        auth_handler,
        lambda_context,
        "POST",
        "/auth/logout",
        cookies={SESSION_COOKIE: done.token},
        headers={"Origin": "https://site.example"},
    )
    assert out["statusCode"] == 204
    item = env.dynamodb.get_item(TableName="users", Key={"athlete_id": {"S": "i1001"}})["Item"]
    assert int(item["sessions_valid_after"]["N"]) >= int(claims["iat_ms"])
    refused = invoke(user_api, lambda_context, "GET", "/api/user", claims=claims)
    assert (refused["statusCode"], body(refused)["error"]) == (401, "session_ended")
    again = authorize(login("i1001").token)  # right after: a new session works
    assert invoke(user_api, lambda_context, "GET", "/api/user", claims=again)["statusCode"] == 200


def test_a_session_from_before_an_account_deletion_stays_dead(
    rider: Any, user_api: Any, invoke: Any, lambda_context: Any
) -> None:
    old = rider("i1001")
    assert invoke(user_api, lambda_context, "DELETE", "/api/user", claims=old)["statusCode"] == 204
    new = rider("i1001")
    assert invoke(user_api, lambda_context, "GET", "/api/user", claims=new)["statusCode"] == 200
    refused = invoke(user_api, lambda_context, "GET", "/api/user", claims=old)
    assert (refused["statusCode"], body(refused)["error"]) == (401, "session_ended")
