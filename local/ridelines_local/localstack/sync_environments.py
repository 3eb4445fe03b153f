"""The sync Lambda's execution environments as child processes, one per unit of concurrency.

In AWS every sync invocation has its own execution environment and vCPU share, so riders' syncs
never slow the API. In one Python process they would: a handful of syncs converting FIT files hold
the GIL and every ``GET /api/user`` waits behind them for seconds (the load test measured p95 > 10 s).
So each environment is a spawned process, at a lower CPU priority, that keeps its composition warm
between invocations, like a warm Lambda; the serving process only waits for the answer. Self re-invocations (checkpoints) are
collected in the child and handed back to the local async invoker.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from collections.abc import Mapping
from multiprocessing.pool import Pool
from typing import Any

from ridelines_local.localstack.lambda_runtime import Handler, InProcessAsyncInvoker


class SyncEnvironments:
    """A pool of ``size`` warm sync environments (processes), started on the first invocation so
    they inherit the environment the local stack has set by then (emulator endpoint, tables...)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pool: Pool | None = None
        self._lock = threading.Lock()

    def handler(self, invoker: InProcessAsyncInvoker) -> Handler:
        def handle(event: dict[str, Any], context: Any) -> Any:
            result, reinvocations = self._started().apply(_invoke_in_environment, (event, context))
            for payload in reinvocations:
                invoker.invoke(payload)
            return result

        return handle

    def _started(self) -> Pool:
        with self._lock:
            if self._pool is None:
                self._pool = multiprocessing.get_context("spawn").Pool(
                    processes=self.size, initializer=_prepare_environment
                )
            return self._pool

    def stop(self) -> None:
        """Ends every environment at once, a running sync included (its lease lets a later one resume)."""
        with self._lock:
            if self._pool is not None:
                self._pool.terminate()
                self._pool.join()
                self._pool = None


# -- in the child process ---------------------------------------------------------------------------
SYNC_NICENESS = 10


def _prepare_environment() -> None:
    """Separate processes free the API from the GIL, but on a laptop's few cores the syncs' CPU
    would still crowd it out; in AWS the API has its own. A lower priority gives it that back.
    Ctrl-C in the terminal reaches the whole process group: the serving process alone decides
    (it stops the environments), so a sync is never interrupted half-way by the signal itself."""
    os.nice(SYNC_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _CollectingInvoker:
    """The sync's self re-invocation, kept for the parent's async invoker (only JSON survives)."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def invoke(self, payload: Mapping[str, Any]) -> None:
        self.payloads.append(json.loads(json.dumps(dict(payload))))


_invoker = _CollectingInvoker()
_deps: Any = None


def _invoke_in_environment(event: dict[str, Any], context: Any) -> tuple[Any, list[dict[str, Any]]]:
    global _deps
    from ridelines.pipeline.lambda_entry import SyncDeps, handle_sync_event

    if _deps is None:  # the cold start: one composition per environment, kept warm
        _deps = SyncDeps.from_environment(invoker=_invoker)
    _invoker.payloads.clear()
    result = handle_sync_event(event, context, _deps)
    return result, list(_invoker.payloads)
