"""A leg that runs out of time while tiling parts hands publishing to a fresh leg, which reuses
the parts already stored and publishes the whole map."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.fitgen import ride
from ridelines.adapters.local import FileBlobStore
from ridelines.adapters.memory import MemorySyncStateRepository, RecordingInvoker
from ridelines.intervals import Credentials, IntervalsClient, TokenBucket
from ridelines.models import SyncRequest
from ridelines.pipeline import sync as sync_module
from ridelines.pipeline.sync import LegStatus, SyncJob, SyncLayout, SyncSettings, run_leg
from ridelines.publish import FileTilesPublisher
from ridelines.tile_parts import build_tiles_in_parts, parts_prefix
from ridelines_local.standin.intervals import IntervalsStandin

T0 = datetime(2023, 6, 1, 7, tzinfo=UTC)


@pytest.fixture
def standin() -> Iterator[IntervalsStandin]:
    stand = IntervalsStandin(rate_limit_per_second=500.0, burst=100)
    stand.add_athlete("i8", name="Rider", api_key="k8")
    for n in range(4):  # two years: two parts
        stand.add_activity("i8", activity_id=f"h{n}", fit_bytes=ride(n, T0 + timedelta(days=200 * n), 0.05))
    stand.start()
    yield stand
    stand.stop()


def test_out_of_time_while_tiling_continues_in_a_new_leg(
    standin: IntervalsStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    legs = {"short_of_time": True}
    tiled: list[list[str]] = []

    def deadline_near(*args: Any, **kwargs: Any) -> Any:
        if legs["short_of_time"]:  # time for one part only
            kwargs["out_of_time"] = lambda: (
                len(list(blobs.list_keys(parts_prefix("activities.geojson.zst")))) >= 1
            )
        result = build_tiles_in_parts(*args, **kwargs)
        tiled.append(result.tiled)
        return result

    monkeypatch.setattr(sync_module, "build_tiles_in_parts", deadline_near)
    out = tmp_path / "out"
    blobs = FileBlobStore(out)
    states = MemorySyncStateRepository()
    states.acquire("i8", "s", full=False, now=datetime.now(UTC), lease_seconds=600)
    invoker = RecordingInvoker()
    publisher = FileTilesPublisher(out / "activities.pmtiles")

    def leg(request: SyncRequest) -> Any:
        with tempfile.TemporaryDirectory() as work:
            return run_leg(
                SyncJob(
                    request=request,
                    client_factory=lambda: IntervalsClient(
                        Credentials(api_key="k8"), base_url=standin.base_url, rate_limiter=TokenBucket(400.0)
                    ),
                    blobs=blobs,
                    layout=SyncLayout.folder(),
                    publisher=publisher,
                    states=states,
                    workdir=Path(work),
                    invoker=invoker,
                    settings=SyncSettings(workers=2, early_maps=True),
                )
            )

    first = leg(SyncRequest(athlete_id="i8", sync_id="s"))
    assert first.status is LegStatus.CONTINUED and first.checkpoint and first.checkpoint["phase"] == "publish"
    assert not (out / "activities.pmtiles").exists() and not (out / "activities.index").exists()
    legs["short_of_time"] = False
    second = leg(SyncRequest(**invoker.payloads[-1]))
    assert second.status is LegStatus.SUCCEEDED and second.counts.downloaded == 4
    assert len(tiled[-1]) == 1  # the part stored by the first leg was reused
    assert (out / "activities.pmtiles").exists() and standin.count("GET", "/api/v1/activity/") == 4
