"""Ending sessions: a JWT is refused when it was issued at or before the athlete's ``sessions_valid_after``.

JWT ``iat`` has whole seconds, so a token issued in the same second as a logout could not be told
apart from one issued just after it. Our tokens also carry ``iat_ms`` (milliseconds), and the
revocation instant is stored in milliseconds: a token from before the logout is refused even in
the same second, and a login right after it works. A token without ``iat_ms`` counts as issued at
the start of its second (the safe side). Ties go to the revocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ridelines.errors import Unauthorized

ISSUED_AT_MS_CLAIM = "iat_ms"


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, truncated (integer arithmetic: no float rounding up)."""
    whole = int(moment.replace(microsecond=0).timestamp())
    return whole * 1000 + moment.microsecond // 1000


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1000, tz=UTC).replace(microsecond=(value % 1000) * 1000)


def valid_after_for_new_account(created: datetime) -> datetime:
    """A new row ends every earlier session (an account deleted and created again) but not the one
    its own login is issuing at ``created``: sessions are valid when issued strictly after this."""
    return from_epoch_ms(epoch_ms(created) - 1)


def issued_at_ms(claims: Mapping[str, Any]) -> int:
    """When the token was issued, in ms; claims may be strings (API Gateway passes them so)."""
    iat = _integer(claims.get("iat"))
    if iat is None:
        raise Unauthorized("the session has no issue time")
    precise = _integer(claims.get(ISSUED_AT_MS_CLAIM))
    if precise is not None and precise // 1000 == iat:
        return precise
    return iat * 1000


def ensure_current(claims: Mapping[str, Any], sessions_valid_after: datetime | None) -> None:
    """Raise :class:`Unauthorized` when the session was ended (logout, account deletion)."""
    if sessions_valid_after is None:
        return
    if issued_at_ms(claims) <= epoch_ms(sessions_valid_after):
        raise Unauthorized("this session has ended; log in again", code="session_ended")


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 16:
        return int(value.strip())
    return None
