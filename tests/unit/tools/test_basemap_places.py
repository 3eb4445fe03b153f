"""web/basemap/places.json is exactly what tools/basemap_places.cjs makes from the pinned data."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_the_committed_places_are_the_generators_output() -> None:
    node = shutil.which("node")
    assert node, "node is needed (make setup installs the npm packages with it)"
    made = subprocess.run(
        [node, "tools/basemap_places.cjs"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    assert made == (REPO / "web" / "basemap" / "places.json").read_text()


def test_every_capital_and_every_city_of_a_million_is_there_biggest_first() -> None:
    places = json.loads((REPO / "web" / "basemap" / "places.json").read_text())["places"]
    names = {(p["name"], p["country"]) for p in places}
    assert {("Paris", "FR"), ("Bern", "CH"), ("Ottawa", "CA"), ("Toronto", "CA")} <= names
    assert all(p["capital"] or p["population"] >= 1_000_000 for p in places)
    populations = [p["population"] for p in places]
    assert populations == sorted(populations, reverse=True)
    assert all(-180 <= p["lon"] <= 180 and -90 <= p["lat"] <= 90 for p in places)
