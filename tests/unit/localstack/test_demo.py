from __future__ import annotations

import re
from pathlib import Path

from ridelines_local.localstack.demo import SAMPLES
from ridelines_local.standin.intervals import IntervalsStandin

DATA = Path(__file__).resolve().parents[2] / "data"


def test_demo_samples_are_shipped_with_provenance_and_a_permissive_licence() -> None:
    provenance = (DATA / "PROVENANCE.md").read_text()
    licences = dict(
        re.findall(r"^\| `fit/([\w-]+)` \| https://\S+ \| `[0-9a-f]+` \| ([^|]+)\|", provenance, re.M)
    )
    for sample in SAMPLES:
        assert (DATA / "fit" / sample.path).is_file(), sample.path
        assert f"`fit/{sample.path}`" in provenance, f"{sample.path} has no provenance row"
        licence = licences[sample.path.split("/", 1)[0]]
        assert licence.startswith(("MIT", "BSD")), (sample.path, licence)


def test_the_demo_shows_filtering_a_virtual_ride_and_a_session_without_gps() -> None:
    standin = IntervalsStandin()
    from ridelines_local.localstack.demo import seed_standin

    assert seed_standin(standin, DATA / "fit") == len(SAMPLES)
    activities = list(standin.activities.values())
    assert any(a.type == "VirtualRide" for a in activities)
    assert any(not a.has_gps for a in activities)
    assert sum(a.has_gps and a.type != "VirtualRide" for a in activities) >= 5
