"""With INTERVALS_URL and an OAuth pair set, serve talks to that service instead of its stand-in.

The "external" service here is a separately started stand-in with its own client id and secret, so
this checks the wiring the real intervals.icu would get: the emulated secret is seeded with the
pair from the environment, and login and sync go to INTERVALS_URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from ridelines_local.standin.intervals import IntervalsStandin

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

FIT = Path(__file__).resolve().parents[1] / "data" / "fit" / "python-fitparse" / "sample-activity.fit"


def test_serve_uses_intervals_url_and_the_oauth_pair_from_the_environment(
    serve: Any, do_login: Any, do_wait_for_sync: Any
) -> None:
    start_serve, stop_serve = serve
    with IntervalsStandin(client_id="registered-app", client_secret="registered-secret") as external:
        external.add_athlete("i77", name="Real Rider")
        external.add_activity("i77", activity_id="i9001", fit_bytes=FIT.read_bytes(), name="Real ride")
        running = start_serve(
            {
                "INTERVALS_URL": external.base_url,
                "RIDELINES_OAUTH_CLIENT_ID": "registered-app",
                "RIDELINES_OAUTH_CLIENT_SECRET": "registered-secret",
            },
            name="serve-external",
        )
        try:
            assert f"intervals.icu : {external.base_url}" in running.output()
            session = requests.Session()
            token = do_login(session, running.url)
            auth = {"Authorization": f"Bearer {token}"}
            assert session.get(f"{running.url}/api/user", headers=auth).json()["name"] == "Real Rider"
            assert external.count("POST", "/api/oauth/token") == 1
            assert session.post(f"{running.url}/api/sync", headers=auth, json={}).status_code == 202
            sync = do_wait_for_sync(session, running.url, token)
            assert sync["status"] == "succeeded" and sync["counts"]["listed"] == 1
            assert external.count("GET", "/api/v1/activity/i9001/file") == 1
            assert "registered-secret" not in running.output()
        finally:
            assert stop_serve(running) == 0
