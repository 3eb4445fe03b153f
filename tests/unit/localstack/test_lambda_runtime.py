from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from ridelines_local.localstack.lambda_runtime import InProcessAsyncInvoker, LocalFunction, load_handler
from ridelines_local.localstack.provision import FunctionConfig


def test_handlers_load_by_file_path_like_lambda(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "handler.py").write_text(
        "def lambda_handler(event, context):\n"
        "    return {'echo': event['x'], 'left': context.get_remaining_time_in_millis()}\n"
    )
    handler = load_handler(tmp_path, "demo.handler.lambda_handler")
    function = LocalFunction("ridelines-dev-demo", handler, timeout_seconds=30, region="eu-west-1")
    result = function({"x": 1})
    assert result["echo"] == 1
    assert 25_000 < result["left"] <= 30_000


def test_async_invoke_returns_at_once_and_runs_in_the_background() -> None:
    release = threading.Event()
    received: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        release.wait(5)
        received.append(event)

    invoker = InProcessAsyncInvoker(LocalFunction("sync", handler, timeout_seconds=5, region="eu-west-1"))
    began = time.monotonic()
    invoker.invoke({"athlete_id": "i1", "sync_id": "s1", "full": False})
    assert received == []  # the caller did not wait
    assert time.monotonic() - began < 1
    release.set()
    assert invoker.wait(timeout=5)
    assert received == [{"athlete_id": "i1", "sync_id": "s1", "full": False}]
    assert (invoker.completed, invoker.failed) == (1, 0)


def test_a_failing_async_invocation_is_counted_not_raised() -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("boom")

    invoker = InProcessAsyncInvoker(LocalFunction("sync", handler, timeout_seconds=5, region="eu-west-1"))
    invoker.invoke({"athlete_id": "i1"})
    assert invoker.wait(timeout=5)
    assert invoker.failed == 1


def test_the_reserved_concurrency_bounds_how_many_async_invocations_run_at_once() -> None:
    """Seven syncs queued at once on a function reserving 3: three run, the rest wait their turn,
    and every one of them runs (Lambda's async queue holds throttled events)."""
    config = FunctionConfig("SyncFn", "ridelines-dev-sync", "sync.handler.lambda_handler", 600, {}, (), 3)
    entered = threading.Semaphore(0)
    release = threading.Event()
    done: list[str] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> None:
        entered.release()
        assert release.wait(10)
        with lock:
            done.append(event["athlete_id"])

    function = LocalFunction.from_config(config, handler, region="eu-west-1")
    invoker = InProcessAsyncInvoker(function)
    for n in range(7):
        invoker.invoke({"athlete_id": f"i{n}", "sync_id": "s", "full": False})
    for _ in range(3):
        assert entered.acquire(timeout=10)  # three environments took an event each
    assert function.running == 3
    release.set()
    assert invoker.wait(timeout=10)
    assert sorted(done) == [f"i{n}" for n in range(7)]
    assert (function.peak, function.running, invoker.completed) == (3, 0, 7)


def test_an_unreserved_function_runs_one_invocation_at_a_time() -> None:
    config = FunctionConfig("UserFn", "ridelines-dev-user", "user.handler.lambda_handler", 30, {})
    function = LocalFunction.from_config(config, lambda event, context: None, region="eu-west-1")
    assert function.concurrency == 1
    invoker = InProcessAsyncInvoker(function)
    for n in range(4):
        invoker.invoke({"n": n})
    assert invoker.wait(timeout=10)
    assert (function.peak, invoker.completed) == (1, 4)
