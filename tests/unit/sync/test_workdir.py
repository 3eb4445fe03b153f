"""Each leg's scratch folder, and the sweep of what killed runs left in /tmp."""

from __future__ import annotations

import os
from pathlib import Path

from ridelines.pipeline.workdir import PREFIX, LegScratch, sweep


def test_leftovers_of_dead_runs_go_live_ones_stay(tmp_path: Path) -> None:
    mine_dead = tmp_path / f"{PREFIX}{os.getpid()}-old"  # this pid, not live here: a restarted runtime
    mine_dead.mkdir()
    (mine_dead / "batch.zst").write_bytes(b"x")
    other_live = tmp_path / f"{PREFIX}1-other"  # pid 1 is alive: another process's leg
    other_live.mkdir()
    unrelated = tmp_path / "somebody-elses"
    unrelated.mkdir()
    with LegScratch(tmp_path) as scratch:
        assert scratch.is_dir() and not mine_dead.exists()
        assert other_live.exists() and unrelated.exists()
        assert sweep(tmp_path) == 0  # a live leg of this process is never swept
        assert scratch.exists()
    assert not scratch.exists()


def test_get_sync_never_shows_running_past_the_lease() -> None:
    """The account service (``GET /api/sync``) shows an expired active sync as failed."""
    from datetime import UTC, datetime, timedelta
    from typing import Any

    from ridelines.adapters.memory import (
        MemoryBlobStore,
        MemorySyncStateRepository,
        MemoryUserRepository,
        RecordingInvalidator,
        RecordingInvoker,
    )
    from ridelines.api.account import AccountService
    from ridelines.models import SyncStatus

    now = {"t": datetime(2026, 1, 1, tzinfo=UTC)}
    syncs = MemorySyncStateRepository()
    unused: Any = None
    account = AccountService(
        users=MemoryUserRepository(),
        syncs=syncs,
        blobs=MemoryBlobStore(),
        invalidator=RecordingInvalidator(),
        invoker=RecordingInvoker(),
        cipher=unused,
        intervals=unused,
        clock=lambda: now["t"],
    )
    syncs.acquire("a1", "s1", full=False, now=now["t"], lease_seconds=600)
    assert account.sync_status("a1").status is SyncStatus.QUEUED
    now["t"] += timedelta(seconds=601)
    seen = account.sync_status("a1")
    assert seen.status is SyncStatus.FAILED and "stopped responding" in (seen.error or "")
