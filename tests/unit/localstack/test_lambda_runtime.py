from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from ridelines_local.localstack.lambda_runtime import InProcessAsyncInvoker, LocalFunction, load_handler


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
