"""Run every ``bench/bench_*.py`` module (or those named on the command line) and write
``bench/RESULTS.md``. Speed targets are ratios against a baseline from the same run, because
these machines are shared and noisy; absolute times are reported for context only."""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    if "--quick" in argv:  # smaller sizes where a module supports it (bench_scale); said in its results
        os.environ["BENCH_QUICK"] = "1"
    names = [a for a in argv if a != "--quick"] or sorted(p.stem for p in HERE.glob("bench_*.py"))
    sections = []
    failed = False
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        print(f"== {name}", file=sys.stderr, flush=True)
        section = module.run()
        sections.append(section.rstrip() + f"\n\n_{name} took {time.perf_counter() - started:.1f} s._\n")
        failed |= "**FAIL**" in section
    command = "python -m bench" + ("".join(" " + a for a in argv))
    header = (
        "# Benchmark results\n\n"
        f"Produced by `make bench` (`{command}`) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, Python {platform.python_version()}.\n"
        "Targets are ratios against a baseline measured in the same run.\n\n"
    )
    out = HERE / "RESULTS.md"
    out.write_text(header + "\n".join(sections))
    print(out.read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
