"""``ridelines convert`` pauses the cyclic GC while it converts (a long ride is ~1M acyclic objects
the collector would rescan for nothing) and always turns it back on: ``main`` also runs in-process."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from ridelines_local.cli import main
from ridelines_local.commands import convert

ROOT = Path(__file__).resolve().parents[3]
RIDE = ROOT / "tests/data/fit/python-fitparse/garmin-edge-820-bike.fit"


def test_gc_is_off_while_converting_and_back_on_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    real = convert.decode_track

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(convert, "decode_track", spy)
    out = tmp_path / "ride.geojson"
    assert gc.isenabled()
    assert main(["convert", str(RIDE), "-o", str(out)]) == 0
    assert seen == [False] and gc.isenabled()
    assert json.loads(out.read_text())["type"] == "Feature"


def test_gc_is_back_on_after_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.fit"
    bad.write_bytes(b"not a fit file at all")
    assert main(["convert", str(bad)]) == 2
    assert gc.isenabled()


def test_gc_stays_off_when_it_was_off(tmp_path: Path) -> None:
    gc.disable()
    try:
        assert main(["convert", str(RIDE), "-o", str(tmp_path / "ride.geojson")]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
