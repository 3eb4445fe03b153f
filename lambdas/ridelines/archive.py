"""The per-athlete archive ``activities.geojson.zst``: zstd (level 3) newline-delimited GeoJSON.

One Feature per activity with a track, one per line. Lines are written in a canonical key order
(``type``, ``properties`` with ``id`` first, ``geometry``) so a line's activity id is read from its
first bytes without parsing the (possibly megabytes of) coordinates.

Everything here streams: reading yields one line at a time and a rewrite copies the old archive
line by line into a new file, so memory stays flat whatever the archive's size.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, BinaryIO

import zstandard

ZSTD_LEVEL = 3
# Lines that live for one sync (staging batches, an early map's input, a part's scratch copy):
# level 1 compresses these JSON lines twice as fast as 3, and no worse (measured on bench rides)
TRANSIENT_ZSTD_LEVEL = 1
_ID_PREFIX = re.compile(rb'^\{"type":"Feature","properties":\{"id":("(?:[^"\\]|\\.)*")')


def canonical_feature(feature: Mapping[str, Any]) -> dict[str, Any]:
    """The feature as its archive line holds it (canonical key order, ``id`` a string first):
    what parsing the line gives back, so products made from it equal those made from the line."""
    properties = dict(feature.get("properties") or {})
    if "id" not in properties:
        raise ValueError("feature has no properties.id")
    ordered_properties = {"id": str(properties.pop("id")), **properties}
    return {"type": "Feature", "properties": ordered_properties, "geometry": feature.get("geometry")}


def encode_feature(feature: Mapping[str, Any]) -> bytes:
    """One archive line (with its newline) in canonical key order."""
    return encode_canonical(canonical_feature(feature))


def encode_canonical(line: Mapping[str, Any]) -> bytes:
    """The archive line of a :func:`canonical_feature`."""
    return (
        json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"
    )


def line_hash(line: bytes) -> bytes:
    """An archive line's identity: what its data products, Tippecanoe line and part digest are
    keyed by."""
    return hashlib.blake2b(line, digest_size=16).digest()


def line_activity_id(line: bytes) -> str:
    match = _ID_PREFIX.match(line)
    if match:
        return str(json.loads(match.group(1)))
    return str(json.loads(line)["properties"]["id"])


def iter_lines(path: Path) -> Iterator[bytes]:
    """Every non-empty line of an archive (newline included); nothing when the file is missing."""
    if not Path(path).exists():
        return
    with open(path, "rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        with io.BufferedReader(reader, buffer_size=1 << 20) as lines:
            for line in lines:
                if line.strip():
                    yield line if line.endswith(b"\n") else line + b"\n"


def iter_features(path: Path) -> Iterator[dict[str, Any]]:
    for line in iter_lines(path):
        yield json.loads(line)


class ArchiveWriter:
    """Writes archive lines into a zstd stream (a file path or an open binary file)."""

    def __init__(self, target: Path | BinaryIO | IO[bytes], *, level: int = ZSTD_LEVEL) -> None:
        self._owns = isinstance(target, (str, Path))
        self._raw: BinaryIO | IO[bytes] = open(target, "wb") if isinstance(target, (str, Path)) else target  # noqa: SIM115
        self._stream = zstandard.ZstdCompressor(level=level).stream_writer(self._raw, closefd=False)
        self.count = 0

    def write_line(self, line: bytes) -> None:
        self._stream.write(line if line.endswith(b"\n") else line + b"\n")
        self.count += 1

    def write_feature(self, feature: Mapping[str, Any]) -> None:
        self.write_line(encode_feature(feature))

    def close(self) -> None:
        self._stream.close()
        if self._owns:
            self._raw.close()

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rewrite_archive(
    old: Path | None,
    new: Path,
    *,
    keep: Callable[[str], bool],
    additions: Iterable[bytes] = (),
) -> set[str]:
    """Copy the lines of ``old`` whose activity ``keep`` accepts, then append ``additions``.

    Returns the ids of the features written. An old line that cannot be read, or the rest of an
    old archive whose compressed stream is damaged, is dropped: the caller removes those ids from
    the index so they are rebuilt by the next sync instead of silently missing from the map.
    """
    seen: set[str] = set()
    with ArchiveWriter(new) as writer:
        if old is not None:
            try:
                for line in iter_lines(old):
                    try:
                        activity_id = line_activity_id(line)
                    except (ValueError, KeyError, TypeError):
                        continue
                    if activity_id not in seen and keep(activity_id):
                        seen.add(activity_id)
                        writer.write_line(line)
            except zstandard.ZstdError:
                pass  # damaged tail: what was copied stays, the rest is rebuilt (see above)
        for line in additions:
            activity_id = line_activity_id(line)
            if activity_id not in seen:
                seen.add(activity_id)
                writer.write_line(line)
    return seen
