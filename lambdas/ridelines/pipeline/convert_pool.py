"""Conversion (file bytes -> Feature) on every usable core, off the download threads' GIL.

Once downloads come in batches, a first sync is bound by conversion (tens of ms of CPU per ride),
which the download threads run one at a time under the GIL. :func:`convert` is the pure part of
a download's processing: it takes the bytes and what the listing says, and returns what became
of them (:class:`Converted`) without deciding anything that needs the sync's state (the
short-download rule is the sync's: it gets ``truncated`` back and decides). Being pure and
picklable, it runs the same in a thread or in a worker process.

:class:`Converter` runs it in a ``ProcessPoolExecutor`` (``spawn``: the sync process has threads,
so it is never forked) when given more than one process, else in the calling thread. A pool that
cannot start or whose worker dies (``BrokenProcessPool``) is dropped for the rest of the run and
the ride is converted in the calling thread: never a lost ride, never a failed sync.

**Not in Lambda:** ``ProcessPoolExecutor`` needs POSIX semaphores (its call queue holds a
``multiprocessing.Lock``) and Lambda has no ``/dev/shm``, so creating one fails there with
``OSError: [Errno 38]``. ``SyncSettings.convert_processes`` is 1 (threads) by default; the
command line and the benchmarks use :func:`usable_cpus`. Asked for on Lambda anyway, the pool
fails to start and the converter falls back to threads.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ridelines.archive import canonical_feature, encode_canonical, line_hash
from ridelines.data_products import RideProducts, ride_products
from ridelines.errors import FitDecodeError
from ridelines.features import ActivityMeta, decode_track, feature_from_track, track_file_to_feature
from ridelines.gpxtcx import TrackFileError
from ridelines.selection import ActivityWindow
from ridelines.tiling import drawn_tile_line

log = logging.getLogger(__name__)


class FileKind(StrEnum):
    FIT = "fit"
    TRACK_FILE = "track_file"  # a GPX or TCX original


class ConvertError(StrEnum):
    UNDECODABLE = "undecodable"  # the decoder refused the file (its message is the reason)
    CRASH = "crash"  # the converter itself failed: recorded as undecodable, never fatal


@dataclass(frozen=True, slots=True)
class ConvertRequest:
    kind: FileKind
    data: bytes
    source: str
    window: ActivityWindow
    meta: ActivityMeta
    default_id: str  # the activity's id: the archive line's ``properties.id``
    include_virtual: bool = False  # whether virtual rides are on the map (their products)


@dataclass(frozen=True, slots=True)
class Converted:
    """What became of one download. A track comes back as its archive line, the line's data
    products and its Tippecanoe line, all made here: encoding and walking the track are most of
    the per-ride work left after decoding, and lines cross the process boundary far cheaper
    than a Feature's thousands of coordinate lists."""

    line: bytes | None = None  # the archive line (:func:`ridelines.archive.encode_feature`)
    products: tuple[bytes, RideProducts] | None = None  # (line hash, the ride's products)
    truncated: str | None = None  # the FIT file stopped early (why): the sync's short-download rule
    no_track_reason: str = ""  # why there is no feature, when there is none and no error
    error: ConvertError | None = None
    error_reason: str = ""
    tile_line: bytes | None = None  # :func:`ridelines.tiling.tile_line`, b"" if not drawn


def _track(feature: dict[str, Any], request: ConvertRequest, truncated: str | None = None) -> Converted:
    # the line's own form (what parsing it gives back), so all three equal what the sync would
    # make from the archive line
    canonical = canonical_feature(
        {**feature, "properties": {**feature["properties"], "id": request.default_id}}
    )
    line = encode_canonical(canonical)
    products = ride_products(canonical, include_virtual=request.include_virtual)
    tiles = drawn_tile_line(canonical, include_virtual=request.include_virtual)
    return Converted(line, (line_hash(line), products), truncated, tile_line=tiles)


def convert(request: ConvertRequest) -> Converted:
    """The bytes of one download to a Feature, with every rule of the listing applied (the
    multisport / crop window, the listing's metadata). Never raises."""
    truncated: str | None = None
    try:
        if request.kind is FileKind.TRACK_FILE:
            feature = track_file_to_feature(
                request.data, request.meta, source=request.source, window=request.window
            )
            if feature is None:
                return Converted(no_track_reason="no GPS track in the GPX/TCX file")
            return _track(feature, request)
        decoded = decode_track(request.data, request.source, window=request.window)
        truncated = decoded.activity.truncated
        if not decoded.has_track:
            return Converted(truncated=truncated, no_track_reason=decoded.no_track_reason or "no GPS track")
        feature = feature_from_track(decoded, request.meta, default_id=request.default_id)
        return _track(feature, request, truncated)
    except (FitDecodeError, TrackFileError) as exc:
        return Converted(truncated=truncated, error=ConvertError.UNDECODABLE, error_reason=exc.message)
    except Exception as exc:
        log.exception("converter failed on %s", request.source)
        return Converted(
            truncated=truncated,
            error=ConvertError.CRASH,
            error_reason=f"converter error ({type(exc).__name__})",
        )


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's limit, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _warm() -> int:
    return os.getpid()  # the worker has imported this module (and the decoder) by now


class Converter:
    """Runs :func:`convert` in ``processes`` worker processes (1: in the calling thread).

    Thread-safe: the sync's download threads each call :meth:`convert` and wait for their ride.
    """

    def __init__(self, processes: int = 1) -> None:
        self.processes = processes
        self.in_pool = 0  # rides converted by a worker process
        self.fallbacks = 0  # rides converted in-thread because the pool broke
        self._lock = threading.Lock()
        self._pool: Executor | None = None
        if processes > 1:
            try:
                self._pool = ProcessPoolExecutor(
                    max_workers=processes, mp_context=multiprocessing.get_context("spawn")
                )
                for _ in range(processes):  # start the workers now, while the first batch downloads
                    self._pool.submit(_warm)
            except Exception as exc:  # OSError 38 on Lambda; whatever it is, threads still convert
                log.warning("conversion stays in threads: no process pool here (%s)", exc)
                self._pool = None

    @property
    def pooled(self) -> bool:
        return self._pool is not None

    def convert(self, request: ConvertRequest) -> Converted:
        pool = self._pool
        if pool is not None:
            try:
                converted = pool.submit(convert, request).result()
                with self._lock:
                    self.in_pool += 1
                return converted
            except (BrokenProcessPool, OSError, RuntimeError) as exc:
                # a worker died (killed, out of memory) or the pool was shut down under us
                self._drop(pool, exc)
            except Exception as exc:  # this ride only (e.g. it could not be pickled): in this thread
                log.warning(
                    "conversion of %s fell back to this thread (%s)", request.source, type(exc).__name__
                )
                with self._lock:
                    self.fallbacks += 1
        return convert(request)

    def _drop(self, pool: Executor, exc: BaseException) -> None:
        with self._lock:
            self.fallbacks += 1
            if self._pool is pool:
                log.warning("conversion pool broke (%s); converting in threads from now on", exc)
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Converter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
