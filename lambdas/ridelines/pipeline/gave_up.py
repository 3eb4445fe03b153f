"""When Lambda gives up on a sync leg: mark the sync ``failed`` with the reason.

An async invocation that failed every retry (or aged out) is handed to the function's on-failure
destination as an *invocation record* — ``{"requestContext": {"condition": "RetriesExhausted",
...}, "requestPayload": {the sync event}, ...}`` — and, through the dead-letter queue, arrives as
an SQS message whose body is that record. Either shape given to the sync Lambda marks the sync it
names ``failed`` (only if it is still that athlete's active sync: a newer sync is never touched).

Independently of any delivery, ``SyncRecord.as_seen`` shows an active sync whose lease ran out as
``failed`` (``GET /api/sync`` never shows ``running`` past the lease; the heartbeat keeps a live
sync's lease fresh).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ridelines.errors import RidelinesError
from ridelines.models import SyncRequest, SyncStatus
from ridelines.ports import SyncStateRepository

log = logging.getLogger(__name__)

CONDITIONS = {
    "RetriesExhausted": "its run failed and Lambda's retries ran out",
    "EventAgeExceeded": "its event waited too long to run",
    "RetriesExhaustedError": "its run failed and Lambda's retries ran out",
}


def is_gave_up_event(event: Any) -> bool:
    if not isinstance(event, Mapping):
        return False
    if isinstance(event.get("requestContext"), Mapping) and "requestPayload" in event:
        return True
    records = event.get("Records")
    return isinstance(records, list) and any(
        isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records
    )


def _invocation_records(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "requestPayload" in event:
        return [event]
    found: list[Mapping[str, Any]] = []
    for record in event.get("Records") or []:
        try:
            body = json.loads(record.get("body") or "")
        except (ValueError, TypeError, AttributeError):
            log.warning("ignoring an unreadable dead-letter message")
            continue
        if isinstance(body, Mapping):
            found.append(body if "requestPayload" in body else {"requestPayload": body, "requestContext": {}})
    return found


def mark_gave_up(
    event: Mapping[str, Any], states: SyncStateRepository, clock: Callable[[], datetime]
) -> list[str]:
    """Mark each named, still-active sync failed; returns the sync ids marked."""
    marked: list[str] = []
    for record in _invocation_records(event):
        try:
            request = SyncRequest.model_validate(record.get("requestPayload"))
        except ValidationError:
            log.warning("ignoring a failure record without a valid sync event")
            continue
        context = record.get("requestContext") or {}
        condition = str(context.get("condition", "")) if isinstance(context, Mapping) else ""
        why = CONDITIONS.get(condition, "Lambda gave up on its run")
        current = states.get(request.athlete_id)
        if (
            current is None
            or current.sync_id != request.sync_id
            or current.status
            not in (
                SyncStatus.QUEUED,
                SyncStatus.RUNNING,
            )
        ):
            continue
        now = clock()
        failed = current.model_copy(
            update={
                "status": SyncStatus.FAILED,
                "error": f"the sync stopped: {why}; start it again",
                "finished_at": now,
                "lease_expires_at": now,
                "checkpoint": None,
            }
        )
        try:
            states.save(failed)
        except RidelinesError as exc:
            log.warning("could not mark sync %s failed (%s)", request.sync_id, type(exc).__name__)
            continue
        marked.append(request.sync_id)
    return marked
