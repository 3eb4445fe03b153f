"""The zstd NDJSON archive: canonical lines, streaming rewrite, damaged input."""

from __future__ import annotations

import json
from pathlib import Path

import zstandard

from ridelines.archive import (
    ArchiveWriter,
    encode_feature,
    iter_features,
    iter_lines,
    line_activity_id,
    rewrite_archive,
)


def feature(activity_id: str, name: str = "ride") -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[1.0, 2.0], [1.5, 2.5]]},
        "properties": {"name": name, "id": activity_id, "type": "Ride"},
    }


def write(path: Path, features: list[dict]) -> None:
    with ArchiveWriter(path) as writer:
        for f in features:
            writer.write_feature(f)


def test_lines_are_canonical_and_ids_read_without_full_parse() -> None:
    line = encode_feature(feature('we"ird\\id'))
    assert line.startswith(b'{"type":"Feature","properties":{"id":')
    assert line.endswith(b"\n")
    assert line_activity_id(line) == 'we"ird\\id'
    assert json.loads(line)["geometry"]["type"] == "LineString"


def test_archive_is_zstd_ndjson(tmp_path: Path) -> None:
    path = tmp_path / "a.geojson.zst"
    write(path, [feature("a1"), feature("a2")])
    text = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read().decode()
    assert [json.loads(x)["properties"]["id"] for x in text.splitlines()] == ["a1", "a2"]
    assert [f["properties"]["id"] for f in iter_features(path)] == ["a1", "a2"]


def test_rewrite_drops_unkept_and_appends_additions(tmp_path: Path) -> None:
    old, new = tmp_path / "old.zst", tmp_path / "new.zst"
    write(old, [feature("a1"), feature("a2", "old name"), feature("a3")])
    written = rewrite_archive(
        old,
        new,
        keep=lambda i: i != "a2" and i != "a3",
        additions=[encode_feature(feature("a2", "new name")), encode_feature(feature("a4"))],
    )
    got = {f["properties"]["id"]: f["properties"]["name"] for f in iter_features(new)}
    assert got == {"a1": "ride", "a2": "new name", "a4": "ride"}
    assert written == {"a1", "a2", "a4"}


def test_missing_old_archive_is_empty(tmp_path: Path) -> None:
    assert list(iter_lines(tmp_path / "none.zst")) == []
    new = tmp_path / "new.zst"
    assert rewrite_archive(None, new, keep=lambda _i: True) == set()
    assert list(iter_features(new)) == []


def test_damaged_old_archive_keeps_what_it_can_and_reports_the_rest(tmp_path: Path) -> None:
    old, new = tmp_path / "old.zst", tmp_path / "new.zst"
    write(old, [feature(f"a{n}") for n in range(50)])
    raw = old.read_bytes()
    old.write_bytes(raw[: len(raw) // 2])  # truncated upload
    written = rewrite_archive(old, new, keep=lambda _i: True, additions=[encode_feature(feature("b1"))])
    assert "b1" in written
    assert written == {f["properties"]["id"] for f in iter_features(new)}


def test_rewrite_streams_in_memory_far_below_the_archive_size(tmp_path: Path) -> None:
    """Constant memory: the rewrite holds a line or a buffer at a time, never the archive."""
    import tracemalloc

    old, new = tmp_path / "old.zst", tmp_path / "new.zst"
    coordinates = [[7.0 + n * 1e-5, 46.0 + n * 1e-5] for n in range(2000)]  # ~50 KB per line
    count = 800
    with ArchiveWriter(old) as writer:
        for n in range(count):
            writer.write_feature(
                {**feature(f"a{n}"), "geometry": {"type": "LineString", "coordinates": coordinates}}
            )
    uncompressed = sum(len(line) for line in iter_lines(old))
    assert uncompressed > 25_000_000
    additions = (encode_feature(feature(f"b{n}")) for n in range(100))

    tracemalloc.start()
    try:
        written = rewrite_archive(old, new, keep=lambda i: i != "a7", additions=additions)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(written) == count - 1 + 100
    # a whole-archive read would need > 25 MB; streaming needs a few buffers (1 MB reader + lines)
    assert peak < uncompressed / 8, f"peak {peak / 1e6:.1f} MB for a {uncompressed / 1e6:.1f} MB archive"
