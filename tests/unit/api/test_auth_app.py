"""Auth routes over in-memory ports: login, callback, refusal, upstream failure, discovery."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt as pyjwt
import pytest

from ridelines.api.events import http_api_event
from ridelines.api.observability import make_lambda_handler
from ridelines.auth.intervals_oauth import Athlete
from ridelines.errors import UpstreamError


def call(app: Any, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    return app.resolve(http_api_event(method, path, **kwargs), None)


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response["body"] else None


def start_login(app: Any, redirect_path: str | None = "/map") -> str:
    query = {"redirect_path": redirect_path} if redirect_path is not None else None
    response = call(app, "GET", "/auth/login", query=query)
    assert response["statusCode"] == 302
    return parse_qs(urlsplit(response["headers"]["Location"]).query)["state"][0]


def test_login_redirects_to_intervals_consent_with_a_stored_state(auth_app: Any, auth_deps: Any) -> None:
    response = call(auth_app, "GET", "/auth/login", query={"redirect_path": "/map"})
    assert response["statusCode"] == 302
    location = urlsplit(response["headers"]["Location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}" == "https://intervals.example/oauth/authorize"
    )
    query = parse_qs(location.query)
    assert query["client_id"] == ["ridelines-client"]
    assert query["redirect_uri"] == ["https://api.example/auth/callback"]
    assert query["scope"] == ["ACTIVITY:READ"]
    (state,) = query["state"]
    assert auth_deps.states.states[state][0] == "/map"
    assert response["headers"]["Cache-Control"] == "no-store"


def test_login_without_redirect_path_returns_home(auth_app: Any, auth_deps: Any) -> None:
    state = start_login(auth_app, None)
    assert auth_deps.states.states[state][0] == "/"


@pytest.mark.parametrize(
    "path",
    ["//evil.example", "https://evil.example", "/\\evil.example", "/%2F%2Fevil.example", "/%5Cevil.example"],
)
def test_open_redirect_is_refused_and_nothing_is_stored(auth_app: Any, auth_deps: Any, path: str) -> None:
    response = call(auth_app, "GET", "/auth/login", query={"redirect_path": path})
    assert response["statusCode"] == 400
    assert body(response)["error"] == "invalid_redirect_path"
    assert auth_deps.states.states == {}


def test_callback_logs_in_and_hands_the_jwt_in_the_fragment(
    auth_app: Any, auth_deps: Any, intervals: Any, signer: Any
) -> None:
    state = start_login(auth_app, "/map?year=2025")
    intervals.codes["c0de"] = Athlete("i1001", "Demo Rider")
    response = call(auth_app, "GET", "/auth/callback", query={"code": "c0de", "state": state})
    assert response["statusCode"] == 302
    location = response["headers"]["Location"]
    prefix = "https://app.example/map?year=2025#token="
    assert location.startswith(prefix)
    token = location[len(prefix) :]
    claims = pyjwt.decode(
        token,
        signer.public_key_pem(),
        algorithms=["RS256"],
        audience="ridelines",
        issuer="https://api.example/auth",
    )
    assert (claims["sub"], claims["name"]) == ("i1001", "Demo Rider")
    user = auth_deps.users.get("i1001")
    assert user.name == "Demo Rider"
    assert b"access-token-for-i1001" not in user.encrypted_token  # only ciphertext is stored
    assert auth_deps.cipher.decrypt(user.encrypted_token, "i1001") == "access-token-for-i1001"
    assert auth_deps.states.states == {}  # the state is used up


def test_second_login_keeps_created_at(auth_app: Any, auth_deps: Any, intervals: Any, clock: Any) -> None:
    for code in ("first", "second"):
        state = start_login(auth_app)
        intervals.codes[code] = Athlete("i1001", f"Rider {code}")
        assert (
            call(auth_app, "GET", "/auth/callback", query={"code": code, "state": state})["statusCode"] == 302
        )
        clock.advance(days=3)
    user = auth_deps.users.get("i1001")
    assert user.name == "Rider second"
    assert user.created_at == clock.now - timedelta(days=6)
    assert user.updated_at > user.created_at
    assert len(auth_deps.users.users) == 1


def test_replayed_state_is_refused(auth_app: Any, intervals: Any) -> None:
    state = start_login(auth_app)
    intervals.codes["one"] = Athlete("i1", "A")
    assert call(auth_app, "GET", "/auth/callback", query={"code": "one", "state": state})["statusCode"] == 302
    intervals.codes["two"] = Athlete("i1", "A")
    response = call(auth_app, "GET", "/auth/callback", query={"code": "two", "state": state})
    assert response["statusCode"] == 400
    assert body(response)["error"] == "invalid_state"
    assert "two" in intervals.codes  # the code was never exchanged


def test_expired_state_is_refused(auth_app: Any, intervals: Any, clock: Any) -> None:
    state = start_login(auth_app)
    clock.advance(minutes=10, seconds=1)
    intervals.codes["c"] = Athlete("i1", "A")
    response = call(auth_app, "GET", "/auth/callback", query={"code": "c", "state": state})
    assert (response["statusCode"], body(response)["error"]) == (400, "invalid_state")


def test_unknown_state_is_refused(auth_app: Any, intervals: Any) -> None:
    intervals.codes["c"] = Athlete("i1", "A")
    response = call(auth_app, "GET", "/auth/callback", query={"code": "c", "state": "A" * 43})
    assert (response["statusCode"], body(response)["error"]) == (400, "invalid_state")


def test_missing_code_is_refused_and_state_survives(auth_app: Any, auth_deps: Any) -> None:
    state = start_login(auth_app)
    response = call(auth_app, "GET", "/auth/callback", query={"state": state})
    assert response["statusCode"] == 400
    assert state in auth_deps.states.states


def test_access_denied_goes_back_to_the_frontend(auth_app: Any, auth_deps: Any) -> None:
    state = start_login(auth_app, "/map")
    response = call(auth_app, "GET", "/auth/callback", query={"error": "access_denied", "state": state})
    assert response["statusCode"] == 302
    assert response["headers"]["Location"] == "https://app.example/#error=access_denied"
    assert auth_deps.states.states == {}


def test_other_upstream_errors_are_not_reflected(auth_app: Any) -> None:
    response = call(auth_app, "GET", "/auth/callback", query={"error": "<script>alert(1)</script>"})
    assert response["headers"]["Location"] == "https://app.example/#error=login_failed"


def test_upstream_failure_is_502_json(auth_app: Any, intervals: Any, auth_deps: Any) -> None:
    state = start_login(auth_app)
    intervals.fail_with = UpstreamError("intervals.icu token exchange is unavailable (503)", status=503)
    response = call(auth_app, "GET", "/auth/callback", query={"code": "c", "state": state})
    assert response["statusCode"] == 502
    assert body(response) == {
        "error": "upstream_error",
        "message": "intervals.icu token exchange is unavailable (503)",
    }
    assert auth_deps.users.users == {}


def test_discovery_documents(auth_app: Any, signer: Any) -> None:
    config = call(auth_app, "GET", "/auth/.well-known/openid-configuration")
    assert config["statusCode"] == 200
    assert body(config)["jwks_uri"] == "https://api.example/auth/.well-known/jwks.json"
    jwks = call(auth_app, "GET", "/auth/.well-known/jwks.json")
    assert jwks["statusCode"] == 200
    assert "max-age" in jwks["headers"]["Cache-Control"]
    assert body(jwks)["keys"][0]["kid"] == signer.key_id


def test_unknown_route_is_json_404(auth_app: Any) -> None:
    response = call(auth_app, "GET", "/auth/nope")
    assert response["statusCode"] == 404
    assert body(response) == {"error": "not_found", "message": "no such route"}


def test_cors_only_for_the_frontend(auth_app: Any) -> None:
    ok = call(auth_app, "GET", "/auth/.well-known/jwks.json", headers={"Origin": "https://app.example"})
    assert ok["headers"]["Access-Control-Allow-Origin"] == "https://app.example"
    other = call(auth_app, "GET", "/auth/.well-known/jwks.json", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other["headers"]


def test_unexpected_error_is_a_bare_500(auth_app: Any, intervals: Any, json_logs: Any) -> None:
    state = start_login(auth_app)
    intervals.fail_with = RuntimeError("boom at /secret/path line 42")
    response = call(auth_app, "GET", "/auth/callback", query={"code": "c", "state": state})
    assert response["statusCode"] == 500
    assert body(response) == {"error": "internal_error", "message": "internal error"}
    assert "Traceback" not in response["body"] and "boom" not in response["body"]
    assert "boom at /secret/path" in json_logs.getvalue()  # the details stay in the logs


def test_handler_logs_json_without_tokens_or_secrets(
    auth_deps: Any, intervals: Any, lambda_context: Any, json_logs: Any
) -> None:
    from ridelines.api.auth_app import create_app

    handler = make_lambda_handler(lambda: create_app(auth_deps))
    login = handler(http_api_event("GET", "/auth/login", query={"redirect_path": "/"}), lambda_context)
    state = parse_qs(urlsplit(login["headers"]["Location"]).query)["state"][0]
    intervals.codes["c"] = Athlete("i1001", "Demo")
    response = handler(
        http_api_event("GET", "/auth/callback", query={"code": "c", "state": state}), lambda_context
    )
    jwt_token = response["headers"]["Location"].split("#token=")[1]
    logs = json_logs.getvalue()
    lines = [json.loads(line) for line in logs.splitlines()]
    assert any(
        line.get("message") == "login completed" and line.get("athlete_id") == "i1001" for line in lines
    )
    assert all("correlation_id" in line for line in lines if line.get("message") == "login completed")
    for secret in (jwt_token, "access-token-for-i1001", "client-secret-never-logged"):
        assert secret not in logs


def test_athlete_is_read_from_athlete_0_when_the_token_response_omits_it(
    auth_deps: Any, intervals: Any
) -> None:
    from ridelines.api.auth_app import create_app
    from ridelines.auth.intervals_oauth import TokenGrant

    asked: list[str] = []

    def exchange_code(code: str, credentials: Any) -> TokenGrant:
        return TokenGrant(access_token="bare-token", athlete=None)

    def get_self(access_token: str) -> Athlete:
        asked.append(access_token)
        return Athlete("i77", "From Athlete 0")

    intervals.exchange_code, intervals.get_self = exchange_code, get_self
    app = create_app(auth_deps)
    state = start_login(app)
    response = call(app, "GET", "/auth/callback", query={"code": "c", "state": state})
    assert response["statusCode"] == 302
    assert asked == ["bare-token"]
    assert auth_deps.users.get("i77").name == "From Athlete 0"
