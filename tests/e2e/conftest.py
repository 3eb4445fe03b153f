"""The local stack, started once per test session in this process on free ports.

Every test here drives it from outside, over HTTP or through Chromium, exactly as a user would.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from ridelines.localstack.stack import LocalStack, LocalStackOptions

SYNC_TIMEOUT_S = 120


@dataclass
class Running:
    stack: LocalStack
    url: str


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Running]:
    # Always the built-in stand-in, whatever the developer's shell says.
    options = LocalStackOptions(port=0, intervals_url=None, oauth_client_id=None, oauth_client_secret=None)
    stack = LocalStack(options)
    url = stack.start()
    try:
        yield Running(stack, url)
    finally:
        stack.stop()


def login(session: requests.Session, base_url: str) -> str:
    """The whole OAuth dance over HTTP: login -> stand-in consent (approve) -> callback -> JWT."""
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
    location = done.headers["Location"]
    assert location.startswith(f"{base_url}/#token="), location.split("#")[0]
    return location.split("#token=", 1)[1]


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
def do_wait_for_sync() -> Any:
    return wait_for_sync
