"""Agreement with other decoders' published outputs (tests/data/fit, see its README).

GPSBabel (``-i garmin_fit -o gpx``): our kept samples are exactly its ``<trkpt>`` (it also drops
invalid positions), and our pause marks are exactly its ``<trkseg>`` starts (a new segment at a
timer start after a stop). Deliberate differences, asserted below:
* we also split at time gaps over MAX_GAP_S (oregon-700: its 1896 s gap without a pause);
* we collapse consecutive identical positions and drop segments left with < 2 points
  (wahoo-element-bolt: two stationary 5- and 6-fix segments; edge-800, lezyne: fewer points);
* a course file (fitwrite-track) and a file with only invalid positions (vivosmart-hr, which
  GPSBabel's ``allpoints`` mode writes at 0,0) give no track.

python-fitparse (FIT SDK CSV dumps): same semicircle positions and altitudes at the same
timestamps (CSV in PDT = UTC-7); the compressed-timestamp file has the same record times.
"""

from __future__ import annotations

import csv
import itertools
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ridelines import fit
from ridelines.features import decode_track
from ridelines.fit import profile as p
from ridelines.fit.activity import ActivityBuilder
from ridelines.fit.fast import decode_fast
from ridelines.tracks import MAX_GAP_S

CORPUS = Path(__file__).resolve().parents[2] / "data" / "fit"
GPSBABEL = CORPUS / "gpsbabel" / "track"
SEMI = 180 / 2**31

# fit name -> (gpx name, GPSBabel's segment count, our segment count after gap split/collapse)
GPX_PAIRS = {
    "garmin-edge-800": ("garmin-edge-800-output.gpx", 8, 8),
    "garmin-forerunner-10": ("garmin-forerunner-10-output.gpx", 7, 7),
    "wahoo-element-bolt": ("wahoo-element-bolt.gpx", 4, 2),
    "lezyne_super_gps-garmin_fit-sample-bad-endian": (
        "lezyne_super_gps-garmin_fit-sample-bad-endian.gpx",
        4,
        4,
    ),
    "garmin-oregon-700": ("garmin-oregon-700-output.gpx", 1, 2),
    "fit-sample": ("fit-sample.gpx", 1, 1),
    "garmin-virb-ultra-30": ("garmin-virb-ultra-30-output.gpx", 1, 1),
}
_TRKPT = re.compile(r'<trkpt lat="([-\d.]+)" lon="([-\d.]+)"')


def _gpx_segments(path: Path) -> list[list[tuple[float, float]]]:
    text = path.read_text()
    track = text[text.find("<trk>") :]
    return [[(float(a), float(b)) for a, b in _TRKPT.findall(seg)] for seg in track.split("<trkseg>")[1:]]


@pytest.mark.parametrize("name", sorted(GPX_PAIRS))
def test_gpsbabel_points_and_pause_segments(name: str) -> None:
    gpx_name, gpsbabel_segments, our_segments = GPX_PAIRS[name]
    segments = _gpx_segments(GPSBABEL / gpx_name)
    assert len(segments) == gpsbabel_segments
    activity = fit.decode((GPSBABEL / f"{name}.fit").read_bytes(), name)
    theirs = [pt for seg in segments for pt in seg]
    ours = [(lat * SEMI, lon * SEMI) for _, lat, lon, _, _ in activity.samples]
    assert len(ours) == len(theirs)
    for (lat, lon), (tlat, tlon) in zip(ours, theirs, strict=True):
        assert lat == pytest.approx(tlat, abs=1e-9) and lon == pytest.approx(tlon, abs=1e-9)
    starts, total = [], 0
    for seg in segments:
        starts.append(total)
        total += len(seg)
    assert [i for i, s in enumerate(activity.samples) if s[4]] == starts
    assert len(decode_track((GPSBABEL / f"{name}.fit").read_bytes(), name).track.segments) == our_segments


def test_oregon_extra_segment_is_the_long_gap() -> None:
    track = decode_track((GPSBABEL / "garmin-oregon-700.fit").read_bytes()).track
    assert (track.split_pause, track.split_gap, track.split_jump) == (0, 1, 0)
    activity = fit.decode((GPSBABEL / "garmin-oregon-700.fit").read_bytes())
    times = [s[0] for s in activity.samples if s[0] is not None]
    assert max(b - a for a, b in itertools.pairwise(times)) > MAX_GAP_S


@pytest.mark.parametrize("name", ["garmin-vivosmart-hr", "fitwrite-track"])
def test_gpsbabel_files_we_do_not_draw(name: str) -> None:
    assert not decode_track((GPSBABEL / f"{name}.fit").read_bytes()).has_track


PDT = timezone(timedelta(hours=-7))


def _fit_seconds(text: str) -> int:
    moment = datetime.strptime(text.replace(" PDT ", " "), "%a %b %d %H:%M:%S %Y").replace(tzinfo=PDT)
    return int(moment.timestamp()) - p.FIT_EPOCH_UNIX


class _AllRecords(ActivityBuilder):
    """Keeps every record in file order: (timestamp, lat, lon, altitude) - None when invalid."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int | None, int | None, int | None, float | None]] = []

    def record(self, timestamp, lat, lon, enhanced_altitude, altitude):  # type: ignore[no-untyped-def]
        before = len(self.activity.samples)
        super().record(timestamp, lat, lon, enhanced_altitude, altitude)
        if len(self.activity.samples) > before:
            _, la, lo, alt, _ = self.activity.samples[-1]
            self.rows.append((timestamp, la, lo, alt))
        else:
            self.rows.append((timestamp, None, None, None))

    def record_without_position(self, timestamp: int | None) -> None:
        super().record_without_position(timestamp)
        self.rows.append((timestamp, None, None, None))


@pytest.mark.parametrize("name", ["garmin-edge-500-activity", "garmin-edge-820-bike", "garmin-fenix-5-bike"])
def test_fitparse_csv_positions(name: str) -> None:
    folder = CORPUS / "python-fitparse"
    builder = _AllRecords()
    decode_fast((folder / f"{name}.fit").read_bytes(), builder, name)
    with open(folder / f"{name}-records.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(builder.rows)
    valid = 0
    for row, (ts, lat, lon, alt) in zip(rows, builder.rows, strict=True):
        assert ts == _fit_seconds(row["timestamp"])
        if lat is None:
            continue  # invalid position: the SDK tool repeats the last valid one instead
        assert (lat, lon) == (int(row["position_lat"]), int(row["position_long"]))
        assert alt == pytest.approx(float(row["altitude"]), abs=1e-6)
        valid += 1
    assert valid == len(builder.activity.samples) == len(rows) - builder.activity.invalid_positions


class _RecordTimes(ActivityBuilder):
    def __init__(self) -> None:
        super().__init__()
        self.times: list[int | None] = []

    def record_without_position(self, timestamp: int | None) -> None:
        super().record_without_position(timestamp)
        self.times.append(timestamp)


def test_compressed_timestamps_match_fitparse_csv() -> None:
    folder = CORPUS / "python-fitparse"
    builder = _RecordTimes()
    decode_fast((folder / "compressed-speed-distance.fit").read_bytes(), builder, "csd")
    with open(folder / "compressed-speed-distance-records.csv", newline="") as f:
        expected = [int(row[0]) for row in csv.reader(f) if row and row[0].isdigit()]
    assert len(expected) == 754
    assert builder.times[1:] == expected  # the first record is the empty one the CSV skips
