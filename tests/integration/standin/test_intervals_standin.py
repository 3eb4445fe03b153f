"""The stand-in intervals.icu behaves like the official API where Ridelines depends on it."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ridelines_local.standin.intervals import IntervalsStandin

FIT_ROOT = Path(__file__).resolve().parents[2] / "data" / "fit"
SHARED_FIT_ROOT = Path(__file__).resolve().parents[4] / "shared" / "testdata" / "fit"
RIDE = "python-fitparse/garmin-edge-820-bike.fit"
OPENAPI = Path(__file__).resolve().parents[2] / "data" / "intervals" / "intervals-openapi.json"


def fit_path(rel: str) -> Path:
    path = FIT_ROOT / rel
    return path if path.exists() else SHARED_FIT_ROOT / rel


@pytest.fixture
def standin() -> Iterator[IntervalsStandin]:
    service = IntervalsStandin(rate_limit_per_second=1000, burst=1000)
    service.add_athlete("i1001", name="Ada Rider", api_key="secret-key")
    service.add_athlete("i2002", name="Other Rider", api_key="other-key")
    service.seed_from_fit_files("i1001", [fit_path(RIDE)])
    service.add_strava_stub("i1001", "s1")
    with service:
        yield service


def test_api_key_basic_auth_lists_activities_newest_first(standin: IntervalsStandin) -> None:
    standin.add_activity(
        "i1001", activity_id="a9", fit_bytes=None, type="Ride", start=datetime(2024, 1, 1, tzinfo=UTC)
    )
    response = requests.get(
        f"{standin.base_url}/api/v1/athlete/0/activities",
        params={"oldest": "2000-01-01"},
        auth=("API_KEY", "secret-key"),
        timeout=5,
    )
    assert response.status_code == 200
    ids = [a["id"] for a in response.json()]
    assert ids == ["a9", "s1", "a1"]
    ride = response.json()[2]
    assert ride["start_date"] == "2017-06-12T16:10:15Z"
    assert ride["distance"] == pytest.approx(457.12)
    assert ride["type"] == "Ride" and ride["source"] == "UPLOAD"
    assert response.json()[1] == {
        "id": "s1",
        "start_date_local": "2022-06-01T00:00:00",
        "source": "STRAVA",
    }


def test_oldest_is_required_and_window_filters(standin: IntervalsStandin) -> None:
    auth = ("API_KEY", "secret-key")
    url = f"{standin.base_url}/api/v1/athlete/0/activities"
    assert requests.get(url, auth=auth, timeout=5).status_code == 422
    window = requests.get(url, params={"oldest": "2017-06-12", "newest": "2017-06-12"}, auth=auth, timeout=5)
    assert [a["id"] for a in window.json()] == ["a1"]


def test_bad_credentials_and_other_athletes_are_refused(standin: IntervalsStandin) -> None:
    url = f"{standin.base_url}/api/v1/athlete/0/activities?oldest=2000-01-01"
    assert requests.get(url, auth=("API_KEY", "wrong"), timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer secret-key"}, timeout=5).status_code == 401
    other = requests.get(
        f"{standin.base_url}/api/v1/athlete/i2002", auth=("API_KEY", "secret-key"), timeout=5
    )
    assert other.status_code == 403


def test_file_download_is_gzipped_original(standin: IntervalsStandin) -> None:
    response = requests.get(
        f"{standin.base_url}/api/v1/activity/a1/file", auth=("API_KEY", "secret-key"), timeout=5
    )
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert response.content[:2] == b"\x1f\x8b"
    assert gzip.decompress(response.content) == fit_path(RIDE).read_bytes()
    stub = requests.get(
        f"{standin.base_url}/api/v1/activity/s1/file", auth=("API_KEY", "secret-key"), timeout=5
    )
    assert stub.status_code == 422


def test_oauth_consent_token_exchange_and_disconnect(standin: IntervalsStandin) -> None:
    consent = requests.get(
        f"{standin.base_url}/oauth/authorize",
        params={
            "client_id": "ridelines-local",
            "redirect_uri": "http://app/cb",
            "scope": "ACTIVITY:READ",
            "state": "S1",
        },
        timeout=5,
    )
    assert consent.status_code == 200 and 'value="approve"' in consent.text
    approved = requests.post(
        f"{standin.base_url}/oauth/authorize",
        data={
            "client_id": "ridelines-local",
            "redirect_uri": "http://app/cb",
            "scope": "ACTIVITY:READ",
            "state": "S1",
            "athlete_id": "i1001",
            "decision": "approve",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert approved.status_code == 302
    location = urlsplit(approved.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/cb" and query["state"] == ["S1"]
    form = {"client_id": "ridelines-local", "client_secret": "local-secret", "code": query["code"][0]}
    token = requests.post(f"{standin.base_url}/api/oauth/token", data=form, timeout=5)
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Bearer" and body["athlete"] == {"id": "i1001", "name": "Ada Rider"}
    # the code is single-use
    assert requests.post(f"{standin.base_url}/api/oauth/token", data=form, timeout=5).status_code == 400
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert (
        requests.get(f"{standin.base_url}/api/v1/athlete/0", headers=bearer, timeout=5).json()["id"]
        == "i1001"
    )
    assert (
        requests.delete(f"{standin.base_url}/api/v1/disconnect-app", headers=bearer, timeout=5).status_code
        == 200
    )
    assert requests.get(f"{standin.base_url}/api/v1/athlete/0", headers=bearer, timeout=5).status_code == 401


def test_deny_redirects_with_access_denied(standin: IntervalsStandin) -> None:
    denied = requests.post(
        f"{standin.base_url}/oauth/authorize",
        data={
            "client_id": "ridelines-local",
            "redirect_uri": "http://app/cb",
            "state": "S2",
            "decision": "deny",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert parse_qs(urlsplit(denied.headers["Location"]).query) == {
        "error": ["access_denied"],
        "state": ["S2"],
    }


def test_rate_limit_answers_429_with_retry_after() -> None:
    service = IntervalsStandin(rate_limit_per_second=1, burst=2)
    service.add_athlete("i1", name="A", api_key="k")
    with service:
        statuses = [
            requests.get(f"{service.base_url}/api/v1/athlete/0", auth=("API_KEY", "k"), timeout=5)
            for _ in range(4)
        ]
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and all(r.headers["Retry-After"] == "1" for r in limited)


def test_a_per_caller_rate_limit_holds_each_rider_to_their_own_bucket() -> None:
    """The load test's stand-in: one rider spending their burst leaves another's untouched."""
    service = IntervalsStandin(rate_limit_per_second=0.01, burst=2, rate_limit_per_caller=True)
    service.add_athlete("i1", name="A", api_key="k1")
    service.add_athlete("i2", name="B", api_key="k2")

    def get(key: str) -> int:
        url = f"{service.base_url}/api/v1/athlete/0"
        return requests.get(url, auth=("API_KEY", key), timeout=5).status_code

    with service:
        first = [get("k1") for _ in range(3)]
        second = [get("k2") for _ in range(2)]
    assert first == [200, 200, 429]
    assert second == [200, 200]


def test_injected_faults_fire_the_requested_number_of_times(standin: IntervalsStandin) -> None:
    standin.faults.inject(r"/file$", "503", times=1)
    standin.faults.inject(r"/file$", "truncate", times=1)
    url = f"{standin.base_url}/api/v1/activity/a1/file"
    auth = ("API_KEY", "secret-key")
    assert requests.get(url, auth=auth, timeout=5).status_code == 503
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(url, auth=auth, timeout=5)
    assert requests.get(url, auth=auth, timeout=5).status_code == 200
    assert standin.count("GET", "/api/v1/activity/") == 3


def test_edits_show_in_the_listing(standin: IntervalsStandin) -> None:
    standin.rename_activity("a1", "Renamed")
    standin.set_activity_type("a1", "GravelRide")
    listing = requests.get(
        f"{standin.base_url}/api/v1/athlete/0/activities?oldest=2000-01-01",
        auth=("API_KEY", "secret-key"),
        timeout=5,
    ).json()
    ride = next(a for a in listing if a["id"] == "a1")
    assert (ride["name"], ride["type"]) == ("Renamed", "GravelRide")
    standin.delete_activity("a1")
    listing = requests.get(
        f"{standin.base_url}/api/v1/athlete/0/activities?oldest=2000-01-01",
        auth=("API_KEY", "secret-key"),
        timeout=5,
    ).json()
    assert "a1" not in {a["id"] for a in listing}


def test_listing_uses_only_fields_and_parameters_of_the_official_document(standin: IntervalsStandin) -> None:
    spec = json.loads(OPENAPI.read_text())
    activity_schema = spec["components"]["schemas"]["Activity"]["properties"]
    listing = spec["paths"]["/api/v1/athlete/{id}/activities"]["get"]
    assert {"oldest", "newest", "limit"} <= {p["name"] for p in listing["parameters"]}
    for path in ("/api/v1/activity/{id}/file", "/api/v1/disconnect-app", "/api/v1/athlete/{id}"):
        assert path in spec["paths"]
    activities = requests.get(
        f"{standin.base_url}/api/v1/athlete/0/activities?oldest=2000-01-01",
        auth=("API_KEY", "secret-key"),
        timeout=5,
    ).json()
    for activity in activities:
        assert set(activity) <= set(activity_schema), set(activity) - set(activity_schema)
        assert activity["source"] in activity_schema["source"]["enum"]


def test_a_files_summary_is_remembered_by_content_and_handed_out_as_a_copy() -> None:
    from ridelines_local.standin.intervals import read_fit_summary

    data = fit_path(RIDE).read_bytes()
    first = read_fit_summary(data)
    assert first["has_gps"] and first["start"] is not None and first["sport"] == "cycling"
    first["sport"] = "changed by a caller"
    again = read_fit_summary(bytes(data))  # equal content, another object
    assert again["sport"] == "cycling" and again["start"] == first["start"]


def test_a_refused_post_leaves_a_kept_alive_connection_usable() -> None:
    """A 429 before the body is read must still consume it: on the same connection the next
    request is answered as itself, not parsed from the leftover form (which gave a 501)."""
    service = IntervalsStandin(rate_limit_per_second=0.01, burst=1)
    service.add_athlete("i1", name="A", api_key="k")
    form = {"grant_type": "authorization_code", "code": "nope", "client_id": "c", "client_secret": "s"}
    with service, requests.Session() as session:
        first = session.post(f"{service.base_url}/api/oauth/token", data=form, timeout=5)
        refused = session.post(f"{service.base_url}/api/oauth/token", data=form, timeout=5)
        again = session.post(f"{service.base_url}/api/oauth/token", data=form, timeout=5)
    assert first.status_code != 429  # the one token in the bucket
    assert refused.status_code == 429 and again.status_code == 429  # not 501
