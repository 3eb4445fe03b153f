"""GET/PUT /api/user/privacy over in-memory ports: validation (422 + field), nothing stored on bad
input, secrets never shown, a change queues a re-tiling sync (never a download)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ridelines.adapters.memory import (
    MemoryBlobStore,
    MemorySyncStateRepository,
    MemoryUserRepository,
    RecordingInvalidator,
    RecordingInvoker,
)
from ridelines.api.events import http_api_event
from ridelines.api.user_app import UserDeps, create_app
from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.privacy import InvalidPrivacy, PrivacySettings, parse_privacy
from tests.support.sessions import session_claims
from tests.support.signers import LocalEcdsaSigner

RIDER = "i1001"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
GOOD: dict[str, Any] = {"zones": [{"lat": 47.37, "lon": 8.54, "radius_m": 400}], "hide_ends_m": 200}


class PlainCipher:
    def encrypt(self, plaintext: str, athlete_id: str) -> bytes:
        return plaintext.encode()

    def decrypt(self, ciphertext: bytes, athlete_id: str) -> str:
        return ciphertext.decode()


@pytest.fixture
def deps() -> UserDeps:
    users = MemoryUserRepository()
    users.upsert_login(RIDER, "Rider", b"token", NOW)
    return UserDeps(
        users=users,
        syncs=MemorySyncStateRepository(),
        blobs=MemoryBlobStore(),
        invalidator=RecordingInvalidator(),
        invoker=RecordingInvoker(),
        cipher=PlainCipher(),
        intervals=IntervalsOAuthClient("https://intervals.invalid"),
        site_url="https://app.example",
        tiles_signer=LocalEcdsaSigner(),
        tiles_key_pair_id="KTESTTILESKEY",
        clock=lambda: NOW,
    )


def call(deps: UserDeps, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    event = http_api_event(method, path, body=raw, claims=session_claims(RIDER, deps.clock()))
    response = create_app(deps).resolve(event, None)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


def published(deps: UserDeps) -> None:
    deps.users.set_tiles_key(RIDER, f"tiles/{RIDER}/abc.pmtiles", NOW)


def test_get_before_any_setting_is_empty(deps: UserDeps) -> None:
    assert call(deps, "GET", "/api/user/privacy") == (200, {"zones": [], "hide_ends_m": 0})


def test_put_stores_and_returns_the_settings_without_the_secret_offsets(deps: UserDeps) -> None:
    status, body = call(deps, "PUT", "/api/user/privacy", GOOD)
    assert status == 200
    assert body == {"zones": [{"lat": 47.37, "lon": 8.54, "radius_m": 400.0}], "hide_ends_m": 200.0}
    assert call(deps, "GET", "/api/user/privacy") == (200, body)
    stored = deps.users.get(RIDER)
    assert stored is not None and stored.privacy is not None
    zone = stored.privacy.zones[0]
    assert 0.25 <= zone.offset <= 0.5 and 1.05 <= zone.jitter <= 1.3  # the secret is stored...
    _, profile = call(deps, "GET", "/api/user")
    assert profile["privacy"] == body  # ...and shown nowhere
    assert "offset" not in json.dumps(profile) and "jitter" not in json.dumps(profile)


def test_saving_the_same_zone_again_keeps_its_secret(deps: UserDeps) -> None:
    call(deps, "PUT", "/api/user/privacy", GOOD)
    first = deps.users.get(RIDER)
    call(deps, "PUT", "/api/user/privacy", {**GOOD, "hide_ends_m": 0})
    second = deps.users.get(RIDER)
    assert first and second and first.privacy and second.privacy
    assert second.privacy.zones == first.privacy.zones


def test_a_change_queues_a_retile_sync_that_downloads_nothing(deps: UserDeps) -> None:
    published(deps)
    assert call(deps, "PUT", "/api/user/privacy", GOOD)[0] == 200
    invoker = deps.invoker
    assert isinstance(invoker, RecordingInvoker)
    (payload,) = invoker.payloads
    assert payload == {"athlete_id": RIDER, "sync_id": payload["sync_id"], "full": False, "retile": True}
    record = deps.syncs.get(RIDER)
    assert record is not None and record.sync_id == payload["sync_id"]


def test_before_the_first_publish_nothing_is_queued(deps: UserDeps) -> None:
    assert call(deps, "PUT", "/api/user/privacy", GOOD)[0] == 200
    assert isinstance(deps.invoker, RecordingInvoker) and deps.invoker.payloads == []


def test_a_change_while_a_sync_runs_is_stored_and_left_to_that_sync(deps: UserDeps) -> None:
    published(deps)
    running = deps.syncs.acquire(RIDER, "running-sync", full=False, now=NOW, lease_seconds=600)
    assert call(deps, "PUT", "/api/user/privacy", GOOD)[0] == 200
    assert isinstance(deps.invoker, RecordingInvoker) and deps.invoker.payloads == []
    record = deps.syncs.get(RIDER)
    assert record is not None and record.sync_id == running.sync_id
    user = deps.users.get(RIDER)
    assert user is not None and user.privacy is not None and len(user.privacy.zones) == 1


BAD: list[tuple[Any, str]] = [
    ({"zones": [{"lat": 47.0, "lon": 8.0, "radius_m": 0}]}, "zones[0].radius_m"),
    ({"zones": [{"lat": 47.0, "lon": 8.0, "radius_m": 99.9}]}, "zones[0].radius_m"),
    ({"zones": [{"lat": 47.0, "lon": 8.0, "radius_m": 2001}]}, "zones[0].radius_m"),
    (
        {"zones": [GOOD["zones"][0], GOOD["zones"][0], {"lat": 47.0, "lon": 8.0, "radius_m": 5000}]},
        "zones[2].radius_m",
    ),
    ({"zones": [{"lat": 90.5, "lon": 8.0, "radius_m": 300}]}, "zones[0].lat"),
    ({"zones": [{"lat": 47.0, "lon": -180.5, "radius_m": 300}]}, "zones[0].lon"),
    ({"zones": [{"lat": "47", "lon": 8.0, "radius_m": 300}]}, "zones[0].lat"),
    ({"zones": [{"lat": True, "lon": 8.0, "radius_m": 300}]}, "zones[0].lat"),
    ({"zones": [{"lat": None, "lon": 8.0, "radius_m": 300}]}, "zones[0].lat"),
    ({"zones": [{"lat": 47.0, "lon": 8.0}]}, "zones[0].radius_m"),
    ({"zones": [{"lat": 47.0, "lon": 8.0, "radius_m": 300, "note": "home"}]}, "zones[0].note"),
    ({"zones": [{"lat": 1e999, "lon": 8.0, "radius_m": 300}]}, "zones[0].lat"),
    ({"zones": [GOOD["zones"][0]] * 11}, "zones"),
    ({"zones": "home"}, "zones"),
    ({"zones": ["home"]}, "zones[0]"),
    ({"zones": [], "hide_ends_m": -1}, "hide_ends_m"),
    ({"zones": [], "hide_ends_m": 2000.5}, "hide_ends_m"),
    ({"zones": [], "hide_ends_m": "100"}, "hide_ends_m"),
    ({"zones": [], "extra": 1}, "extra"),
    ([], "body"),
]


@pytest.mark.parametrize(("body", "field"), BAD)
def test_bad_settings_are_422_with_the_field_and_change_nothing(
    deps: UserDeps, body: Any, field: str
) -> None:
    published(deps)
    call(deps, "PUT", "/api/user/privacy", GOOD)
    before = deps.users.get(RIDER)
    assert isinstance(deps.invoker, RecordingInvoker)
    invoked = len(deps.invoker.payloads)
    raw = json.dumps(body).replace("Infinity", "1e999")
    status, answer = call(deps, "PUT", "/api/user/privacy", raw)
    assert status == 422
    assert answer["error"] == "invalid_privacy" and answer["field"] == field
    assert field == "body" or field in answer["message"]
    assert deps.users.get(RIDER) == before  # nothing stored
    assert len(deps.invoker.payloads) == invoked  # the published map is not touched


@pytest.mark.parametrize(
    "raw", ["", "not json", '{"zones": [{"lat": NaN, "lon": 8, "radius_m": 300}]}', "x" * 9000]
)
def test_unreadable_bodies_are_422_too(deps: UserDeps, raw: str) -> None:
    status, answer = call(deps, "PUT", "/api/user/privacy", raw)
    assert status == 422 and answer["error"] == "invalid_privacy" and answer["field"] == "body"
    user = deps.users.get(RIDER)
    assert user is not None and user.privacy is None


def test_parse_privacy_accepts_the_limits() -> None:
    settings = parse_privacy(
        {
            "zones": [{"lat": -90, "lon": 180, "radius_m": 100}] * 9
            + [{"lat": 90, "lon": -180, "radius_m": 2000}],
            "hide_ends_m": 2000,
        }
    )
    assert isinstance(settings, PrivacySettings) and len(settings.zones) == 10
    with pytest.raises(InvalidPrivacy):
        parse_privacy({"zones": [{"lat": float("nan"), "lon": 0, "radius_m": 100}]})
