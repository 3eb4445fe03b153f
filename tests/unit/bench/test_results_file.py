"""``python -m bench MODULE`` replaces that module's section of bench/RESULTS.md and keeps the rest."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

import bench.__main__ as bench_main

RUNS: dict[str, str] = {}


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "RESULTS.md"
    monkeypatch.setattr(bench_main, "RESULTS", out)
    monkeypatch.setattr(bench_main, "all_modules", lambda: ["bench_a", "bench_b"])
    RUNS.clear()
    RUNS.update({"bench_a": "## A\n\nPASS: a1", "bench_b": "## B\n\n**FAIL**: b1"})
    monkeypatch.setenv("BENCH_QUICK", "0")  # main() sets it for --quick; restored after the test

    def fake_import(name: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(run=lambda: RUNS[name.split(".")[1]])

    monkeypatch.setattr(bench_main.importlib, "import_module", fake_import)
    return out


def test_running_one_module_keeps_the_other_sections(results: Path) -> None:
    assert bench_main.main([]) == 1  # bench_b failed its target
    first = bench_main.read_sections(results.read_text())
    assert set(first) == {"bench_a", "bench_b"}
    assert "`python -m bench bench_b`" in first["bench_b"]

    RUNS["bench_a"] = "## A\n\nPASS: a2"
    assert bench_main.main(["bench_a"]) == 0
    text = results.read_text()
    second = bench_main.read_sections(text)
    assert "a2" in second["bench_a"] and "a1" not in text
    assert second["bench_b"] == first["bench_b"]  # untouched, date and all
    assert text.index("bench:bench_a") < text.index("bench:bench_b")


def test_quick_mode_is_said_in_the_section(results: Path) -> None:
    bench_main.main(["--quick", "bench_a"])
    assert "`python -m bench bench_a --quick`" in results.read_text()


def test_an_unknown_module_changes_nothing(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main.main(["bench_nope"]) == 2
    assert not results.exists()
    assert "unknown benchmark(s): bench_nope" in capsys.readouterr().err
