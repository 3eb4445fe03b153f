"""The rider's map built from parts of the history, so a change re-tiles only the part it touches.

The archive's features are grouped into **parts by the year a ride started** (UTC; a ride without
a start goes to ``undated``). Years are stable: a new ride lands in the current year's part, an
edit or deletion touches only its own year's, and a part's membership never shifts when rides
are added elsewhere (blocks of N rides would renumber every later block). A decade of daily
riding is 10-15 parts of a few thousand rides each.

Each part is tiled on its own by :func:`ridelines.tiling.build_pmtiles` (the same settings, so
every ride stays visible at every zoom and dense areas never fail) and kept in the blob store at
``{prefix}{part}-{hash}.pmtiles``, where the hash covers the part's feature lines, the
Tippecanoe arguments, whether virtual rides are drawn and the privacy settings
(``transform_key``). A part whose key already exists is reused as it is; the parts are then
merged by ``tile-join`` into ONE PMTiles file (one layer ``activities``), so the published
``tiles_url`` stays one file (CONTRACTS.md). Part objects no longer named by any current key are
deleted after a successful build.

``transform`` is the single point where features go into Tippecanoe (privacy cuts them there,
per part); whatever changes its output must change ``transform_key``.

Memory stays flat: the archive is streamed twice (hashing, then copying only the stale parts'
lines into zstd scratch files), never held whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ridelines.archive import (
    TRANSIENT_ZSTD_LEVEL,
    ArchiveWriter,
    iter_features,
    iter_lines,
    line_activity_id,
    line_hash,
)
from ridelines.errors import RidelinesError
from ridelines.ports import BlobStore
from ridelines.tiling import (
    build_pmtiles,
    build_pmtiles_from_lines,
    drawn_tile_line,
    join_pmtiles,
    tippecanoe_args,
)

log = logging.getLogger(__name__)

PARTS_VERSION = "ridelines-parts-v1"  # bump when what a part holds or how it is tiled changes
UNDATED_PART = "undated"
PART_SUFFIX = ".pmtiles"
_GEOMETRY_KEY = b',"geometry":'
_PART_NAME = re.compile(r"^(\d{4}|undated)$")

FeatureTransform = Callable[[Iterable[dict[str, Any]]], Iterable[Mapping[str, Any]]]


def parts_prefix(archive_key: str) -> str:
    """Parts live next to the archive: ``athletes/{id}/parts/``, or hidden ``.parts/`` in the
    command line's ``--out DIR`` (beside ``.staging/``: the folder shows only its three files)."""
    folder = archive_key.rpartition("/")[0]
    return f"{folder}/parts/" if folder else ".parts/"


def part_of(properties: Mapping[str, Any]) -> str:
    """The part a feature belongs to: the UTC year of its ``start`` (ISO), else ``undated``."""
    start = properties.get("start")
    if isinstance(start, str) and len(start) >= 4 and start[:4].isdigit():
        return start[:4]
    return UNDATED_PART


def line_properties(line: bytes) -> dict[str, Any]:
    """An archive line's properties without parsing its coordinates.

    Archive lines are canonical (``type``, ``properties``, ``geometry``; see
    :mod:`ridelines.archive`); inside a JSON string every quote is escaped, so the first raw
    ``,"geometry":`` ends the properties.
    """
    cut = line.find(_GEOMETRY_KEY)
    if cut > 0:
        try:
            head = json.loads(line[:cut] + b"}")
            props = head.get("properties")
            if isinstance(props, dict):
                return props
        except ValueError:
            pass
    props = json.loads(line).get("properties")
    return props if isinstance(props, dict) else {}


class PartsIncomplete(RidelinesError):
    """Tiling stopped for lack of time; the parts tiled so far are stored."""


@dataclass(frozen=True, slots=True)
class PartKey:
    name: str
    digest: str
    rides: int

    def key(self, prefix: str) -> str:
        return f"{prefix}{self.name}-{self.digest}{PART_SUFFIX}"


@dataclass
class PartsBuildResult:
    path: Path
    parts: list[PartKey]
    tiled: list[str] = field(default_factory=list)  # parts that ran Tippecanoe in this build
    reused: list[str] = field(default_factory=list)
    deleted_keys: list[str] = field(default_factory=list)

    @property
    def tippecanoe_runs(self) -> int:
        return len(self.tiled)


def plan_parts(
    archive: Path,
    *,
    include_virtual: bool = False,
    extra_args: Sequence[str] | None = None,
    transform_key: str = "",
) -> list[PartKey]:
    """Stream the archive once: every part's name, content hash and ride count, sorted by name.

    The hash is over the sorted (id, line digest) pairs, so the archive's line order (which a
    rewrite changes) does not matter, only what the part holds and how it is tiled.
    """
    lines: dict[str, list[tuple[str, bytes]]] = {}
    for line in iter_lines(archive):
        props = line_properties(line)
        entry = (str(props.get("id", line_activity_id(line))), line_hash(line))
        lines.setdefault(part_of(props), []).append(entry)
    settings = json.dumps(
        {
            "version": PARTS_VERSION,
            "args": tippecanoe_args(extra_args),
            "virtual": include_virtual,
            "transform": transform_key,
        },
        sort_keys=True,
    ).encode()
    parts = []
    for name in sorted(lines):
        digest = hashlib.blake2b(settings, digest_size=10)
        for activity_id, line_digest in sorted(lines[name]):
            digest.update(activity_id.encode() + b"\0" + line_digest)
        parts.append(PartKey(name, digest.hexdigest(), len(lines[name])))
    return parts


def build_tiles_in_parts(
    archive: Path,
    out_path: Path,
    *,
    blobs: BlobStore,
    prefix: str,
    workdir: Path,
    include_virtual: bool = False,
    extra_args: Sequence[str] | None = None,
    transform: FeatureTransform | None = None,
    transform_key: str = "",
    parallel: int = 2,
    out_of_time: Callable[[], bool] | None = None,
    merge: bool = True,
    tile_lines: TileLines | None = None,
) -> PartsBuildResult:
    """The whole map from the archive, re-tiling only the parts whose key is not stored yet.

    ``out_of_time`` is asked before each part is tiled; when it says so, :class:`PartsIncomplete`
    is raised. Every part tiled so far is stored, so the next attempt (a fresh Lambda leg) tiles
    only the rest: publishing a huge first sync is checkpointed part by part.

    ``merge=False`` tiles the archive's stale parts into the parts cache and stops there: no
    merged file, and no stored part is deleted (the archive may hold only some of the rider's
    parts, e.g. the years a first sync has completed so far).

    ``tile_lines``: Tippecanoe's lines already made for some archive lines (by :func:`line_hash`),
    e.g. by a sync's converters; used only without a ``transform`` (a privacy cut needs the
    feature), any other line is parsed and encoded here as usual.
    """
    out_path = Path(out_path)
    scratch = Path(workdir) / "parts-work"
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        parts = plan_parts(
            archive, include_virtual=include_virtual, extra_args=extra_args, transform_key=transform_key
        )
        stored = set(blobs.list_keys(prefix))
        stale = [p for p in parts if p.key(prefix) not in stored]
        result = PartsBuildResult(out_path, parts)
        sources = _split_stale(archive, {p.name for p in stale}, scratch)

        def tile(part: PartKey) -> Path:
            if out_of_time is not None and out_of_time():
                raise PartsIncomplete(f"out of time before tiling part {part.name}")
            local = scratch / f"{part.name}{PART_SUFFIX}"
            if transform is None and tile_lines is not None:
                lines = _tile_lines_of(sources[part.name], tile_lines, include_virtual=include_virtual)
                build_pmtiles_from_lines(lines, local, extra_args=extra_args)
            else:
                raw = iter_features(sources[part.name])
                features = raw if transform is None else transform(raw)
                build_pmtiles(features, local, include_virtual=include_virtual, extra_args=extra_args)
            sources[part.name].unlink(missing_ok=True)
            blobs.put_file(part.key(prefix), local, content_type="application/vnd.pmtiles")
            return local

        locals_by_name: dict[str, Path] = {}
        with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="tile-part") as pool:
            for part, local in zip(stale, pool.map(tile, stale), strict=True):
                locals_by_name[part.name] = local
                result.tiled.append(part.name)
        if not merge:
            log.info("parts tiled ahead of the merge: %s", ",".join(result.tiled) or "none")
            return result
        if out_of_time is not None and out_of_time():  # the parts are stored; the merge is for later
            raise PartsIncomplete("out of time before merging the parts")
        for part in parts:
            if part.name in locals_by_name:
                continue
            local = scratch / f"{part.name}{PART_SUFFIX}"
            if not blobs.download_file(part.key(prefix), local):  # vanished meanwhile: tile it again
                sources.update(_split_stale(archive, {part.name}, scratch))
                local = tile(part)
                result.tiled.append(part.name)
            else:
                result.reused.append(part.name)
            locals_by_name[part.name] = local
        join_pmtiles([locals_by_name[p.name] for p in parts], out_path)
        current = {p.key(prefix) for p in parts}
        for key in sorted(stored - current):
            if key.endswith(PART_SUFFIX) and _PART_NAME.match(key[len(prefix) :].rpartition("-")[0]):
                blobs.delete(key)
                result.deleted_keys.append(key)
        log.info(
            "map built from %d parts: %d tiled (%s), %d reused",
            len(parts),
            len(result.tiled),
            ",".join(result.tiled),
            len(result.reused),
        )
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class TileLines:
    """Tippecanoe's line of each ride a sync converted (:func:`ridelines.tiling.tile_line`, ``b""``
    for a ride that draws nothing), by archive line hash, up to ``budget_bytes``.

    Encoding a ride for Tippecanoe means parsing its whole archive line and thinning it again; the
    converters do it once while they hold the feature, and every part built from those lines
    (early maps, the final map) writes the bytes as they are. Past the budget (a huge first sync
    on Lambda's memory) rides are parsed from the archive as before. Thread-safe.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self.hits = 0
        self._lines: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def add(self, digest: bytes, line: bytes) -> bool:
        with self._lock:
            if digest in self._lines or self.used_bytes + len(line) > self.budget_bytes:
                return False
            self._lines[digest] = line
            self.used_bytes += len(line)
            return True

    def get(self, digest: bytes) -> bytes | None:
        found = self._lines.get(digest)
        if found is not None:
            self.hits += 1  # a statistic: a lost update under a race is harmless
        return found

    def __len__(self) -> int:
        return len(self._lines)


def _tile_lines_of(source: Path, known: TileLines, *, include_virtual: bool) -> Iterator[bytes]:
    """The Tippecanoe lines of a part's archive lines: ready ones as they are, the rest encoded."""
    for line in iter_lines(source):
        ready = known.get(line_hash(line))
        yield drawn_tile_line(json.loads(line), include_virtual=include_virtual) if ready is None else ready


def _split_stale(archive: Path, names: set[str], scratch: Path) -> dict[str, Path]:
    """Copy the lines of the named parts into one zstd scratch file each (one archive pass)."""
    if not names:
        return {}
    paths = {name: scratch / f"{name}.geojson.zst" for name in names}
    writers = {name: ArchiveWriter(path, level=TRANSIENT_ZSTD_LEVEL) for name, path in paths.items()}
    try:
        for line in iter_lines(archive):
            writer = writers.get(part_of(line_properties(line)))
            if writer is not None:
                writer.write_line(line)
    finally:
        for writer in writers.values():
            writer.close()
    return paths


def iter_part_features(archive: Path, name: str) -> Iterator[dict[str, Any]]:
    """The features of one part (tests, tools)."""
    for line in iter_lines(archive):
        if part_of(line_properties(line)) == name:
            yield json.loads(line)
