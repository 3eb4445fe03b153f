"""A first sync publishes early maps of its newest rides, then the whole history; a later sync
publishes once. Real pipeline (one leg), stand-in over HTTP, real Tippecanoe."""

from __future__ import annotations

import gzip
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from pmtiles.reader import MmapSource, Reader, all_tiles

from bench.fitgen import ride
from ridelines.adapters.local import FileBlobStore
from ridelines.adapters.memory import MemorySyncStateRepository
from ridelines.intervals import Credentials, IntervalsClient, TokenBucket
from ridelines.models import SyncRequest
from ridelines.pipeline import early_map
from ridelines.pipeline.sync import LegStatus, SyncJob, SyncLayout, SyncSettings, run_leg
from ridelines.publish import FileTilesPublisher, PublishResult
from ridelines_local.standin.intervals import IntervalsStandin

RIDES = 20
WORKERS = 2
T0 = datetime(2025, 1, 1, 7, 0, tzinfo=UTC)


def ids_in(path: Path) -> set[str]:
    found: set[str] = set()
    with open(path, "rb") as f:
        for _zxy, data in all_tiles(Reader(MmapSource(f)).get_bytes):
            layer = mapbox_vector_tile.decode(gzip.decompress(data)).get("activities", {"features": []})
            found.update(str(feature["properties"]["id"]) for feature in layer["features"])
    return found


class RecordingPublisher(FileTilesPublisher):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.maps: list[set[str]] = []
        self.published = threading.Event()

    def publish(self, pmtiles: Path, products: Any = None) -> PublishResult:
        self.maps.append(ids_in(pmtiles))
        result = super().publish(pmtiles, products)
        self.published.set()
        return result


@pytest.fixture
def standin() -> Iterator[IntervalsStandin]:
    stand = IntervalsStandin(rate_limit_per_second=500.0, burst=100)
    stand.add_athlete("i5", name="Early Rider", api_key="early-key")
    for n in range(RIDES):  # r0 is the oldest; one a day
        stand.add_activity("i5", activity_id=f"r{n}", fit_bytes=ride(n, T0 + timedelta(days=n), 0.05))
    stand.start()
    yield stand
    stand.stop()


class GatedClient(IntervalsClient):
    """Holds every download but the first ``WORKERS * 2`` until ``gate`` opens: rides keep arriving
    after the first map (a small account's downloads would otherwise all end before its first
    early map is built, and the final merge publishes alone)."""

    gate: threading.Event | None = None
    newest = {f"r{n}" for n in range(RIDES - WORKERS * 2, RIDES)}

    def download_file(self, activity_id: str) -> Any:
        if self.gate is not None and activity_id not in self.newest:
            self.gate.wait(timeout=60)
        return super().download_file(activity_id)


def sync(
    standin: IntervalsStandin, out: Path, publisher: RecordingPublisher, gate: threading.Event | None = None
) -> None:
    states = MemorySyncStateRepository()
    states.acquire("i5", "s", full=False, now=datetime.now(UTC), lease_seconds=600)

    def client() -> IntervalsClient:
        made = GatedClient(
            Credentials(api_key="early-key"), base_url=standin.base_url, rate_limiter=TokenBucket(400.0)
        )
        made.gate = gate
        return made

    with tempfile.TemporaryDirectory() as work:
        job = SyncJob(
            request=SyncRequest(athlete_id="i5", sync_id="s"),
            client_factory=client,
            blobs=FileBlobStore(out),
            layout=SyncLayout.folder(),
            publisher=publisher,
            states=states,
            workdir=Path(work),
            # per-file downloads, so the gate holds them (batches with early maps: bench_first_sync)
            settings=SyncSettings(workers=WORKERS, batch_size=3, early_maps=True, batch_downloads=False),
        )
        assert run_leg(job).status is LegStatus.SUCCEEDED


def test_first_sync_publishes_the_newest_rides_first_then_everything(
    standin: IntervalsStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(early_map, "GROWTH", 2)
    out = tmp_path / "out"
    publisher = RecordingPublisher(out / "activities.pmtiles")
    sync(standin, out, publisher, gate=publisher.published)  # the older rides wait for the first map
    every = {f"r{n}" for n in range(RIDES)}
    assert len(publisher.maps) >= 2 and publisher.maps[-1] == every
    first = publisher.maps[0]
    # the first commit's rides: the newest (fetched newest first); the growth publishes are tested
    # in tests/unit/pipeline/test_early_maps.py
    assert len(first) >= 3 and first <= GatedClient.newest
    sizes = [len(m) for m in publisher.maps]
    assert sizes == sorted(sizes)  # each early map holds more of the history
    assert all(m <= every for m in publisher.maps)

    again = RecordingPublisher(out / "activities.pmtiles")
    standin.add_activity("i5", activity_id="new", fit_bytes=ride(99, T0 + timedelta(days=40), 0.05))
    sync(standin, out, again)
    assert again.maps == [every | {"new"}]  # not a first sync: one publish, no early maps
