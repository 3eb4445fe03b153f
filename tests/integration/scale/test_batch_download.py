"""Batch downloads (``download-fit-files``) against the stand-in, through the command line's sync.

The batch path gives the same tracks as the per-file path on the same rides, whether the zip
names its entries by id or opaquely (then matched by the file's own start time); a failing batch
is retried smaller and loses no ride; Strava stubs and unknown ids are left out of the zip; an
entry that cannot be attached without doubt goes to the per-file path instead of a wrong ride.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.fitgen import ride
from ridelines.archive import iter_features
from ridelines.intervals import batch
from ridelines.intervals.models import IntervalsActivity
from ridelines_local.cli import main
from ridelines_local.standin.intervals import IntervalsStandin

ATHLETE = "i42"
RIDES = 14
T0 = datetime(2024, 3, 1, 7, 0, tzinfo=UTC)


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[IntervalsStandin]:
    stand = IntervalsStandin(rate_limit_per_second=500.0, burst=100)
    stand.add_athlete(ATHLETE, name="Batch Rider", api_key="batch-key")
    for n in range(RIDES):
        stand.add_activity(ATHLETE, activity_id=f"b{n}", fit_bytes=ride(n, T0 + timedelta(days=n), 0.05))
    stand.add_strava_stub(ATHLETE, "s1")
    stand.start()
    monkeypatch.setenv("INTERVALS_URL", stand.base_url)
    yield stand
    stand.stop()


def sync(out: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(["sync", "--out", str(out), "--api-key", "batch-key"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == 0
    return json.loads(lines[-1])


def tracks(out: Path) -> dict[str, dict]:
    return {f["properties"]["id"]: f for f in iter_features(out / "activities.geojson.zst")}


def per_file_downloads(standin: IntervalsStandin) -> int:
    return standin.count("GET", "/api/v1/activity/")


def batch_requests(standin: IntervalsStandin) -> int:
    return standin.count("POST", "/api/v1/athlete/")  # the only POST there: download-fit-files


@pytest.fixture
def per_file_tracks(
    standin: IntervalsStandin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, dict]:
    with monkeypatch.context() as patch:
        patch.setattr(batch, "MIN_ACTIVITIES_FOR_BATCHES", 10**9)
        sync(tmp_path / "per-file", capsys)
    assert batch_requests(standin) == 0 and per_file_downloads(standin) == RIDES
    standin.requests.clear()
    return tracks(tmp_path / "per-file")


@pytest.mark.parametrize("names", ["id", "opaque"])
def test_batches_give_the_per_file_tracks(
    standin: IntervalsStandin,
    per_file_tracks: dict[str, dict],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    names: str,
) -> None:
    standin.batch_entry_names = names
    summary = sync(tmp_path / "batched", capsys)
    assert summary["counts"]["downloaded"] == RIDES and summary["counts"]["failed"] == 0
    assert per_file_downloads(standin) == 0  # every ride came from a batch
    assert 1 <= batch_requests(standin) <= 2
    assert tracks(tmp_path / "batched") == per_file_tracks


def test_a_failing_batch_is_retried_smaller_and_loses_no_ride(
    standin: IntervalsStandin,
    per_file_tracks: dict[str, dict],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    standin.faults.inject("download-fit-files", "truncate", times=1)  # a cut zip, then fine
    standin.faults.inject("download-fit-files", "500", times=5)  # one batch exhausts its retries
    summary = sync(tmp_path / "batched", capsys)
    assert summary["counts"]["failed"] == 0
    assert tracks(tmp_path / "batched") == per_file_tracks
    assert batch_requests(standin) > 2  # the failed batch was retried in smaller ones


def test_the_zip_leaves_out_strava_unknown_and_other_athletes(standin: IntervalsStandin) -> None:
    standin.add_athlete("i99", name="Other")
    standin.add_activity("i99", activity_id="o1", fit_bytes=ride(99, T0, 0.05))
    body = standin.fit_files_zip(ATHLETE, ["b1", "s1", "nope", "o1", "b2", "b1"])
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert sorted(archive.namelist()) == ["b1.fit", "b2.fit"]


def activity(activity_id: str, start: datetime) -> IntervalsActivity:
    return IntervalsActivity(id=activity_id, start_date=start, type="Ride")


def make_zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_entries_are_never_attached_to_the_wrong_ride() -> None:
    a, b, c = (
        ride(1, T0, 0.02),
        ride(2, T0 + timedelta(hours=1), 0.02),
        ride(3, T0 + timedelta(hours=2), 0.02),
    )
    wanted = [
        activity("11", T0),
        activity("12", T0 + timedelta(hours=1)),
        activity("13", T0 + timedelta(hours=2)),
    ]
    # by id in the name (also inside a longer name), by start time for an opaque name
    matched = batch.match_entries(make_zip({"export/12.fit": b, "ride_11.fit": a, "x.fit": c}), wanted)
    assert matched == {"11": a, "12": b, "13": c}
    # two listed rides starting together: an opaque entry cannot be attached to either
    twins = [activity("21", T0), activity("22", T0)]
    assert batch.match_entries(make_zip({"x.fit": a}), twins) == {}
    # two entries claiming one id: neither is trusted
    assert batch.match_entries(make_zip({"11.fit": a, "11 (1).fit": b}), wanted) == {}
    # a file whose start matches no requested ride, and a file that is not FIT, are left out
    assert (
        batch.match_entries(
            make_zip({"y.fit": ride(4, T0 + timedelta(days=3), 0.02), "z.fit": b"<gpx/>"}), wanted
        )
        == {}
    )
