"""FIT -> Feature conversion in worker processes, so a sync uses every core once downloads stop
being the bound (batch downloads deliver files faster than one core converts them).

Off by default (``SyncSettings.convert_processes = 0``: convert in the download threads): Lambda
has no ``/dev/shm`` for multiprocessing and below 1,769 MB a single vCPU. The command line and
the benchmarks turn it on. Workers are started with ``spawn`` (a fork of a process running
HTTP threads is unsafe) and import only the converter.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ridelines.features import ActivityMeta, fit_to_feature


class ConvertPool:
    def __init__(self, processes: int) -> None:
        self._pool = (
            ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"))
            if processes > 1
            else None
        )

    def convert(self, fit: bytes, meta: ActivityMeta, source: str) -> dict[str, Any] | None:
        """``fit_to_feature`` in a worker (its exceptions re-raised here), or in this thread."""
        if self._pool is None:
            return fit_to_feature(fit, meta, source=source)
        return self._pool.submit(fit_to_feature, fit, meta, source=source).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
