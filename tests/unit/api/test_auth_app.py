"""Auth routes over in-memory ports: login bound to the browser, cookie sessions, logout, discovery."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt as pyjwt
import pytest

from ridelines.api.events import http_api_event
from ridelines.api.observability import make_lambda_handler
from ridelines.auth.cookies import SESSION_COOKIE, STATE_COOKIE
from ridelines.auth.intervals_oauth import Athlete
from ridelines.auth.state import binding_hash
from ridelines.auth.tiles_cookies import TILES_COOKIE_NAMES
from ridelines.errors import UpstreamError

from .conftest import SITE, parse_set_cookies

ISSUER = f"{SITE}/auth"


def call(app: Any, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    return app.resolve(http_api_event(method, path, **kwargs), None)


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response["body"] else None


def state_of(response: dict[str, Any]) -> str:
    return parse_qs(urlsplit(response["headers"]["Location"]).query)["state"][0]


def start_login(browser: Any, redirect_path: str | None = "/map") -> str:
    query = {"redirect_path": redirect_path} if redirect_path is not None else None
    response = browser.request("GET", "/auth/login", query=query)
    assert response["statusCode"] == 302
    return state_of(response)


def test_login_redirects_to_consent_and_binds_the_state_to_this_browser(
    auth_app: Any, auth_deps: Any
) -> None:
    response = call(auth_app, "GET", "/auth/login", query={"redirect_path": "/map"})
    assert response["statusCode"] == 302
    location = urlsplit(response["headers"]["Location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}" == "https://intervals.example/oauth/authorize"
    )
    query = parse_qs(location.query)
    assert query["client_id"] == ["ridelines-client"]
    assert query["redirect_uri"] == [f"{SITE}/auth/callback"]
    assert query["scope"] == ["ACTIVITY:READ"]
    (state,) = query["state"]
    cookie = parse_set_cookies(response)[STATE_COOKIE]
    assert {k: v for k, v in cookie.items() if k != "value"} == {
        "path": "/",
        "max-age": "600",
        "httponly": "",
        "secure": "",
        "samesite": "Lax",
    }
    binding = cookie["value"]
    assert len(binding) >= 22 and binding != state
    path, _expiry, stored_hash = auth_deps.states.states[state]
    assert path == "/map"
    assert stored_hash == binding_hash(binding) and binding not in stored_hash  # only the hash is stored
    assert response["headers"]["Cache-Control"] == "no-store"


def test_login_without_redirect_path_returns_home(new_browser: Any, auth_deps: Any) -> None:
    state = start_login(new_browser(), None)
    assert auth_deps.states.states[state][0] == "/"


@pytest.mark.parametrize(
    "path",
    ["//evil.example", "https://evil.example", "/\\evil.example", "/%2F%2Fevil.example", "/%5Cevil.example"],
)
def test_open_redirect_is_refused_and_nothing_is_stored(auth_app: Any, auth_deps: Any, path: str) -> None:
    response = call(auth_app, "GET", "/auth/login", query={"redirect_path": path})
    assert response["statusCode"] == 400
    assert body(response)["error"] == "invalid_redirect_path"
    assert auth_deps.states.states == {} and not response.get("cookies")


def test_callback_sets_the_session_and_tiles_cookies_and_puts_no_token_in_the_url(
    new_browser: Any, auth_deps: Any, intervals: Any, signer: Any, tiles_signer: Any, clock: Any
) -> None:
    browser = new_browser()
    state = start_login(browser, "/map?year=2025")
    intervals.codes["c0de"] = Athlete("i1001", "Demo Rider")
    response = browser.request("GET", "/auth/callback", query={"code": "c0de", "state": state})
    assert response["statusCode"] == 302
    assert response["headers"]["Location"] == f"{SITE}/map?year=2025"  # no fragment, no token
    cookies = parse_set_cookies(response)
    session = cookies[SESSION_COOKIE]
    assert {k: v for k, v in session.items() if k != "value"} == {
        "path": "/",
        "max-age": str(12 * 3600),
        "httponly": "",
        "secure": "",
        "samesite": "Strict",
    }
    claims = pyjwt.decode(
        session["value"], signer.public_key_pem(), algorithms=["RS256"], audience="ridelines", issuer=ISSUER
    )
    assert (claims["sub"], claims["name"]) == ("i1001", "Demo Rider")
    assert claims["exp"] - claims["iat"] == 12 * 3600
    assert cookies[STATE_COOKIE]["max-age"] == "0"  # the binding is used up
    for name in TILES_COOKIE_NAMES:
        tile_cookie = cookies[name]
        assert tile_cookie["path"] == "/tiles/i1001/"
        assert "httponly" in tile_cookie and "secure" in tile_cookie and tile_cookie["samesite"] == "Strict"
        assert int(tile_cookie["max-age"]) <= 12 * 3600  # never outlives the session
    assert cookies["CloudFront-Key-Pair-Id"]["value"] == "K2TESTKEYPAIR"
    assert cookies["CloudFront-Hash-Algorithm"]["value"] == "SHA256"
    user = auth_deps.users.get("i1001")
    assert user.name == "Demo Rider"
    assert b"access-token-for-i1001" not in user.encrypted_token  # only ciphertext is stored
    assert auth_deps.cipher.decrypt(user.encrypted_token, "i1001") == "access-token-for-i1001"
    assert auth_deps.states.states == {}  # the state is used up
    assert browser.request("GET", "/api/user")["statusCode"] == 200  # the cookie is the session


def test_login_csrf_attackers_callback_in_the_victims_browser_is_refused(
    new_browser: Any, auth_deps: Any, intervals: Any
) -> None:
    attacker, victim = new_browser(), new_browser()
    state = start_login(attacker)  # the attacker consents with their own account...
    intervals.codes["attacker-code"] = Athlete("i6666", "Attacker")
    callback = {"code": "attacker-code", "state": state}
    # ...and makes the victim's browser open the callback: without a state cookie,
    refused = victim.request("GET", "/auth/callback", query=callback)
    assert (refused["statusCode"], body(refused)["error"]) == (400, "state_not_bound_to_this_browser")
    # and with the victim's own (different) state cookie from a login they started themselves.
    start_login(victim)
    refused = victim.request("GET", "/auth/callback", query=callback)
    assert (refused["statusCode"], body(refused)["error"]) == (400, "state_not_bound_to_this_browser")
    assert SESSION_COOKIE not in victim.cookies_for("/")
    assert auth_deps.users.users == {} and "attacker-code" in intervals.codes  # nothing stored, no exchange
    assert state in auth_deps.states.states  # nor consumed


def test_a_leaked_callback_url_replayed_from_a_second_client_is_refused(
    new_browser: Any, auth_deps: Any, intervals: Any
) -> None:
    rider, eavesdropper = new_browser(), new_browser()
    state = start_login(rider)
    intervals.codes["c"] = Athlete("i1001", "Rider")
    callback = {"code": "c", "state": state}
    early = eavesdropper.request("GET", "/auth/callback", query=callback)  # before the rider
    assert early["statusCode"] == 400 and auth_deps.users.users == {}
    assert rider.request("GET", "/auth/callback", query=callback)["statusCode"] == 302  # rider unaffected
    late = eavesdropper.request("GET", "/auth/callback", query=callback)  # and after
    assert (late["statusCode"], body(late)["error"]) in (
        (400, "invalid_state"),
        (400, "state_not_bound_to_this_browser"),
    )
    assert SESSION_COOKIE not in eavesdropper.cookies_for("/")


def test_second_login_keeps_created_at(new_browser: Any, auth_deps: Any, intervals: Any, clock: Any) -> None:
    browser = new_browser()
    for code in ("first", "second"):
        state = start_login(browser)
        intervals.codes[code] = Athlete("i1001", f"Rider {code}")
        assert (
            browser.request("GET", "/auth/callback", query={"code": code, "state": state})["statusCode"]
            == 302
        )
        clock.advance(days=3)
    user = auth_deps.users.get("i1001")
    assert user.name == "Rider second"
    assert user.created_at == clock.now - timedelta(days=6)
    assert user.updated_at > user.created_at
    assert len(auth_deps.users.users) == 1


def test_replayed_state_is_refused(new_browser: Any, intervals: Any) -> None:
    browser = new_browser()
    state = start_login(browser)
    binding = browser.cookies_for("/auth/callback")[STATE_COOKIE]
    intervals.codes["one"] = Athlete("i1", "A")
    assert (
        browser.request("GET", "/auth/callback", query={"code": "one", "state": state})["statusCode"] == 302
    )
    browser.jar[(STATE_COOKIE, "/")] = binding  # even with the very cookie that was used
    intervals.codes["two"] = Athlete("i1", "A")
    response = browser.request("GET", "/auth/callback", query={"code": "two", "state": state})
    assert response["statusCode"] == 400
    assert body(response)["error"] == "invalid_state"
    assert "two" in intervals.codes  # the code was never exchanged


def test_expired_state_is_refused(new_browser: Any, intervals: Any, clock: Any, auth_deps: Any) -> None:
    browser = new_browser()
    state = start_login(browser)
    clock.advance(minutes=10, seconds=1)
    intervals.codes["c"] = Athlete("i1", "A")
    response = browser.request("GET", "/auth/callback", query={"code": "c", "state": state})
    assert (response["statusCode"], body(response)["error"]) == (400, "invalid_state")
    assert auth_deps.users.users == {}


def test_unknown_state_is_refused(new_browser: Any, intervals: Any) -> None:
    browser = new_browser()
    start_login(browser)
    intervals.codes["c"] = Athlete("i1", "A")
    response = browser.request("GET", "/auth/callback", query={"code": "c", "state": "A" * 43})
    assert (response["statusCode"], body(response)["error"]) == (400, "invalid_state")


def test_missing_code_is_refused_and_state_survives(new_browser: Any, auth_deps: Any) -> None:
    browser = new_browser()
    state = start_login(browser)
    response = browser.request("GET", "/auth/callback", query={"state": state})
    assert response["statusCode"] == 400
    assert state in auth_deps.states.states


def test_access_denied_goes_home_and_clears_the_state(new_browser: Any, auth_deps: Any) -> None:
    browser = new_browser()
    state = start_login(browser, "/map")
    response = browser.request("GET", "/auth/callback", query={"error": "access_denied", "state": state})
    assert response["statusCode"] == 302
    assert response["headers"]["Location"] == f"{SITE}/?login=denied"
    assert parse_set_cookies(response)[STATE_COOKIE]["max-age"] == "0"
    assert auth_deps.states.states == {}


def test_other_upstream_errors_are_not_reflected(auth_app: Any) -> None:
    response = call(auth_app, "GET", "/auth/callback", query={"error": "<script>alert(1)</script>"})
    assert response["headers"]["Location"] == f"{SITE}/?login=failed"


def test_upstream_failure_is_502_json(new_browser: Any, intervals: Any, auth_deps: Any) -> None:
    browser = new_browser()
    state = start_login(browser)
    intervals.fail_with = UpstreamError("intervals.icu token exchange is unavailable (503)", status=503)
    response = browser.request("GET", "/auth/callback", query={"code": "c", "state": state})
    assert response["statusCode"] == 502
    assert body(response) == {
        "error": "upstream_error",
        "message": "intervals.icu token exchange is unavailable (503)",
    }
    assert auth_deps.users.users == {} and not response.get("cookies")


def test_an_over_long_cookie_header_is_a_clear_4xx(new_browser: Any, auth_deps: Any, intervals: Any) -> None:
    browser = new_browser()
    state = start_login(browser)
    browser.jar[("junk", "/")] = "x" * 9000
    intervals.codes["c"] = Athlete("i1", "A")
    response = browser.request("GET", "/auth/callback", query={"code": "c", "state": state})
    assert (response["statusCode"], body(response)["error"]) == (400, "cookie_header_too_large")
    assert auth_deps.users.users == {} and state in auth_deps.states.states
    logout = browser.request("POST", "/auth/logout")
    assert (logout["statusCode"], body(logout)["error"]) == (400, "cookie_header_too_large")


def test_discovery_documents(auth_app: Any, signer: Any) -> None:
    config = call(auth_app, "GET", "/auth/.well-known/openid-configuration")
    assert config["statusCode"] == 200
    assert body(config)["issuer"] == ISSUER
    assert body(config)["jwks_uri"] == f"{SITE}/auth/.well-known/jwks.json"
    jwks = call(auth_app, "GET", "/auth/.well-known/jwks.json")
    assert jwks["statusCode"] == 200
    assert "max-age" in jwks["headers"]["Cache-Control"]
    assert body(jwks)["keys"][0]["kid"] == signer.key_id


def test_unknown_route_is_json_404(auth_app: Any) -> None:
    response = call(auth_app, "GET", "/auth/nope")
    assert response["statusCode"] == 404
    assert body(response) == {"error": "not_found", "message": "no such route"}


def test_no_cors_for_anyone(auth_app: Any) -> None:
    for origin in (SITE, "https://evil.example"):
        answer = call(auth_app, "GET", "/auth/.well-known/jwks.json", headers={"Origin": origin})
        assert not any(h.lower().startswith("access-control-") for h in answer["headers"])


def test_unexpected_error_is_a_bare_500(new_browser: Any, intervals: Any, json_logs: Any) -> None:
    browser = new_browser()
    state = start_login(browser)
    intervals.fail_with = RuntimeError("boom at /secret/path line 42")
    response = browser.request("GET", "/auth/callback", query={"code": "c", "state": state})
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
    binding = parse_set_cookies(login)[STATE_COOKIE]["value"]
    intervals.codes["c"] = Athlete("i1001", "Demo")
    response = handler(
        http_api_event(
            "GET",
            "/auth/callback",
            query={"code": "c", "state": state_of(login)},
            cookies={STATE_COOKIE: binding},
        ),
        lambda_context,
    )
    jwt_token = parse_set_cookies(response)[SESSION_COOKIE]["value"]
    logs = json_logs.getvalue()
    lines = [json.loads(line) for line in logs.splitlines()]
    assert any(
        line.get("message") == "login completed" and line.get("athlete_id") == "i1001" for line in lines
    )
    assert all("correlation_id" in line for line in lines if line.get("message") == "login completed")
    signature = parse_set_cookies(response)["CloudFront-Signature"]["value"]
    for secret in (jwt_token, binding, signature, "access-token-for-i1001", "client-secret-never-logged"):
        assert secret not in logs


def test_athlete_is_read_from_athlete_0_when_the_token_response_omits_it(
    auth_deps: Any, intervals: Any, new_browser: Any
) -> None:
    from ridelines.auth.intervals_oauth import TokenGrant

    asked: list[str] = []

    def exchange_code(code: str, credentials: Any) -> TokenGrant:
        return TokenGrant(access_token="bare-token", athlete=None)

    def get_self(access_token: str) -> Athlete:
        asked.append(access_token)
        return Athlete("i77", "From Athlete 0")

    intervals.exchange_code, intervals.get_self = exchange_code, get_self
    browser = new_browser()
    state = start_login(browser)
    response = browser.request("GET", "/auth/callback", query={"code": "c", "state": state})
    assert response["statusCode"] == 302
    assert asked == ["bare-token"]
    assert auth_deps.users.get("i77").name == "From Athlete 0"
