"""Verified-claims helpers for tests that call the user API's handler directly (no authorizer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ridelines.auth.sessions import epoch_ms


def session_claims(athlete_id: str, issued_at: datetime | None = None, **extra: Any) -> dict[str, Any]:
    """The claims API Gateway's authorizer hands over for a session issued at ``issued_at`` (now):
    with ``iat``/``iat_ms``/``exp`` so the user Lambda's revocation check (sessions_valid_after) can apply."""
    at = issued_at or datetime.now(UTC)
    return {
        "sub": athlete_id,
        "aud": "ridelines",
        "iat": int(at.timestamp()),
        "iat_ms": epoch_ms(at),
        "exp": int(at.timestamp()) + 3600,
        **extra,
    }
