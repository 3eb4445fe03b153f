"""``python -m ridelines COMMAND`` (also the ``ridelines`` console script).

Each command lives in ``ridelines_local.commands.<name>`` and exposes ``add_parser(subparsers)``
and ``run(args) -> int``. This module is the one place that turns domain errors into exit
codes: bad input exits 2 with a single line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ridelines.errors import InvalidInput, RidelinesError

COMMANDS = ("convert", "tiles", "sync", "serve")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's (its module alone is imported: ``convert``
    must not pay for importing the sync stack)."""
    parser = argparse.ArgumentParser(
        prog="ridelines", description="Every GPS track you ever rode, on one private vector map."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (only,) if only in COMMANDS else COMMANDS:
        module = importlib.import_module(f"ridelines_local.commands.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    module = importlib.import_module(f"ridelines_local.commands.{args.command}")
    try:
        return int(module.run(args))
    except InvalidInput as exc:
        print(f"ridelines {args.command}: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RidelinesError as exc:
        print(f"ridelines {args.command}: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"ridelines {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
