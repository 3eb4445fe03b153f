"""Property tests over mutated and truncated real files: nothing but FitDecodeError escapes.

Small real files (several devices, compressed timestamps, developer fields, chained) are cut,
bit-flipped, spliced, and re-checksummed (so corrupted structure gets past the CRC and reaches
the parser), then fed to the public entry point and to the fitdecode reference path.
"""

from __future__ import annotations

import contextlib
import gzip
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ridelines import fit
from ridelines.errors import FitDecodeError
from ridelines.features import fit_to_feature
from ridelines.fit.crc import crc16

CORPUS = Path(__file__).resolve().parents[2] / "data" / "fit"
SEEDS = [
    (CORPUS / name).read_bytes()
    for name in (
        "python-fitparse/garmin-edge-820-bike.fit",
        "python-fitparse/activity-settings.fit",
        "python-fitparse/antfs-dump.63.fit",
        "python-fitparse/elemnt-bolt-no-application-id-inside-developer-data-id.fit",
        "gpsbabel/track/garmin-vivosmart-hr.fit",
        "gpsbabel/track/fitwrite-track.fit",
        "tormoder-fit/misc/unterminated-strings.fit",
        "muktihari-fit/valid_only_contain_fileid.fit",
    )
]
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _chained_file_ends(data: bytes) -> set[int]:
    """Where each FIT file of a chain ends (header size + data size + 2-byte CRC)."""
    ends, pos = set(), 0
    while pos + 12 <= len(data):
        header_size, data_size = data[pos], int.from_bytes(data[pos + 4 : pos + 8], "little")
        pos += header_size + data_size + 2
        ends.add(pos)
    return ends


def _refresh_crc(data: bytes) -> bytes:
    """Recompute the trailing CRC of a single (unchained) FIT file so corruption reaches the parser."""
    if len(data) < 16:
        return data
    return data[:-2] + crc16(data[:-2]).to_bytes(2, "little")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "set", "cut", "delete", "insert", "duplicate"]))
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[i] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x40, 0x80, 0xE0]))
        elif kind == "cut":
            del data[i:]
        elif kind == "delete":
            del data[i : i + draw(st.integers(1, 16))]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:
            j = draw(st.integers(i, min(len(data), i + 64)))
            data[i:i] = data[i:j]
    out = bytes(data)
    if draw(st.booleans()):
        out = _refresh_crc(out)
    if draw(st.integers(0, 9)) == 0:
        out = gzip.compress(out)
    return out


@EXAMPLES
@given(mutated())
def test_only_fit_decode_error_escapes(data: bytes) -> None:
    try:
        feature = fit_to_feature(data, source="m.fit")
    except FitDecodeError as exc:
        assert exc.message.startswith("m.fit: ") and "\n" not in exc.message
        return
    if feature is not None:
        assert feature["geometry"]["type"] in ("LineString", "MultiLineString")
        assert feature["properties"]["id"]


@EXAMPLES
@given(mutated())
def test_reference_path_only_raises_fit_decode_error(data: bytes) -> None:
    with contextlib.suppress(FitDecodeError):
        fit.decode(data, "m.fit", reference=True)


@EXAMPLES
@given(st.sampled_from(SEEDS), st.data())
def test_any_truncation_is_salvaged_or_rejected(seed: bytes, data: st.DataObject) -> None:
    # A cut exactly where a chained file ends leaves whole, valid files: nothing to detect.
    cut = data.draw(st.integers(0, len(seed) - 1).filter(lambda c: c not in _chained_file_ends(seed)))
    try:
        activity = fit.decode(seed[:cut], "t.fit")
    except FitDecodeError as exc:
        assert "t.fit" in exc.message
        return
    assert activity.truncated is not None
    assert len(activity.samples) >= fit.MIN_SALVAGED_POSITIONS


@EXAMPLES
@given(mutated())
def test_fast_and_reference_agree_when_both_accept(data: bytes) -> None:
    try:
        fast = fit.decode(data, "m.fit")
        ref = fit.decode(data, "m.fit", reference=True)
    except FitDecodeError:
        return
    assert fast.samples == ref.samples
    assert fast.records == ref.records
