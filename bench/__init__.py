"""Benchmarks (``make bench``). Each ``bench/bench_*.py`` exposes ``run() -> str`` returning a
Markdown section; results are ratios against a baseline measured in the same run."""

FAIL = "**FAIL**"  # ``python -m bench`` exits non-zero when a section says this


def verdict(ok: bool) -> str:
    return "PASS" if ok else FAIL
