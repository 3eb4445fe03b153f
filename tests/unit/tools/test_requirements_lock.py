"""The hashed dependency locks: complete, current, and stale the moment an input changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import requirements_lock as locks

FILES = ("requirements.in", "requirements-dev.in", "requirements.txt", "requirements-dev.txt")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(locks.REPO_ROOT / name, tmp_path / name)
    return tmp_path


def test_the_committed_locks_are_current() -> None:
    assert locks.problems() == []


def test_every_locked_package_has_a_hash() -> None:
    for lock in locks.LOCKS:
        text = (locks.REPO_ROOT / lock.output).read_text()
        entries = [line for line in text.splitlines() if locks.pins(line)]
        assert entries
        assert text.count("--hash=sha256:") >= len(entries)


def test_an_edited_input_makes_the_lock_stale(repo: Path) -> None:
    path = repo / "requirements.in"
    path.write_text(path.read_text() + "# a new comment is a change too\n")
    found = locks.problems(repo)
    assert any("requirements.txt is stale" in p for p in found)
    # requirements-dev.in includes requirements.in: its lock is stale as well.
    assert any("requirements-dev.txt is stale" in p for p in found)


def test_a_pin_the_lock_does_not_hold_is_reported(repo: Path) -> None:
    lock = repo / "requirements-dev.txt"
    lock.write_text(lock.read_text().replace("\npytest==9.2.0 ", "\npytest==9.1.0 "))
    assert any("pytest==9.1.0, requirements-dev.in pins 9.2.0" in p for p in locks.problems(repo))


def test_a_missing_lock_is_reported(repo: Path) -> None:
    (repo / "requirements.txt").unlink()
    assert any("requirements.txt is missing" in p for p in locks.problems(repo))


def test_the_runtime_lock_is_for_the_lambda_platform() -> None:
    (runtime, dev) = locks.LOCKS
    assert "aarch64-manylinux2014" in runtime.uv_args
    assert "--universal" in dev.uv_args and dev.constraints == ("requirements.txt",)
