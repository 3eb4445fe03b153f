"""``ridelines sync --out DIR``: the rides list and explorer layer beside the map, the summary's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ridelines.archive import iter_features
from ridelines.explorer import ExplorerAccumulator
from ridelines_local.cli import main
from ridelines_local.standin.intervals import IntervalsStandin


def sync(out: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(["sync", "--out", str(out), "--api-key", "demo-api-key", "--quiet"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == 0
    return json.loads(lines[-1])


def test_sync_writes_rides_and_explorer_and_reports_the_explorer_numbers(
    standin: IntervalsStandin,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INTERVALS_URL", standin.base_url)
    out = tmp_path / "out"
    summary = sync(out, capsys)
    features = list(iter_features(out / "activities.geojson.zst"))
    expected = ExplorerAccumulator()
    for feature in features:
        if not feature["properties"].get("virtual"):
            expected.add(feature)
    document = expected.document()
    assert json.loads((out / "explorer.json").read_bytes()) == document
    assert summary["explorer"] == {
        "tiles": len(document["tiles"]),
        "max_square": document["max_square"]["size"],
    }
    assert summary["explorer"]["tiles"] > 10

    rides = json.loads((out / "rides.json").read_bytes())["rides"]
    outdoor = {f["properties"]["id"] for f in features if not f["properties"].get("virtual")}
    assert {r["id"] for r in rides} == outdoor and len(outdoor) == 3

    # nothing changed: nothing republished, the same numbers reported from the stored layer
    again = sync(out, capsys)
    assert again["published"] is False and again["explorer"] == summary["explorer"]

    # a folder synced before the rides list existed gets it without downloading anything
    (out / "rides.json").unlink()
    downloads = standin.count("GET", "/api/v1/activity/")
    third = sync(out, capsys)
    assert third["published"] is True and (out / "rides.json").exists()
    assert standin.count("GET", "/api/v1/activity/") == downloads
