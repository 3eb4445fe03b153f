"""One listing page -> the entries that validate, and the ones skipped with their reason.

Each entry is judged on its own (:class:`~ridelines.intervals.models.IntervalsActivity`): a
non-finite number, a lone surrogate, a wrong type, a missing id, a malformed field name or an
absurd date makes *that entry* a :class:`SkippedEntry`; the rest of the page is unaffected.

A skipped entry is not a deleted ride. When its id can still be read safely, the sync keeps the
stored ride of that id (:attr:`Listing.protected_ids`); when it cannot, the sync does not know
which stored ride the entry was, so it deletes nothing at all this time
(:attr:`Listing.unidentified_skips`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ridelines.intervals.models import IntervalsActivity

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    id: str | None  # the entry's id when it can be read safely, else None
    reason: str


@dataclass
class Listing:
    """Everything the listing gave: valid activities (each id once) and skipped entries."""

    activities: list[IntervalsActivity] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)

    @property
    def protected_ids(self) -> set[str]:
        return {s.id for s in self.skipped if s.id is not None}

    @property
    def unidentified_skips(self) -> int:
        return sum(1 for s in self.skipped if s.id is None)


def readable_id(item: object) -> str | None:
    """The id of a raw entry when it looks like an intervals.icu id (ints are read as text)."""
    if not isinstance(item, dict):
        return None
    raw = item.get("id")
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        raw = str(raw)
    if isinstance(raw, str) and _ID.match(raw):
        return raw
    return None


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "entry"
    message = str(first.get("msg", "invalid"))
    # the message never quotes the value (it could be huge or hold a secret-looking string)
    return f"{where}: {message}"[:200] + (
        f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    )


def validate_entry(item: Any) -> IntervalsActivity | SkippedEntry:
    if not isinstance(item, dict):
        return SkippedEntry(None, f"entry is a {type(item).__name__}, not an object")
    ident = readable_id(item)
    bad_names = [k for k in item if not isinstance(k, str) or not _FIELD_NAME.match(k)]
    if bad_names:
        return SkippedEntry(ident, f"entry has {len(bad_names)} malformed field name(s)")
    try:
        return IntervalsActivity.model_validate(item)
    except ValidationError as exc:
        return SkippedEntry(ident, _reason(exc))
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date pydantic cannot represent
        return SkippedEntry(ident, f"unreadable entry ({type(exc).__name__})")


def parse_page(raw: Any, into: Listing, seen: set[str]) -> int:
    """Add one page's entries to ``into``; returns how many entries the page held."""
    if not isinstance(raw, list):
        raise TypeError("the activity list is not a JSON array")
    for item in raw:
        outcome = validate_entry(item)
        if isinstance(outcome, SkippedEntry):
            into.skipped.append(outcome)
        elif outcome.id not in seen:
            seen.add(outcome.id)
            into.activities.append(outcome)
    return len(raw)
