from __future__ import annotations

import base64
import json

from ridelines_local.localstack.events import Route, build_event, parse_result, select_route, stringify_claims

ROUTES = [
    Route("GET /auth/{proxy+}", "auth", False),
    Route("ANY /api/{proxy+}", "user", True),
    Route("GET /api/user", "user", True),
    Route("POST /api/sync", "user", True),
]


def test_most_specific_route_wins_like_api_gateway() -> None:
    assert select_route(ROUTES, "GET", "/api/user")[0].route_key == "GET /api/user"
    route, params = select_route(ROUTES, "DELETE", "/api/user")
    assert route.route_key == "ANY /api/{proxy+}" and params == {"proxy": "user"}
    route, params = select_route(ROUTES, "GET", "/auth/.well-known/jwks.json")
    assert params == {"proxy": ".well-known/jwks.json"}
    assert select_route(ROUTES, "POST", "/auth/login") is None
    assert select_route(ROUTES, "GET", "/index.html") is None
    assert select_route(ROUTES, "GET", "/api") is None  # {proxy+} needs at least one segment


def test_event_has_the_payload_2_shape() -> None:
    event = build_event(
        method="POST",
        path="/api/sync",
        raw_query="a=1&a=2&b=",
        headers=[
            ("Host", "127.0.0.1:8000"),
            ("Content-Type", "application/json"),
            ("Cookie", "x=1; y=2"),
            ("X-Multi", "p"),
            ("x-multi", "q"),
        ],
        body=b'{"full": true}',
        source_ip="127.0.0.1",
        route_key="POST /api/sync",
        claims={"sub": "i1001", "exp": 1700000000, "aud": ["ridelines"]},
        now=1700000000.5,
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /api/sync"
    assert event["rawPath"] == "/api/sync" and event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-multi"] == "p,q"
    assert "cookie" not in event["headers"] and event["cookies"] == ["x=1", "y=2"]
    assert event["body"] == '{"full": true}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "POST",
        "path": "/api/sync",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "",
    }
    assert ctx["stage"] == "$default" and ctx["requestId"] and ctx["timeEpoch"] == 1700000000500
    assert ctx["authorizer"]["jwt"]["claims"] == {"sub": "i1001", "exp": "1700000000", "aud": "[ridelines]"}


def test_binary_bodies_are_base64_and_public_routes_have_no_authorizer() -> None:
    event = build_event(
        method="PUT",
        path="/x",
        raw_query="",
        headers=[("Content-Type", "application/octet-stream")],
        body=b"\x00\xff",
        source_ip="::1",
        route_key="$default",
    )
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff"
    assert "authorizer" not in event["requestContext"]
    assert "queryStringParameters" not in event and "cookies" not in event


def test_results_become_http_responses() -> None:
    response = parse_result(
        {"statusCode": 302, "headers": {"Location": "/x"}, "cookies": ["a=b"], "body": ""}
    )
    assert (
        response.status == 302
        and ("Location", "/x") in response.headers
        and ("Set-Cookie", "a=b") in response.headers
    )
    binary = parse_result(
        {"statusCode": 200, "body": base64.b64encode(b"\x01").decode(), "isBase64Encoded": True}
    )
    assert binary.body == b"\x01"
    bare = parse_result({"hello": "world"})  # no statusCode: API Gateway assumes 200 JSON
    assert bare.status == 200 and json.loads(bare.body) == {"hello": "world"}


def test_claims_are_strings_like_api_gateway_passes_them() -> None:
    assert stringify_claims({"b": True, "n": 1.5, "d": {"k": 1}}) == {"b": "true", "n": "1.5", "d": '{"k":1}'}
