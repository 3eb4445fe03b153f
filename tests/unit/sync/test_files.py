"""Sniffing what the file endpoint returns."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from ridelines.intervals.files import TruncatedFile, sniff_activity_file

FIT = (Path(__file__).resolve().parents[2] / "data/fit/python-fitparse/garmin-edge-820-bike.fit").read_bytes()


def test_plain_fit_is_recognised_by_its_signature() -> None:
    assert FIT[8:12] == b".FIT"
    assert sniff_activity_file(FIT).fit == FIT


def test_gzip_is_unwrapped() -> None:
    assert sniff_activity_file(gzip.compress(FIT)).fit == FIT
    assert sniff_activity_file(gzip.compress(gzip.compress(FIT))).fit == FIT


def test_zip_yields_the_fit_member() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
        archive.writestr("ride.FIT", FIT)
    assert sniff_activity_file(buffer.getvalue()).fit == FIT


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'<?xml version="1.0"?><gpx version="1.1">', "GPX"),
        (b"<?xml version='1.0'?>\n<TrainingCenterDatabase>", "TCX"),
        (b"hello world, not a file", "not FIT"),
        (b"", "empty"),
    ],
)
def test_other_files_are_not_fit_with_a_reason(body: bytes, reason: str) -> None:
    sniffed = sniff_activity_file(gzip.compress(body))
    assert sniffed.fit is None and reason in sniffed.reason


def test_cut_gzip_is_a_transient_truncation() -> None:
    packed = gzip.compress(FIT)
    with pytest.raises(TruncatedFile):
        sniff_activity_file(packed[: len(packed) // 2])
