"""What the sync derived for a rider, as the user API hands it out: explorer layer and export link."""

from __future__ import annotations

import json

from pydantic import ValidationError

from ridelines.api.models import ExplorerView
from ridelines.errors import NotFound, RidelinesError
from ridelines.explorer import EMPTY_DOCUMENT, explorer_key
from ridelines.models import User
from ridelines.ports import BlobStore


def explorer_view(blobs: BlobStore, athlete_id: str) -> ExplorerView:
    """The stored explorer layer; an empty one before the first sync (a map with nothing explored)."""
    raw = blobs.get_bytes(explorer_key(athlete_id))
    if raw is None:
        return ExplorerView.model_validate(EMPTY_DOCUMENT)
    try:
        return ExplorerView.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        # written by our own sync; unreadable means a bug or a damaged object, never the rider's input
        raise RidelinesError(
            "the stored explorer layer is unreadable; sync again", code="internal_error"
        ) from None


def export_location(user: User) -> str:
    """The same-origin path of the rider's latest export (cookie-protected like the tiles)."""
    key = user.published_key("export")
    if not key:
        raise NotFound("nothing to export yet: press Sync first")
    return f"/{key}"
