"""OAuth ``state``: the single-use, short-lived nonce that ties a callback to the login that began it,
and to the browser that began it (RFC 9700 section 4.7).

``/auth/login`` hands the browser a random *binding* in the state cookie and stores only its
SHA-256 with the state. The callback consumes the state only when the cookie it brings hashes to
the stored value (one conditional delete), so an attacker's ``code``+``state`` opened in a victim's
browser (login CSRF) or a leaked callback URL replayed from another client is refused and leaves
the state as it was.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ridelines.errors import InvalidInput
from ridelines.ports import OAuthStateRepository

STATE_TTL = timedelta(minutes=10)
# token_urlsafe(32): 256 random bits (the floor is 128), 43 URL-safe characters.
_STATE_BYTES = 32
_STATE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22,128}$")


class InvalidState(InvalidInput):
    code = "invalid_state"


class UnboundState(InvalidState):
    """The callback's browser is not the one that started the login."""

    code = "state_not_bound_to_this_browser"


@dataclass(frozen=True)
class IssuedState:
    state: str  # goes to intervals.icu in the consent URL
    binding: str  # goes to the browser in the state cookie only


def new_state() -> str:
    return secrets.token_urlsafe(_STATE_BYTES)


def binding_hash(binding: str) -> str:
    return hashlib.sha256(binding.encode("utf-8")).hexdigest()


def issue_state(repository: OAuthStateRepository, redirect_path: str, now: datetime) -> IssuedState:
    """Create and store a fresh state remembering where the browser goes after login."""
    issued = IssuedState(state=new_state(), binding=new_state())
    repository.put(issued.state, redirect_path, now + STATE_TTL, binding_hash(issued.binding))
    return issued


def consume_state(
    repository: OAuthStateRepository, state: str | None, binding: str | None, now: datetime
) -> str:
    """Use up ``state`` (exactly once, only with its browser's binding) and return its redirect path.

    Unknown/expired/replayed -> :class:`InvalidState`; a missing or malformed binding cookie ->
    :class:`UnboundState` before any lookup; a different one -> :class:`UnboundState`, state kept.
    """
    if not state or not _STATE_PATTERN.match(state):
        raise InvalidState("the login state is missing or malformed; start the login again")
    if not binding or not _STATE_PATTERN.match(binding):
        raise UnboundState("this browser did not start this login; start the login again")
    expected = binding_hash(binding)
    outcome = repository.consume(state, expected, now)
    if outcome.redirect_path is not None:
        return outcome.redirect_path
    if outcome.binding_mismatch:
        raise UnboundState("this browser did not start this login; start the login again")
    raise InvalidState("the login state is unknown, expired or already used; start the login again")
