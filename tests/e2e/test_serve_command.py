"""``python -m ridelines serve`` as a user runs it: prints the URL, serves, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_its_url_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RIDELINES_", "INTERVALS_URL"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "ridelines", "serve", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            found = re.search(r"running at (http://127\.0\.0\.1:\d+)", line)
            url = found.group(1) if found else None
        assert url, f"no URL printed; stderr: {process.stderr.read() if process.stderr else ''}"
        assert requests.get(url, timeout=10).status_code == 200
        jwks = requests.get(f"{url}/auth/.well-known/jwks.json", timeout=10)
        assert jwks.status_code == 200 and jwks.json()["keys"][0]["alg"] == "RS256"
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
        _, stderr = process.communicate(timeout=5)
        assert "Traceback" not in stderr
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


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
