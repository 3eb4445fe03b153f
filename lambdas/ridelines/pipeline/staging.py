"""Durable staging of finished work, so a crash or a timeout loses nothing already downloaded.

While downloading, results are grouped into batches. A batch is two objects under the
athlete's staging prefix, written in this order:

* ``{batch}.features.zst`` — the batch's archive lines (zstd NDJSON, :mod:`ridelines.archive`);
* ``{batch}.results.json`` — ``{"version": 2, "results": [{"id", "hash" (file hash, hex),
  "meta" (meta hash, hex), "status", "reason"}]}``: the commit marker. A batch without it never
  happened. Version-1 markers (no meta hash) are still read.

Deleting staging (:func:`delete_staging`) removes every commit marker first and the features
objects after: a crash in between leaves features without a marker (ignored, swept next time),
never a marker whose features are gone.

Batch names sort by creation time. Any later leg or later sync reads the results of every
committed batch and reuses those whose hash still matches the listing instead of downloading
again; the final merge folds them into the archive and index, and only then are they deleted.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ridelines.archive import TRANSIENT_ZSTD_LEVEL, ArchiveWriter, iter_lines, line_activity_id
from ridelines.index import EntryStatus
from ridelines.ports import BlobStore

log = logging.getLogger(__name__)

RESULTS_SUFFIX = ".results.json"
FEATURES_SUFFIX = ".features.zst"


@dataclass(frozen=True, slots=True)
class StagedResult:
    id: str
    hash: bytes
    status: EntryStatus
    reason: str
    batch: str
    meta: bytes = b""  # the batch key prefix (without suffix) holding its feature line, if any


def new_batch_name() -> str:
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"


class BatchWriter:
    """Collects one batch on local disk and commits it to the blob store in one go."""

    def __init__(self, blobs: BlobStore, prefix: str, workdir: Path) -> None:
        self._blobs = blobs
        self._prefix = prefix
        self._workdir = workdir
        self._start()

    def _start(self) -> None:
        self.name = new_batch_name()
        self._handle: Any = None  # the temporary file opens with the first result
        self._writer: ArchiveWriter | None = None
        self._path: Path | None = None
        self._results: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.feature_bytes = 0

    def _open(self) -> ArchiveWriter:
        if self._writer is None:
            self._handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in commit()/discard()
                prefix="batch-", suffix=FEATURES_SUFFIX, dir=self._workdir, delete=False
            )
            self._path = Path(self._handle.name)
            self._writer = ArchiveWriter(self._handle, level=TRANSIENT_ZSTD_LEVEL)
        return self._writer

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._handle.close()

    def __len__(self) -> int:
        return len(self._results)

    def add(
        self,
        activity_id: str,
        content_hash: bytes,
        status: EntryStatus,
        reason: str = "",
        line: bytes | None = None,
        meta: bytes = b"",
    ) -> None:
        """``line``: the activity's archive line (:func:`ridelines.archive.encode_feature`), whose
        ``properties.id`` must be ``activity_id``: a line is never staged under another ride."""
        writer = self._open()  # an empty features object still marks the batch as whole
        if line is not None:
            if line_activity_id(line) != activity_id:
                raise ValueError(f"the line staged for activity {activity_id} is another activity's")
            writer.write_line(line)
            self.feature_bytes += len(line)
        self._results.append(
            {
                "id": activity_id,
                "hash": content_hash.hex(),
                "meta": meta.hex(),
                "status": int(status),
                "reason": reason[:500],
            }
        )

    def commit(self) -> int:
        """Upload the batch (features first, then the results marker); start a new one."""
        count = len(self._results)
        self._close()
        try:
            if count and self._path is not None:
                key = f"{self._prefix}{self.name}"
                self._blobs.put_file(key + FEATURES_SUFFIX, self._path, content_type="application/zstd")
                marker = json.dumps({"version": 2, "results": self._results}, separators=(",", ":"))
                self._blobs.put_bytes(key + RESULTS_SUFFIX, marker.encode(), content_type="application/json")
        finally:
            if self._path is not None:
                self._path.unlink(missing_ok=True)
        self._start()
        return count

    def discard(self) -> None:
        self._close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)
        self._start()


def read_staged(blobs: BlobStore, prefix: str) -> dict[str, StagedResult]:
    """The results of every committed batch, later batches winning for the same id."""
    staged: dict[str, StagedResult] = {}
    for key in sorted(k for k in blobs.list_keys(prefix) if k.endswith(RESULTS_SUFFIX)):
        raw = blobs.get_bytes(key)
        batch = key[: -len(RESULTS_SUFFIX)]
        try:
            marker = json.loads(raw or b"")
            if marker.get("version") not in (1, 2):
                raise ValueError("unknown staging version")
            for item in marker["results"]:
                staged[str(item["id"])] = StagedResult(
                    str(item["id"]),
                    bytes.fromhex(item["hash"]),
                    EntryStatus(int(item["status"])),
                    str(item.get("reason", "")),
                    batch,
                    bytes.fromhex(str(item.get("meta", ""))),
                )
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable staging batch %s: %s", key, exc)
    return staged


def staged_lines(blobs: BlobStore, chosen: Mapping[str, StagedResult], workdir: Path) -> Iterator[bytes]:
    """Stream the archive lines of the chosen results, one batch object at a time."""
    batches = sorted({r.batch for r in chosen.values() if r.status is EntryStatus.TRACK})
    for batch in batches:
        local = workdir / "staged-batch.zst"
        if not blobs.download_file(batch + FEATURES_SUFFIX, local):
            log.warning("staging batch %s lost its features; those activities will be fetched again", batch)
            continue
        try:
            for line in iter_lines(local):
                result = chosen.get(line_activity_id(line))
                if result is not None and result.batch == batch:
                    yield line
        finally:
            local.unlink(missing_ok=True)


def staging_keys(blobs: BlobStore, prefix: str) -> list[str]:
    return sorted(blobs.list_keys(prefix))


def delete_staging(blobs: BlobStore, keys: list[str]) -> None:
    """Commit markers first, then everything else (see the module docstring)."""
    markers = [k for k in keys if k.endswith(RESULTS_SUFFIX)]
    for key in markers + [k for k in keys if not k.endswith(RESULTS_SUFFIX)]:
        blobs.delete(key)
