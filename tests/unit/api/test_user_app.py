"""User routes over in-memory ports: identity only from the authorizer's claims."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ridelines.api.events import http_api_event
from ridelines.auth.sessions import epoch_ms
from ridelines.auth.tiles_cookies import TILES_COOKIE_NAMES, parse_policy
from ridelines.errors import UpstreamError
from ridelines.models import SyncPhase, SyncStatus

from .conftest import SITE, parse_set_cookies

SESSION_SECONDS = 3600


def call(
    app: Any, method: str, path: str, *, sub: str | None = "i1001", clock: Any = None, **kwargs: Any
) -> dict[str, Any]:
    claims = None
    if sub:
        issued = datetime.now(UTC) if clock is None else clock()  # after the rows were created
        claims = {
            "sub": sub,
            "iss": f"{SITE}/auth",
            "aud": "ridelines",
            "iat": int(issued.timestamp()),
            "iat_ms": epoch_ms(issued),
            "exp": int(issued.timestamp()) + SESSION_SECONDS,
        }
    return app.resolve(http_api_event(method, path, claims=claims, **kwargs), None)


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response["body"] else None


@pytest.fixture
def riders(user_deps: Any, clock: Any) -> Any:
    for athlete_id, name in (("i1001", "Rider A"), ("i2002", "Rider B")):
        user_deps.users.upsert_login(
            athlete_id, name, user_deps.cipher.encrypt(f"tok-{athlete_id}", athlete_id), clock()
        )
    return user_deps


def test_profile_before_first_sync(user_app: Any, riders: Any, clock: Any) -> None:
    response = call(user_app, "GET", "/api/user")
    assert response["statusCode"] == 200
    assert body(response) == {
        "athlete_id": "i1001",
        "name": "Rider A",
        "created_at": clock().isoformat().replace("+00:00", "Z"),
        "tiles_url": None,
        "rides_url": None,
        "last_sync": None,
        "privacy": {"zones": [], "hide_ends_m": 0},
        "explorer": {"tiles": 0, "max_square": 0},
    }


def test_profile_after_a_sync_has_tiles_url(user_app: Any, riders: Any, clock: Any) -> None:
    riders.users.set_tiles_key("i1001", "tiles/i1001/abc123.pmtiles", clock())
    riders.users.set_last_sync("i1001", {"status": "succeeded", "listed": 3}, clock())
    profile = body(call(user_app, "GET", "/api/user"))
    assert profile["tiles_url"] == "/tiles/i1001/abc123.pmtiles"  # same origin: the tiles cookies go with it
    assert profile["last_sync"] == {"status": "succeeded", "listed": 3}


def test_missing_claims_are_401(user_app: Any, riders: Any) -> None:
    for method, path in (
        ("GET", "/api/user"),
        ("POST", "/api/sync"),
        ("GET", "/api/sync"),
        ("DELETE", "/api/user"),
    ):
        response = call(user_app, method, path, sub=None)
        assert response["statusCode"] == 401, (method, path)
        assert body(response)["error"] == "unauthorized"
    assert riders.syncs.records == {} and len(riders.users.users) == 2


def test_unknown_account_is_404(user_app: Any) -> None:
    assert call(user_app, "GET", "/api/user", sub="i9999")["statusCode"] == 404


def test_post_sync_queues_and_invokes(user_app: Any, riders: Any, clock: Any) -> None:
    response = call(user_app, "POST", "/api/sync", body='{"full": true}')
    assert response["statusCode"] == 202
    queued = body(response)
    assert queued["status"] == "queued"
    assert riders.invoker.payloads == [{"athlete_id": "i1001", "sync_id": queued["sync_id"], "full": True}]
    record = riders.syncs.get("i1001")
    assert record.sync_id == queued["sync_id"] and record.full is True
    assert (record.lease_expires_at - clock()).total_seconds() == 15 * 60


def test_post_sync_without_body_is_incremental(user_app: Any, riders: Any) -> None:
    assert call(user_app, "POST", "/api/sync")["statusCode"] == 202
    assert riders.invoker.payloads[0]["full"] is False


def test_second_post_sync_is_409_while_the_lease_holds(user_app: Any, riders: Any, clock: Any) -> None:
    first = body(call(user_app, "POST", "/api/sync"))
    second = call(user_app, "POST", "/api/sync")
    assert second["statusCode"] == 409
    assert body(second) == {
        "error": "sync_in_progress",
        "sync_id": first["sync_id"],
        "message": "a sync is already queued or running for this athlete",
    }
    assert len(riders.invoker.payloads) == 1
    clock.advance(minutes=16)  # the lease lapsed: a crashed sync cannot block forever
    assert call(user_app, "POST", "/api/sync")["statusCode"] == 202


@pytest.mark.parametrize(
    "raw",
    [
        '{"full": "yes"}',
        '{"full": 1}',
        '{"athlete_id": "i2002"}',
        "[true]",
        "not json",
        '{"full": false, "extra": 1}',
    ],
)
def test_bad_sync_body_is_400_and_nothing_is_stored(user_app: Any, riders: Any, raw: str) -> None:
    response = call(user_app, "POST", "/api/sync", body=raw)
    assert response["statusCode"] == 400
    assert body(response)["error"] == "invalid_input"
    assert riders.syncs.records == {} and riders.invoker.payloads == []


def test_failed_invoke_is_502_and_releases_the_lease(user_app: Any, riders: Any) -> None:
    class Broken:
        def invoke(self, payload: Any) -> None:
            raise RuntimeError("lambda unavailable")

    riders.invoker = Broken()
    from ridelines.api.user_app import create_app

    app = create_app(riders)
    response = call(app, "POST", "/api/sync")
    assert response["statusCode"] == 502
    record = riders.syncs.get("i1001")
    assert record.status == SyncStatus.FAILED and record.error
    assert not record.holds_lease(riders.clock())


def test_get_sync_is_404_before_any_sync(user_app: Any, riders: Any) -> None:
    response = call(user_app, "GET", "/api/sync")
    assert (response["statusCode"], body(response)["error"]) == (404, "not_found")


def test_get_sync_shows_live_progress(user_app: Any, riders: Any) -> None:
    sync_id = body(call(user_app, "POST", "/api/sync"))["sync_id"]
    record = riders.syncs.get("i1001")
    record.status, record.phase = SyncStatus.RUNNING, SyncPhase.DOWNLOAD
    record.counts.listed, record.counts.new, record.counts.downloaded = 40, 12, 5
    riders.syncs.save(record)
    view = body(call(user_app, "GET", "/api/sync"))
    assert view["sync_id"] == sync_id
    assert (view["status"], view["phase"]) == ("running", "download")
    assert view["counts"] == {
        "listed": 40,
        "new": 12,
        "changed": 0,
        "deleted": 0,
        "unchanged": 0,
        "downloaded": 5,
        "skipped": 0,
        "failed": 0,
    }
    assert view["finished_at"] is None and view["error"] is None and view["started_at"].endswith("Z")


def test_delete_erases_everything_and_disconnects(user_app: Any, riders: Any, intervals: Any) -> None:
    call(user_app, "POST", "/api/sync")
    for key in (
        "athletes/i1001/activities.index",
        "athletes/i1001/activities.geojson.zst",
        "tiles/i1001/abc.pmtiles",
        "athletes/i2002/activities.index",
        "tiles/i2002/def.pmtiles",
    ):
        riders.blobs.put_bytes(key, b"x")
    response = call(user_app, "DELETE", "/api/user")
    assert response["statusCode"] == 204 and response["body"] == ""
    assert intervals.disconnected == ["tok-i1001"]
    assert riders.users.get("i1001") is None and riders.syncs.get("i1001") is None
    assert sorted(riders.blobs.objects) == ["athletes/i2002/activities.index", "tiles/i2002/def.pmtiles"]
    assert riders.invalidator.paths == ["/tiles/i1001/*"]


def test_delete_proceeds_when_the_token_was_already_revoked(
    user_app: Any, riders: Any, intervals: Any
) -> None:
    intervals.revoked.add("tok-i1001")
    assert call(user_app, "DELETE", "/api/user")["statusCode"] == 204
    assert riders.users.get("i1001") is None


def test_delete_keeps_everything_when_intervals_is_down(user_app: Any, riders: Any, intervals: Any) -> None:
    riders.blobs.put_bytes("tiles/i1001/abc.pmtiles", b"x")
    intervals.fail_with = UpstreamError("intervals.icu disconnect-app is unavailable (503)", status=503)
    response = call(user_app, "DELETE", "/api/user")
    assert response["statusCode"] == 502
    assert riders.users.get("i1001") is not None and "tiles/i1001/abc.pmtiles" in riders.blobs.objects


def test_rider_a_cannot_touch_rider_b(user_app: Any, riders: Any, intervals: Any) -> None:
    riders.blobs.put_bytes("tiles/i2002/def.pmtiles", b"x")
    # A's token, B's id anywhere else in the request: path, query, body, headers.
    sneaky: dict[str, Any] = {"query": {"athlete_id": "i2002"}, "headers": {"X-Athlete-Id": "i2002"}}
    assert body(call(user_app, "GET", "/api/user", **sneaky))["athlete_id"] == "i1001"
    response = call(user_app, "POST", "/api/sync", body='{"athlete_id": "i2002"}', **sneaky)
    assert response["statusCode"] == 400
    assert call(user_app, "POST", "/api/sync", **sneaky)["statusCode"] == 202
    assert [p["athlete_id"] for p in riders.invoker.payloads] == ["i1001"]
    assert riders.syncs.get("i2002") is None
    assert call(user_app, "GET", "/api/user/i2002")["statusCode"] == 404
    assert call(user_app, "DELETE", "/api/user", **sneaky)["statusCode"] == 204
    assert riders.users.get("i2002") is not None and "tiles/i2002/def.pmtiles" in riders.blobs.objects
    assert intervals.disconnected == ["tok-i1001"]


@pytest.mark.parametrize("sub", ["../i2002", "i1001/../x", "a" * 65, "i 1"])
def test_malformed_subject_is_401(user_app: Any, riders: Any, sub: str) -> None:
    assert call(user_app, "GET", "/api/user", sub=sub)["statusCode"] == 401


def test_get_user_refreshes_the_tiles_cookies_no_longer_than_the_session(
    user_app: Any, riders: Any, clock: Any, tiles_signer: Any
) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    from ridelines.auth.tiles_cookies import cloudfront_b64decode

    response = call(user_app, "GET", "/api/user", clock=clock)
    cookies = parse_set_cookies(response)
    assert set(TILES_COOKIE_NAMES) <= set(cookies)
    session_exp = int(clock().timestamp()) + SESSION_SECONDS
    for name in TILES_COOKIE_NAMES:
        assert cookies[name]["path"] == "/tiles/i1001/"
        assert int(cookies[name]["max-age"]) == SESSION_SECONDS
    policy = parse_policy(cookies["CloudFront-Policy"]["value"])
    (statement,) = policy["Statement"]
    assert statement == {
        "Resource": f"{SITE}/tiles/i1001/*",
        "Condition": {"DateLessThan": {"AWS:EpochTime": session_exp}},
    }
    public = load_der_public_key(tiles_signer.public_key_der())
    public.verify(  # type: ignore[union-attr]
        cloudfront_b64decode(cookies["CloudFront-Signature"]["value"]),
        cloudfront_b64decode(cookies["CloudFront-Policy"]["value"]),
        ec.ECDSA(hashes.SHA256()),
    )


def test_no_cors_for_anyone(user_app: Any, riders: Any) -> None:
    for origin in (SITE, "https://evil.example"):
        answer = call(user_app, "GET", "/api/user", headers={"Origin": origin})
        assert not any(h.lower().startswith("access-control-") for h in answer["headers"])
