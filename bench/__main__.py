"""Run every ``bench/bench_*.py`` module (or those named on the command line) and update
``bench/RESULTS.md``. Speed targets are ratios against a baseline from the same run, because
these machines are shared and noisy; absolute times are reported for context only.

Each module's section sits between ``<!-- bench:NAME -->`` markers and says the command and
date that produced it, so running one module (``python -m bench bench_scale``) replaces that
section and keeps the others: a long benchmark need not be re-run to refresh a short one.
"""

from __future__ import annotations

import importlib
import os
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import FAIL

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\n"
    "Produced by `make bench` (`python -m bench`, every module) or `python -m bench MODULE...` (those\n"
    "modules' sections only); each section says the command, date and machine that produced it.\n"
    "Targets are ratios against a baseline measured in the same run.\n"
)
_SECTION = re.compile(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->\n", re.S)


def all_modules() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def read_sections(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in _SECTION.finditer(text)}


def render(sections: dict[str, str]) -> str:
    order = all_modules()
    names = sorted(sections, key=lambda n: (order.index(n) if n in order else len(order), n))
    blocks = [f"<!-- bench:{n} -->\n{sections[n].rstrip()}\n<!-- /bench:{n} -->\n" for n in names]
    return HEADER + "\n" + "\n".join(blocks)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    if quick:  # smaller sizes where a module supports it; said in its results
        os.environ["BENCH_QUICK"] = "1"
    names = [a for a in argv if a != "--quick"] or all_modules()
    unknown = [n for n in names if n not in all_modules()]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(all_modules())}", file=sys.stderr
        )
        return 2
    sections = read_sections(RESULTS.read_text()) if RESULTS.exists() else {}
    failed = False
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        print(f"== {name}", file=sys.stderr, flush=True)
        section = module.run()
        took = time.perf_counter() - started
        command = f"python -m bench {name}" + (" --quick" if quick else "")
        sections[name] = (
            section.rstrip()
            + f"\n\n_`{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs: took {took:.1f} s._\n"
        )
        failed |= FAIL in section
        RESULTS.write_text(render(sections))  # after each module: a later crash keeps this one
    print(RESULTS.read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
