"""Running Lambda handlers in this process: a Lambda-like context, handler loading, async invoker."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ridelines_local.localstack.provision import FunctionConfig

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of the Lambda context object that Powertools and our code read."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "eu-west-1"
    account: str = "123456789012"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = (
            f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(code_root: Path, handler: str) -> Handler:
    """Import ``auth.handler.lambda_handler`` from ``code_root/auth/handler.py`` like Lambda does."""
    module_path, _, function = handler.rpartition(".")
    file = code_root.joinpath(*module_path.split(".")).with_suffix(".py")
    # A private module name: "auth"/"user"/"sync" are too generic to own in sys.modules.
    name = "_ridelines_local_lambda_" + module_path.replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no Lambda handler module at {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    entry: Handler = getattr(module, function)
    return entry


def environment_count(config: FunctionConfig) -> int:
    """How many invocations of a function may run at once here: its reserved concurrency, else one."""
    return config.reserved_concurrency or 1


class LocalFunction:
    """A Lambda function's execution environments in this process.

    ``concurrency`` is how many invocations may run at once: the function's reserved concurrency
    when the template sets one, else 1 (one warm environment, invocations one at a time). A
    caller past the bound waits for a free environment, as an async event waits in Lambda's
    queue while the function is throttled. ``running`` and ``peak`` say how many ran at once."""

    def __init__(
        self, name: str, handler: Handler, *, timeout_seconds: int, region: str, concurrency: int = 1
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"{name}: concurrency must be at least 1, not {concurrency}")
        self.name = name
        self.handler = handler
        self.timeout_seconds = timeout_seconds
        self.region = region
        self.concurrency = concurrency
        self.running = 0
        self.peak = 0
        self._environments = threading.BoundedSemaphore(concurrency)
        self._count_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: FunctionConfig, handler: Handler, *, region: str) -> LocalFunction:
        """The function as the template declares it: its name, timeout and reserved concurrency."""
        return cls(
            config.name,
            handler,
            timeout_seconds=config.timeout_seconds,
            region=region,
            concurrency=environment_count(config),
        )

    def __call__(self, event: dict[str, Any]) -> Any:
        with self._environments:
            # The context (and its deadline) starts when an environment takes the event.
            context = LocalLambdaContext(self.name, self.timeout_seconds, region=self.region)
            with self._count_lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                return self.handler(event, context)
            finally:
                with self._count_lock:
                    self.running -= 1


class InProcessAsyncInvoker:
    """``InvocationType=Event`` in-process: the payload is serialized like Lambda does, then the
    function runs on a background thread and the caller returns at once. Errors are logged (the
    cloud would retry twice and then park the event in the dead-letter queue)."""

    def __init__(self, function: Callable[[], LocalFunction] | LocalFunction) -> None:
        self._function = function
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self.completed = 0
        self.failed = 0

    def invoke(self, payload: Mapping[str, Any]) -> None:
        event = json.loads(json.dumps(dict(payload)))  # only JSON survives an async invoke
        thread = threading.Thread(target=self._run, args=(event,), name="local-sync", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _run(self, event: dict[str, Any]) -> None:
        function = self._function if isinstance(self._function, LocalFunction) else self._function()
        try:
            function(event)
            self.completed += 1
        except Exception:
            self.failed += 1
            logger.exception("local stack: async invocation of %s failed", function.name)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def wait(self, timeout: float) -> bool:
        """Wait for running invocations; True when none is left."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            threads[0].join(remaining)
