"""How a sync tells the outside world what it is doing (logs, metrics, a progress bar)."""

from __future__ import annotations

import logging
from typing import Protocol

from ridelines.models import SyncCounts, SyncPhase

log = logging.getLogger("ridelines.pipeline")


class SyncReporter(Protocol):
    def phase(self, phase: SyncPhase) -> None: ...

    def planned(self, to_download: int) -> None:
        """How many activities this leg will try to fetch (sizes a progress bar)."""
        ...

    def progress(self, counts: SyncCounts) -> None:
        """One more activity fetched, skipped or failed."""
        ...

    def metric(self, name: str, value: float, unit: str) -> None:
        """``unit`` is ``Count`` or ``Milliseconds`` (CloudWatch EMF names)."""
        ...


class LoggingReporter:
    """Logs phases; ignores metrics. The base of the Lambda and CLI reporters."""

    def phase(self, phase: SyncPhase) -> None:
        log.info("sync phase %s", phase.value)

    def planned(self, to_download: int) -> None:
        log.info("%d activities to download", to_download)

    def progress(self, counts: SyncCounts) -> None:
        pass

    def metric(self, name: str, value: float, unit: str) -> None:
        pass
