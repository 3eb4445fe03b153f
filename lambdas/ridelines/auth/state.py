"""OAuth ``state``: the single-use, short-lived nonce that ties a callback to the login that began it."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from ridelines.errors import InvalidInput
from ridelines.ports import OAuthStateRepository

STATE_TTL = timedelta(minutes=10)
# token_urlsafe(32): 256 random bits (the floor is 128), 43 URL-safe characters.
_STATE_BYTES = 32
_STATE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22,128}$")


class InvalidState(InvalidInput):
    code = "invalid_state"


def new_state() -> str:
    return secrets.token_urlsafe(_STATE_BYTES)


def issue_state(repository: OAuthStateRepository, redirect_path: str, now: datetime) -> str:
    """Create and store a fresh state remembering where the browser goes after login."""
    state = new_state()
    repository.put(state, redirect_path, now + STATE_TTL)
    return state


def consume_state(repository: OAuthStateRepository, state: str | None, now: datetime) -> str:
    """Use up ``state`` (exactly once) and return its redirect path; unknown/expired/replayed -> 400."""
    if not state or not _STATE_PATTERN.match(state):
        raise InvalidState("the login state is missing or malformed; start the login again")
    redirect_path = repository.consume(state, now)
    if redirect_path is None:
        raise InvalidState("the login state is unknown, expired or already used; start the login again")
    return redirect_path
