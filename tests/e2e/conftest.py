"""The local stack, started once per test session as a user starts it (``python -m ridelines serve``)
on free ports, in a child process so its emulated-AWS environment never leaks into other tests.

Every test here drives it from outside, over HTTP or through Chromium, exactly as a user would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SYNC_TIMEOUT_S = 120
START_TIMEOUT_S = 180  # a first start synthesizes the stacks


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_serve(
    extra_env: dict[str, str] | None = None, *, name: str = "serve", verbose: bool = False
) -> Running:
    # Always the built-in stand-in and the emulator, whatever the developer's shell says.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RIDELINES_", "INTERVALS_URL"))}
    env.update(extra_env or {})
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
    # Output goes to a file (kept as a test artifact): a pipe nobody reads could fill and block the server.
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ridelines", "serve", "--port", "0", *(["--verbose"] if verbose else [])],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = re.search(r"running at (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        if found:
            return Running(process, found.group(1), log)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    raise AssertionError(f"ridelines serve did not start: {log.read_text(errors='replace')[-2000:]}")


def stop_serve(running: Running, sig: int = signal.SIGTERM) -> int:
    if running.process.poll() is None:
        running.process.send_signal(sig)
    try:
        return running.process.wait(timeout=30)
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Running]:
    # Verbose: the Lambdas' INFO lines too, so the console checks (no token, no secret) see them all.
    running = start_serve(verbose=True)
    try:
        yield running
    finally:
        stop_serve(running)


def browser_cookies(session: requests.Session) -> requests.Session:
    """Let ``session`` send its ``Secure`` cookies over http://127.0.0.1, as browsers do for localhost
    (Python's cookie jar sends them over https only, and requests ignores a jar's own policy)."""
    if getattr(session, "_sends_secure_cookies_locally", False):
        return session
    original = session.send

    def send(request: Any, **kwargs: Any) -> Any:
        response = original(request, **kwargs)
        for cookie in session.cookies:
            cookie.secure = False
        return response

    session.send = send  # type: ignore[method-assign]
    session._sends_secure_cookies_locally = True  # type: ignore[attr-defined]
    return session


def login(session: requests.Session, base_url: str) -> str:
    """The whole OAuth dance over HTTP: login -> stand-in consent (approve) -> callback; the session
    cookie (returned, for scripts' bearer calls) and the tiles cookies stay in ``session``."""
    browser_cookies(session)
    start = session.get(f"{base_url}/auth/login", params={"redirect_path": "/"}, allow_redirects=False)
    assert start.status_code == 302, start.text
    authorize_url = start.headers["Location"]
    consent = session.get(authorize_url)
    assert consent.status_code == 200 and "Authorize" in consent.text
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', consent.text))
    form["decision"] = "approve"
    approved = session.post(urljoin(authorize_url, "/oauth/authorize"), data=form, allow_redirects=False)
    assert approved.status_code == 302
    callback = approved.headers["Location"]
    assert callback.startswith(f"{base_url}/auth/callback?")
    done = session.get(callback, allow_redirects=False)
    assert done.status_code == 302, done.text
    assert done.headers["Location"] == f"{base_url}/"  # no token in the URL
    token = session.cookies.get("__Host-ridelines-session")
    assert token, "the callback set no session cookie"
    return str(token)


def wait_for_sync(session: requests.Session, base_url: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while time.monotonic() < deadline:
        response = session.get(f"{base_url}/api/sync", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.5)
    raise AssertionError("the sync did not finish in time")


@pytest.fixture(scope="session")
def do_login() -> Any:
    return login


@pytest.fixture(scope="session")
def new_browser() -> Any:
    """A requests session that keeps cookies like a browser on 127.0.0.1."""
    return lambda: browser_cookies(requests.Session())


@pytest.fixture(scope="session")
def do_wait_for_sync() -> Any:
    return wait_for_sync


@pytest.fixture(scope="session")
def serve() -> Any:
    return start_serve, stop_serve
