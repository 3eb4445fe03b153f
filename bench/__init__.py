"""Benchmarks (``make bench``). Each ``bench/bench_*.py`` exposes ``run() -> str`` returning a
Markdown section; results are ratios against a baseline measured in the same run."""
