"""What the sync derives from the archive besides the tiles, in one streaming pass over it.

* the **rides list** (:mod:`ridelines.rides_list`), published beside the tiles;
* the **explorer layer** (:mod:`ridelines.explorer`), from the *true* tracks (the archive is never
  privacy-cut; the layer is as private as the tiles);
* the **export**: the archive as one GeoJSON FeatureCollection, gzip-compressed once here and
  served with ``Content-Encoding: gzip`` so the browser saves plain GeoJSON.

The archive is read line by line (decompressed once) and the export is written as it goes, so
memory holds the visited tiles and one small entry per ride, never the tracks. The archive's lines
are already canonical GeoJSON Features: the export copies their bytes.

**Only changed rides are recomputed.** A ride's explorer tiles and list entry depend on its archive
line alone, so each is cached under the line's BLAKE2b hash in a small side file
(:data:`CACHE_NAME` beside the archive: the tiles packed as uint16 pairs, z14 needs 14 bits). A ride
whose line is unchanged costs a hash and a dictionary lookup instead of parsing its track and
walking the tile grid; the cache is rewritten with exactly the current rides each time. A missing,
damaged or foreign cache just means everything is recomputed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from ridelines import explorer, rides_list
from ridelines.archive import iter_lines, line_hash
from ridelines.ports import BlobStore

log = logging.getLogger(__name__)
CACHE_NAME = ".products-cache.zst"
CACHE_VERSION = 1
_TILE = struct.Struct("<HH")

EXPORT_GZIP_LEVEL = 4  # within 5% of level 6's size at a third of its CPU (measured on bench/fitgen rides)


@dataclass(frozen=True, slots=True)
class DataProducts:
    rides: Path  # rides list JSON
    rides_hash: str
    export: Path  # gzip-compressed GeoJSON FeatureCollection
    export_hash: str  # of the uncompressed GeoJSON (stable whatever the compression)
    explorer: Path  # explorer layer JSON
    explorer_summary: dict[str, int]  # {"tiles": N, "max_square": M}
    cache: Path  # the per-ride cache for the next pass
    reused: int = 0  # rides taken from the cache
    computed: int = 0  # rides parsed and walked


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


# one ride's products: its list entry (None when it is left off the list and the layer) and packed tiles
RideProducts = tuple[dict[str, Any] | None, bytes]


def _cache_header(include_virtual: bool) -> dict[str, Any]:
    return {"version": CACHE_VERSION, "zoom": explorer.ZOOM, "include_virtual": include_virtual}


def read_cache(path: Path | None, *, include_virtual: bool) -> dict[bytes, RideProducts]:
    """The previous pass's per-ride results; empty when missing, damaged or made with other settings."""
    if path is None or not path.exists():
        return {}
    cached: dict[bytes, RideProducts] = {}
    try:
        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as reader:
            lines = iter(reader.read().splitlines())  # small: a hash, an entry and packed tiles per ride
            if json.loads(next(lines)) != _cache_header(include_virtual):
                return {}
            for line in lines:
                record = json.loads(line)
                cached[bytes.fromhex(record["h"])] = (record["e"], base64.b64decode(record["t"]))
    except (OSError, ValueError, KeyError, TypeError, StopIteration, zstandard.ZstdError) as exc:
        log.warning("the products cache is unusable (%s); recomputing every ride", type(exc).__name__)
        return {}
    return cached


class _CacheWriter:
    def __init__(self, path: Path, include_virtual: bool) -> None:
        self._raw = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._out = zstandard.ZstdCompressor(level=3).stream_writer(self._raw, closefd=False)
        self._write(_cache_header(include_virtual))

    def _write(self, record: dict[str, Any]) -> None:
        self._out.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")

    def add(self, line_hash: bytes, cached: RideProducts) -> None:
        entry, tiles = cached
        self._write({"h": line_hash.hex(), "e": entry, "t": base64.b64encode(tiles).decode()})

    def close(self) -> None:
        self._out.close()
        self._raw.close()


def ride_products(feature: Mapping[str, Any], *, include_virtual: bool) -> RideProducts:
    """One ride's list entry and explorer tiles, from its feature (parsed from its archive line, or
    the very feature the line was encoded from: the converter computes them while it has it)."""
    if (feature.get("properties") or {}).get("virtual") and not include_virtual:
        return None, b""  # a virtual ride's "track" is a game world, not a place visited
    tiles = explorer.feature_tiles(feature)
    return rides_list.ride_entry(feature), b"".join(_TILE.pack(x, y) for x, y in sorted(tiles))


def _compute(line: bytes, include_virtual: bool) -> RideProducts:
    return ride_products(json.loads(line), include_virtual=include_virtual)


def build_data_products(
    lines: Iterable[bytes],
    workdir: Path,
    *,
    include_virtual: bool = False,
    previous_cache: Path | None = None,
    known: Mapping[bytes, RideProducts] | None = None,
) -> DataProducts:
    """Rides list, explorer layer and export of the archive ``lines`` (see :func:`from_archive`).
    ``known``: products already computed (by line hash) besides the cache, e.g. by the converters
    of this sync, made with the same ``include_virtual``."""
    workdir = Path(workdir)
    cached = read_cache(previous_cache, include_virtual=include_virtual)
    if known:
        cached.update(known)
    rides = rides_list.RidesListBuilder(include_virtual=include_virtual)
    layer = explorer.ExplorerAccumulator()
    export_path = workdir / "export.geojson.gz"
    cache_path = workdir / "products-cache.next.zst"
    export = _ExportWriter(export_path)
    cache = _CacheWriter(cache_path, include_virtual)
    reused = computed = 0
    try:
        for line in lines:
            export.add(line)
            digest = line_hash(line)
            result = cached.get(digest)
            if result is None:
                result = _compute(line, include_virtual)
                computed += 1
            else:
                reused += 1
            entry, packed = result
            if entry is not None:
                rides.entries.append(entry)
                layer.tiles.update(_TILE.iter_unpack(packed))
            cache.add(digest, result)
    finally:
        export_hash = export.close()
        cache.close()
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
        cache=cache_path,
        reused=reused,
        computed=computed,
    )


def from_archive(
    archive: Path,
    workdir: Path,
    *,
    include_virtual: bool = False,
    previous_cache: Path | None = None,
    known: Mapping[bytes, RideProducts] | None = None,
) -> DataProducts:
    """One streaming pass over an ``activities.geojson.zst`` (missing = no rides)."""
    return build_data_products(
        iter_lines(archive),
        workdir,
        include_virtual=include_virtual,
        previous_cache=previous_cache,
        known=known,
    )


def cache_key(archive_key: str) -> str:
    """The cache's key in the blob store: beside the archive."""
    folder, _, _ = archive_key.rpartition("/")
    return f"{folder}/{CACHE_NAME}" if folder else CACHE_NAME


def products_for_publish(
    blobs: BlobStore,
    archive_key: str,
    archive: Path,
    workdir: Path,
    *,
    include_virtual: bool = False,
    known: Mapping[bytes, RideProducts] | None = None,
) -> DataProducts:
    """The sync's step: the stored cache in, the products out, the new cache stored for next time."""
    previous = Path(workdir) / "products-cache.previous.zst"
    have = blobs.download_file(cache_key(archive_key), previous)
    try:
        products = from_archive(
            archive,
            workdir,
            include_virtual=include_virtual,
            previous_cache=previous if have else None,
            known=known,
        )
    finally:
        previous.unlink(missing_ok=True)
    blobs.put_file(cache_key(archive_key), products.cache, content_type="application/zstd")
    log.info("data products: %d rides reused, %d computed", products.reused, products.computed)
    return products
