"""Cookie sessions end to end over the two apps: logout, revocation (incl. the same second), account
deletion, CSRF by Origin, forged or stale session cookies."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ridelines.auth.cookies import SESSION_COOKIE, STATE_COOKIE
from ridelines.auth.intervals_oauth import Athlete
from ridelines.auth.sessions import ensure_current, epoch_ms, from_epoch_ms, issued_at_ms
from ridelines.auth.tiles_cookies import TILES_COOKIE_NAMES
from ridelines.errors import Unauthorized

from .conftest import SITE, parse_set_cookies

EVIL = "https://evil.example"


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


def log_in(browser: Any, intervals: Any, athlete_id: str = "i1001", code: str = "code") -> str:
    start = browser.request("GET", "/auth/login", query={"redirect_path": "/"})
    state = parse_qs(urlsplit(start["headers"]["Location"]).query)["state"][0]
    intervals.codes[code] = Athlete(athlete_id, "Rider")
    done = browser.request("GET", "/auth/callback", query={"code": code, "state": state})
    assert done["statusCode"] == 302, done
    return str(browser.cookies_for("/")[SESSION_COOKIE])


def test_logout_ends_the_session_and_clears_every_cookie(
    new_browser: Any, intervals: Any, users: Any, clock: Any
) -> None:
    browser = new_browser()
    token = log_in(browser, intervals)
    assert browser.cookies_for("/tiles/i1001/x.pmtiles").keys() >= set(TILES_COOKIE_NAMES)
    clock.advance(milliseconds=250)
    response = browser.request("POST", "/auth/logout", headers={"Origin": SITE})
    assert response["statusCode"] == 204 and response["body"] == ""
    cleared = parse_set_cookies(response)
    assert {SESSION_COOKIE, STATE_COOKIE, *TILES_COOKIE_NAMES} <= set(cleared)
    assert all(entry["max-age"] == "0" for entry in cleared.values())
    assert cleared["CloudFront-Policy"]["path"] == "/tiles/i1001/"
    assert browser.jar == {}
    assert users.get("i1001").sessions_valid_after == from_epoch_ms(epoch_ms(clock()))
    # The token itself (a copy kept by a script, another tab) no longer works anywhere.
    stale = browser.request("GET", "/api/user", bearer=token)
    assert (stale["statusCode"], body(stale)["error"]) == (401, "session_ended")
    again = browser.request("POST", "/auth/logout", bearer=token)
    assert again["statusCode"] == 401


def test_a_token_from_the_same_second_as_the_logout_dies_and_a_new_login_right_after_works(
    new_browser: Any, intervals: Any, clock: Any
) -> None:
    clock.now = clock.now.replace(microsecond=100_000)
    phone, laptop = new_browser(), new_browser()
    old = log_in(phone, intervals, code="phone")
    clock.advance(milliseconds=200)
    log_in(laptop, intervals, code="laptop")
    clock.advance(milliseconds=200)  # still the same second as both logins
    assert laptop.request("POST", "/auth/logout")["statusCode"] == 204
    assert phone.request("GET", "/api/user", bearer=old)["statusCode"] == 401
    clock.advance(milliseconds=200)  # the same second again
    fresh = log_in(phone, intervals, code="phone-again")
    assert phone.request("GET", "/api/user", bearer=fresh)["statusCode"] == 200
    assert phone.request("GET", "/api/user", bearer=old)["statusCode"] == 401


def test_logout_with_a_bearer_token_works_for_scripts(new_browser: Any, intervals: Any, users: Any) -> None:
    token = log_in(new_browser(), intervals)
    script = new_browser()
    assert script.request("POST", "/auth/logout", bearer=token)["statusCode"] == 204
    assert users.get("i1001").sessions_valid_after is not None


@pytest.mark.parametrize("how", ["none", "garbage", "tampered", "expired"])
def test_logout_without_a_valid_session_is_401_and_changes_nothing(
    new_browser: Any, intervals: Any, users: Any, clock: Any, how: str
) -> None:
    browser = new_browser()
    token = log_in(browser, intervals)
    before = users.get("i1001").sessions_valid_after
    if how == "none":
        browser.jar.clear()
    elif how == "garbage":
        browser.jar[(SESSION_COOKIE, "/")] = "not-a-jwt"
    elif how == "tampered":
        header, payload, signature = token.split(".")
        browser.jar[(SESSION_COOKIE, "/")] = ".".join([header, payload[:-2] + "AA", signature])
    else:
        clock.advance(hours=12, seconds=1)
    response = browser.request("POST", "/auth/logout")
    assert response["statusCode"] == 401 and body(response)["error"] == "unauthorized"
    assert users.get("i1001").sessions_valid_after == before


def test_a_token_from_before_an_account_deletion_is_refused_after_the_rider_logs_in_again(
    new_browser: Any, intervals: Any, clock: Any
) -> None:
    browser = new_browser()
    old = log_in(browser, intervals)
    clock.advance(milliseconds=10)
    deleted = browser.request("DELETE", "/api/user", headers={"Origin": SITE})
    assert deleted["statusCode"] == 204
    assert parse_set_cookies(deleted)[SESSION_COOKIE]["max-age"] == "0"
    clock.advance(milliseconds=10)  # the same second, again
    new = log_in(browser, intervals, code="back")
    assert browser.request("GET", "/api/user", bearer=new)["statusCode"] == 200
    refused = browser.request("GET", "/api/user", bearer=old)
    assert (refused["statusCode"], body(refused)["error"]) == (401, "session_ended")


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/sync"), ("DELETE", "/api/user"), ("POST", "/auth/logout")]
)
def test_a_foreign_origin_is_refused_before_anything_is_stored(
    new_browser: Any, intervals: Any, user_deps: Any, users: Any, method: str, path: str
) -> None:
    browser = new_browser()
    log_in(browser, intervals)
    before = users.get("i1001")
    for origin in (EVIL, "null", f"{SITE}.evil.example", "http://site.example"):
        response = browser.request(method, path, headers={"Origin": origin})
        assert (response["statusCode"], body(response)["error"]) == (403, "foreign_origin"), origin
    assert users.get("i1001") == before
    assert user_deps.syncs.records == {} and user_deps.invoker.payloads == []
    # the site itself, and clients that send no Origin (scripts), are fine
    assert browser.request(method, path, headers={"Origin": SITE})["statusCode"] in (202, 204)


def test_reading_is_allowed_from_anywhere_that_has_the_session(new_browser: Any, intervals: Any) -> None:
    browser = new_browser()
    log_in(browser, intervals)
    assert browser.request("GET", "/api/user", headers={"Origin": EVIL})["statusCode"] == 200


def test_a_forged_session_cookie_is_refused(new_browser: Any, intervals: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jose import jwt

    browser = new_browser()
    token = log_in(browser, intervals)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    claims = jwt.get_unverified_claims(token)
    forged = jwt.encode(
        claims, pem, algorithm="RS256", headers={"kid": jwt.get_unverified_header(token)["kid"]}
    )
    browser.jar[(SESSION_COOKIE, "/")] = forged
    assert browser.request("GET", "/api/user")["statusCode"] == 401


def test_issued_at_ms_rules() -> None:
    assert issued_at_ms({"iat": "1700000000", "iat_ms": "1700000000123"}) == 1700000000123
    # an iat_ms that disagrees with iat is ignored: the token counts from the start of its second
    assert issued_at_ms({"iat": 1700000000, "iat_ms": 1600000000000}) == 1700000000000
    assert issued_at_ms({"iat": 1700000000}) == 1700000000000
    with pytest.raises(Unauthorized):
        issued_at_ms({"iat": "soon"})
    valid_after = from_epoch_ms(1700000000500)
    with pytest.raises(Unauthorized):
        ensure_current({"iat": 1700000000}, valid_after)  # no ms: possibly before, refused
    with pytest.raises(Unauthorized):
        ensure_current({"iat": 1700000000, "iat_ms": 1700000000500}, valid_after)  # a tie: refused
    ensure_current({"iat": 1700000000, "iat_ms": 1700000000501}, valid_after)
    ensure_current({"iat": 1}, None)
    assert from_epoch_ms(epoch_ms(valid_after + timedelta(microseconds=999))) == valid_after
