"""``python -m ridelines sync`` against the stand-in: files in a folder, JSON summary on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ridelines.index import decode_index
from ridelines_local.cli import main
from ridelines_local.standin.intervals import IntervalsStandin

from .conftest import RIDES, pmtiles_features

RIDE_IDS = {f"a{n}" for n in range(1, len(RIDES) + 1)}


def sync(out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict, str]:
    code = main(["sync", "--out", str(out), "--api-key", "demo-api-key", *extra])
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.strip()]
    return code, (json.loads(lines[-1]) if code == 0 else {}), captured.err


@pytest.fixture
def env(standin: IntervalsStandin, monkeypatch: pytest.MonkeyPatch) -> IntervalsStandin:
    monkeypatch.setenv("INTERVALS_URL", standin.base_url)
    return standin


def test_sync_twice_downloads_nothing_the_second_time(
    env: IntervalsStandin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, summary, _ = sync(out, capsys)
    assert code == 0 and summary["status"] == "succeeded"
    assert summary["counts"] == {
        "listed": 6,
        "new": 4,
        "changed": 0,
        "deleted": 0,
        "unchanged": 0,
        "downloaded": 4,
        "skipped": 2,
        "failed": 0,
    }
    assert sorted(p.name for p in out.iterdir() if p.name != ".parts") == [  # .parts: tile_parts
        ".products-cache.zst",
        "activities.geojson.zst",
        "activities.index",
        "activities.pmtiles",
        "explorer.json",
        "rides.json",
    ]
    assert set(pmtiles_features((out / "activities.pmtiles").read_bytes())) == RIDE_IDS
    assert set(decode_index((out / "activities.index").read_bytes()).ids()) == RIDE_IDS
    downloads = env.count("GET", "/api/v1/activity/")
    tiles_before = (out / "activities.pmtiles").stat().st_mtime_ns

    code, summary, _ = sync(out, capsys)
    assert code == 0 and summary["counts"]["downloaded"] == 0 and summary["counts"]["unchanged"] == 4
    assert summary["published"] is False
    assert env.count("GET", "/api/v1/activity/") == downloads
    assert (out / "activities.pmtiles").stat().st_mtime_ns == tiles_before

    env.delete_activity("a4")
    code, summary, _ = sync(out, capsys)
    assert summary["counts"]["deleted"] == 1
    assert set(pmtiles_features((out / "activities.pmtiles").read_bytes())) == RIDE_IDS - {"a4"}


def test_refused_key_exits_2_with_one_line(
    env: IntervalsStandin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sync", "--out", str(tmp_path / "o"), "--api-key", "wrong-key"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "refused" in err and "wrong-key" not in err
    assert not (tmp_path / "o" / "activities.pmtiles").exists()


def test_missing_credentials_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RIDELINES_API_KEY", raising=False)
    monkeypatch.delenv("RIDELINES_TOKEN", raising=False)
    assert main(["sync", "--out", str(tmp_path)]) == 2
    assert "--api-key" in capsys.readouterr().err


def test_real_process_prints_one_json_line_and_no_traceback(env: IntervalsStandin, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ridelines",
            "sync",
            "--out",
            str(tmp_path / "o"),
            "--token",
            env.issue_token("i1001"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**__import__("os").environ, "INTERVALS_URL": env.base_url},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip())["counts"]["downloaded"] == 4
    assert "Traceback" not in done.stderr


def test_unreachable_intervals_url_exits_2_at_once_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from ridelines.intervals.client import IntervalsClient

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: connection refused
    monkeypatch.setenv("INTERVALS_URL", url)
    made: list[IntervalsClient] = []
    original_init = IntervalsClient.__init__

    def spy(self: IntervalsClient, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(IntervalsClient, "__init__", spy)
    code = main(["sync", "--out", str(tmp_path / "o"), "--api-key", "k3y"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert url in err and "cannot connect" in err and "k3y" not in err
    assert [c.requests_made for c in made] == [1]  # no retries, no backoff: a wrong URL, said at once


def test_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    from ridelines.models import SyncCounts, SyncPhase
    from ridelines_local.commands.sync import TqdmReporter

    reporter = TqdmReporter(enabled=True)
    reporter.phase(SyncPhase.LIST)
    reporter.planned(3)
    for done in range(1, 4):
        reporter.progress(SyncCounts(downloaded=done))
    reporter.phase(SyncPhase.PUBLISH)
    reporter.close()
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout is only for the JSON summary
    assert "3/3" in captured.err and "activity" in captured.err
