"""Sync Lambda: a thin Powertools-wrapped entry over :mod:`ridelines.pipeline.lambda_entry`.

Invoked asynchronously with ``{"athlete_id", "sync_id", "full", "checkpoint"?}``; the
composition is built on the first invocation, so importing this module needs no environment.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ridelines.pipeline.lambda_entry import SyncDeps, handle_sync_event, logger, tracer

_deps: SyncDeps | None = None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _deps
    if _deps is None:
        _deps = SyncDeps.from_environment()
    return handle_sync_event(event, context, _deps)
