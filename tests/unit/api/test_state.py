"""OAuth state: unguessable, single use, short-lived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ridelines.adapters.memory import MemoryOAuthStateRepository
from ridelines.auth.state import STATE_TTL, InvalidState, consume_state, issue_state, new_state

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_state_has_at_least_128_random_bits() -> None:
    states = {new_state() for _ in range(200)}
    assert len(states) == 200
    # 43 URL-safe base64 characters = 256 bits
    assert all(len(s) >= 22 for s in states)
    assert min(len(s) for s in states) * 6 >= 128


def test_state_is_stored_with_path_and_ten_minute_expiry() -> None:
    repo = MemoryOAuthStateRepository()
    state = issue_state(repo, "/map", NOW)
    assert repo.states[state] == ("/map", NOW + timedelta(minutes=10))
    assert timedelta(minutes=10) == STATE_TTL


def test_state_is_consumed_once() -> None:
    repo = MemoryOAuthStateRepository()
    state = issue_state(repo, "/map", NOW)
    assert consume_state(repo, state, NOW + timedelta(minutes=1)) == "/map"
    with pytest.raises(InvalidState):
        consume_state(repo, state, NOW + timedelta(minutes=1))


def test_expired_state_is_rejected_even_if_still_stored() -> None:
    repo = MemoryOAuthStateRepository()
    state = issue_state(repo, "/map", NOW)
    with pytest.raises(InvalidState):
        consume_state(repo, state, NOW + STATE_TTL)


def test_unknown_state_is_rejected() -> None:
    with pytest.raises(InvalidState):
        consume_state(MemoryOAuthStateRepository(), new_state(), NOW)


@pytest.mark.parametrize("state", [None, "", "short", "x" * 300, "not/url-safe+state=" * 3])
def test_malformed_state_is_rejected_without_lookup(state: str | None) -> None:
    class Exploding(MemoryOAuthStateRepository):
        def consume(self, state: str, now: datetime) -> str | None:
            raise AssertionError("must not reach storage")

    with pytest.raises(InvalidState):
        consume_state(Exploding(), state, NOW)
