"""``python -m ridelines serve`` as a user runs it: prints the URL, serves, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

REPO = Path(__file__).resolve().parents[2]


def test_serve_prints_its_url_and_stops_cleanly_on_sigterm(serve: Any) -> None:
    """SIGTERM here; Ctrl-C (SIGINT) in the next test, during a sync: one stack start each."""
    start_serve, stop_serve = serve
    running = start_serve()
    try:
        assert requests.get(running.url, timeout=10).status_code == 200
        jwks = requests.get(f"{running.url}/auth/.well-known/jwks.json", timeout=10)
        assert jwks.status_code == 200 and jwks.json()["keys"][0]["alg"] == "RS256"
    finally:
        assert stop_serve(running, signal.SIGTERM) == 0
    output = running.output()
    assert "Traceback" not in output
    # what to do next, not just where
    assert 'click "Connect with intervals.icu"' in output and "press Sync" in output
    assert "Press Ctrl-C to stop" in output
    with pytest.raises(requests.ConnectionError):
        requests.get(running.url, timeout=2)


def test_ctrl_c_during_a_sync_stops_cleanly(serve: Any, do_login: Any) -> None:
    start_serve, stop_serve = serve
    running = start_serve(name="serve-ctrl-c")
    try:
        session = requests.Session()
        token = do_login(session, running.url)
        started = session.post(
            f"{running.url}/api/sync", headers={"Authorization": f"Bearer {token}"}, json={}, timeout=10
        )
        assert started.status_code == 202
    finally:
        assert stop_serve(running, signal.SIGINT) == 0  # at once: the sync is still listing or downloading
    output = running.output()
    assert "Traceback" not in output
    assert "Press Ctrl-C to stop" in output
    with pytest.raises(requests.ConnectionError):
        requests.get(running.url, timeout=2)


def test_a_real_intervals_url_without_oauth_credentials_is_refused_clearly() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RIDELINES_"))}
    env["INTERVALS_URL"] = "https://intervals.icu"
    result = subprocess.run(
        [sys.executable, "-m", "ridelines", "serve", "--port", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "RIDELINES_OAUTH_CLIENT_ID" in last and "RIDELINES_OAUTH_CLIENT_SECRET" in last
    assert "Traceback" not in result.stderr
