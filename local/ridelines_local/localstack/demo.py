"""The demo athlete of the local stack: real rides from the repository's FIT corpus.

Files come from ``tests/data/fit`` (byte-identical copies of public test data, provenance in
``tests/data/PROVENANCE.md``), chosen from MIT/BSD-licensed sources: three road rides around
Toronto from different devices and years, a ride and a mountain-bike ride around Atlanta, a Zwift
ride (virtual: stays off the map) and an indoor trainer session without GPS (no track).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ridelines_local.standin.intervals import IntervalsStandin

DEMO_ATHLETE_ID = "i1001"
DEMO_ATHLETE_NAME = "Demo Rider"


@dataclass(frozen=True)
class Sample:
    path: str  # relative to tests/data/fit
    name: str
    type: str | None = None  # None: the stand-in reads it from the FIT file
    trainer: bool = False


SAMPLES: tuple[Sample, ...] = (
    Sample("python-fitparse/sample-activity.fit", "Lakeshore evening ride"),  # Edge 500, 2011, MIT
    Sample("python-fitparse/garmin-edge-500-activity.fit", "North to the Oak Ridges"),  # Edge 500, 2011, MIT
    Sample("tormoder-fit/bpg/garmin.fit", "Don Valley loop"),  # Edge 530, 2020, MIT
    Sample("fit-file-faker/karoo_20251119.fit", "Atlanta BeltLine ride"),  # Karoo, 2025, MIT
    Sample("fit-file-faker/coros_20251118.fit", "Trails at night"),  # Coros MTB, 2025, MIT
    Sample("fit-file-faker/zwift_20250401.fit", "Zwift - Watopia"),  # virtual, MIT
    Sample("python-fitparse/sample-activity-indoor-trainer.fit", "Trainer intervals", trainer=True),  # no GPS
)


def seed_standin(standin: IntervalsStandin, fit_root: Path) -> int:
    """Add the demo athlete and the samples to a stand-in; returns the number of activities."""
    standin.add_athlete(DEMO_ATHLETE_ID, name=DEMO_ATHLETE_NAME)
    for n, sample in enumerate(SAMPLES, start=1):
        standin.add_activity(
            DEMO_ATHLETE_ID,
            activity_id=f"a{n}",
            fit_bytes=(fit_root / sample.path).read_bytes(),
            name=sample.name,
            type=sample.type,
            trainer=sample.trainer,
        )
    return len(SAMPLES)
