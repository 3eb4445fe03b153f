"""What the sync derives from the archive besides the tiles, in one streaming pass over it.

* the **rides list** (:mod:`ridelines.rides_list`), published beside the tiles;
* the **explorer layer** (:mod:`ridelines.explorer`), from the *true* tracks (the archive is never
  privacy-cut; the layer is as private as the tiles);
* the **export**: the archive as one GeoJSON FeatureCollection, gzip-compressed once here and
  served with ``Content-Encoding: gzip`` so the browser saves plain GeoJSON.

The archive is read line by line (decompressed once, each line parsed once) and the export is
written as it goes, so memory holds the visited tiles and one small entry per ride, never the
tracks. The archive's lines are already canonical GeoJSON Features: the export copies their bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ridelines import explorer, rides_list
from ridelines.archive import iter_lines

EXPORT_GZIP_LEVEL = 6  # zlib's default: about 4x smaller than level 1 costs little more time here


@dataclass(frozen=True, slots=True)
class DataProducts:
    rides: Path  # rides list JSON
    rides_hash: str
    export: Path  # gzip-compressed GeoJSON FeatureCollection
    export_hash: str  # of the uncompressed GeoJSON (stable whatever the compression)
    explorer: Path  # explorer layer JSON
    explorer_summary: dict[str, int]  # {"tiles": N, "max_square": M}


def export_key(athlete_id: str, content_hash: str) -> str:
    return f"tiles/{athlete_id}/export-{content_hash}.geojson"


def export_filename(athlete_id: str) -> str:
    return f"ridelines-{athlete_id}.geojson"


class _ExportWriter:
    """``{"type":"FeatureCollection","features":[line,line,...]}`` into a gzip file, hashed as written."""

    def __init__(self, path: Path) -> None:
        # mtime 0 and no file name in the header: the same content gives the same bytes
        self._raw = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._raw, compresslevel=EXPORT_GZIP_LEVEL, mtime=0
        )
        self._digest = hashlib.blake2b(digest_size=16)
        self._first = True
        self._write(b'{"type":"FeatureCollection","features":[\n')

    def _write(self, data: bytes) -> None:
        self._gzip.write(data)
        self._digest.update(data)

    def add(self, line: bytes) -> None:
        self._write((b"" if self._first else b",\n") + line.rstrip(b"\n"))
        self._first = False

    def close(self) -> str:
        self._write(b"\n]}\n")
        self._gzip.close()
        self._raw.close()
        return self._digest.hexdigest()


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def build_data_products(
    lines: Iterable[bytes], workdir: Path, *, include_virtual: bool = False
) -> DataProducts:
    """Rides list, explorer layer and export of the archive ``lines`` (see :func:`from_archive`)."""
    workdir = Path(workdir)
    rides = rides_list.RidesListBuilder(include_virtual=include_virtual)
    layer = explorer.ExplorerAccumulator()
    export_path = workdir / "export.geojson.gz"
    export = _ExportWriter(export_path)
    try:
        for line in lines:
            export.add(line)
            feature: dict[str, Any] = json.loads(line)
            rides.add(feature)
            if include_virtual or not (feature.get("properties") or {}).get("virtual"):
                layer.add(feature)  # a virtual ride's "track" is a game world, not a place visited
    finally:
        export_hash = export.close()
    rides_bytes = rides_list.encode_document(rides.document())
    rides_path = workdir / "rides.json"
    rides_path.write_bytes(rides_bytes)
    document = layer.document()
    explorer_path = workdir / "explorer.json"
    explorer_path.write_bytes(explorer.encode_document(document))
    return DataProducts(
        rides=rides_path,
        rides_hash=_digest(rides_bytes),
        export=export_path,
        export_hash=export_hash,
        explorer=explorer_path,
        explorer_summary=explorer.summary_of(document),
    )


def from_archive(archive: Path, workdir: Path, *, include_virtual: bool = False) -> DataProducts:
    """One streaming pass over an ``activities.geojson.zst`` (missing = no rides)."""
    return build_data_products(iter_lines(archive), workdir, include_virtual=include_virtual)
