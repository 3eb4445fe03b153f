"""The fast struct-based decoder agrees with fitdecode (the reference) on every corpus file.

Same samples (timestamp, raw semicircles, altitude, pause marks), same counts, same summary
(file_id, sports, sessions), same accept / salvage / reject decision. Two files go beyond what
fitdecode 0.11 can read (it raises ``ValueError('size')`` on a 0-byte field): there the fast
decoder must agree with everything fitdecode delivered before it gave up.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import pytest

from ridelines import fit
from ridelines.errors import FitDecodeError
from ridelines.fit.activity import ActivityBuilder, FitActivity
from ridelines.fit.errors import Truncated
from ridelines.fit.fast import decode_fast
from ridelines.fit.reference import decode_reference

CORPUS = Path(__file__).resolve().parents[2] / "data" / "fit"
FILES = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.fit"))
# fitdecode stops at a 0-byte developer field; we skip it by its declared size.
BEYOND_FITDECODE = {
    "fit-file-faker/tpv_dev_fields_20260222.fit",
    "gpsbabel/track/lezyne_super_gps-garmin_fit-sample-bad-endian.fit",
}


def _comparable(activity: FitActivity) -> dict:
    out = dataclasses.asdict(activity)
    out["truncated"] = activity.truncated is not None  # the wording differs between decoders
    return out


def _outcome(name: str, reference: bool) -> dict | str:
    try:
        return _comparable(fit.decode((CORPUS / name).read_bytes(), name, reference=reference))
    except FitDecodeError:
        return "rejected"


@pytest.mark.parametrize("name", [f for f in FILES if f not in BEYOND_FITDECODE])
def test_fast_decoder_agrees_with_fitdecode(name: str) -> None:
    assert _outcome(name, reference=False) == _outcome(name, reference=True)


@pytest.mark.parametrize("name", sorted(BEYOND_FITDECODE))
def test_fast_decoder_extends_what_fitdecode_reads(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    partial = ActivityBuilder()
    with pytest.raises(FitDecodeError, match="ValueError: size"):
        decode_reference(data, partial, name)
    fast = ActivityBuilder()
    with contextlib.suppress(Truncated):
        decode_fast(data, fast, name)
    got, ref = fast.activity, partial.activity
    assert got.samples[: len(ref.samples)] == ref.samples
    assert got.records >= ref.records > 0 or (ref.records == 0 and got.records > 0)
    assert got.file_types[: len(ref.file_types)] == ref.file_types


def test_fast_path_does_not_fall_back_on_the_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every readable corpus file takes the fast path (the fallback exists for the unknown)."""

    def no_fallback(*args: object) -> None:
        raise AssertionError("fell back to fitdecode")

    monkeypatch.setattr(fit, "decode_reference", no_fallback)
    for name in FILES:
        with contextlib.suppress(FitDecodeError):
            fit.decode((CORPUS / name).read_bytes(), name)
