"""``ridelines serve``: the whole system on this machine (DESIGN section 7)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from ridelines import settings


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the local stack: emulated AWS, the Lambdas, a stand-in intervals.icu and the map viewer",
        description=(
            "Serve the local stack. With INTERVALS_URL (and RIDELINES_OAUTH_CLIENT_ID / "
            "RIDELINES_OAUTH_CLIENT_SECRET) set it talks to that service instead of the built-in stand-in."
        ),
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to serve on (default 8000; 0 = any free port)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--verbose", action="store_true", help="show the Lambdas' INFO logs")


def run(args: argparse.Namespace) -> int:
    from ridelines_local.localstack.stack import LocalStack, LocalStackOptions

    options = LocalStackOptions.from_environment(
        host=args.host, port=args.port, log_level="INFO" if args.verbose else "WARNING"
    )
    stack = LocalStack(options)
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    print(
        "ridelines serve: starting (a first start synthesizes the stacks: about 10-30 s)...", file=sys.stderr
    )
    try:
        url = stack.start()
    except OSError as exc:
        print(f"ridelines serve: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    # Ctrl-C and SIGTERM both end the wait below; handled explicitly so they also work where the
    # parent shell started us with SIGINT ignored.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(_banner(stack, url), flush=True)
        while not stopping.wait(0.5):
            pass
        print("ridelines serve: stopping...", file=sys.stderr)
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _banner(stack: Any, url: str) -> str:
    t = stack.timings
    source = "cached" if t.templates_cached else "synthesized"
    if stack.standin is not None:
        intervals = f"stand-in intervals.icu at {stack.intervals_url} (demo athlete with sample rides)"
        todo = 'click "Connect with intervals.icu", approve on the stand-in consent page, then press Sync.'
    else:
        intervals = f"{stack.intervals_url} ({settings.INTERVALS_URL})"
        todo = f'click "Connect with intervals.icu" and log in there (redirect URI {url}/auth/callback).'
    return "\n".join(
        [
            "",
            f"  Ridelines is running at {url}",
            f"  Open it in a browser, {todo}",
            "",
            f"  intervals.icu : {intervals}",
            f"  AWS emulator  : moto at {_endpoint()} (templates {source} in {t.templates_s:.1f}s)",
            f"  started in {t.total_s:.1f}s. Press Ctrl-C to stop.",
            "",
        ]
    )


def _endpoint() -> str:
    import os

    return os.environ.get("AWS_ENDPOINT_URL", "?")
