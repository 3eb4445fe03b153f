"""OAuth state: unguessable, single use, short-lived, bound to the browser that started the login."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ridelines.adapters.memory import MemoryOAuthStateRepository
from ridelines.auth.state import (
    STATE_TTL,
    InvalidState,
    UnboundState,
    binding_hash,
    consume_state,
    issue_state,
    new_state,
)
from ridelines.models import ConsumedState

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_state_has_at_least_128_random_bits() -> None:
    states = {new_state() for _ in range(200)}
    assert len(states) == 200
    # 43 URL-safe base64 characters = 256 bits
    assert all(len(s) >= 22 for s in states)
    assert min(len(s) for s in states) * 6 >= 128


def test_state_is_stored_with_path_ten_minute_expiry_and_only_a_hash_of_the_binding() -> None:
    repo = MemoryOAuthStateRepository()
    issued = issue_state(repo, "/map", NOW)
    assert repo.states[issued.state] == ("/map", NOW + timedelta(minutes=10), binding_hash(issued.binding))
    assert issued.binding not in repo.states[issued.state][2]
    assert timedelta(minutes=10) == STATE_TTL


def test_state_is_consumed_once() -> None:
    repo = MemoryOAuthStateRepository()
    issued = issue_state(repo, "/map", NOW)
    assert consume_state(repo, issued.state, issued.binding, NOW + timedelta(minutes=1)) == "/map"
    with pytest.raises(InvalidState):
        consume_state(repo, issued.state, issued.binding, NOW + timedelta(minutes=1))


def test_another_browsers_binding_is_refused_and_the_state_kept() -> None:
    repo = MemoryOAuthStateRepository()
    issued = issue_state(repo, "/map", NOW)
    with pytest.raises(UnboundState):
        consume_state(repo, issued.state, new_state(), NOW)
    assert issued.state in repo.states
    assert consume_state(repo, issued.state, issued.binding, NOW) == "/map"


def test_expired_state_is_rejected_even_if_still_stored() -> None:
    repo = MemoryOAuthStateRepository()
    issued = issue_state(repo, "/map", NOW)
    with pytest.raises(InvalidState):
        consume_state(repo, issued.state, issued.binding, NOW + STATE_TTL)


def test_unknown_state_is_rejected() -> None:
    with pytest.raises(InvalidState):
        consume_state(MemoryOAuthStateRepository(), new_state(), new_state(), NOW)


class Exploding(MemoryOAuthStateRepository):
    def consume(self, state: str, binding_hash: str, now: datetime) -> ConsumedState:
        raise AssertionError("must not reach storage")


@pytest.mark.parametrize("state", [None, "", "short", "x" * 300, "not/url-safe+state=" * 3])
def test_malformed_state_is_rejected_without_lookup(state: str | None) -> None:
    with pytest.raises(InvalidState):
        consume_state(Exploding(), state, new_state(), NOW)


@pytest.mark.parametrize("binding", [None, "", "short", "x" * 300, "a;b=c" * 10])
def test_missing_or_malformed_binding_is_refused_without_lookup(binding: str | None) -> None:
    with pytest.raises(UnboundState):
        consume_state(Exploding(), new_state(), binding, NOW)
