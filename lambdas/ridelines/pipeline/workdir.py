"""Each leg's private scratch folder, and the sweep of what killed runs left behind.

Lambda keeps ``/tmp`` between invocations of a warm container, including after a run was killed
(timeout, out of memory) in the middle of writing a batch or a merge: without a sweep those files
pile up until ``/tmp`` is full. Every leg works in ``{workdir}/ridelines-leg-{pid}-{random}/``;
at the start of a leg, sibling folders that no live leg of *this* process owns and whose process
is gone (or is this process: a restarted runtime reuses the pid) are deleted. Legs running in
other live processes (the local stack, a CLI) are left alone.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "ridelines-leg-"
_live: set[str] = set()
_lock = threading.Lock()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(workdir: Path) -> int:
    """Delete leftovers of dead legs under ``workdir``; returns how many folders went."""
    removed = 0
    me = os.getpid()
    try:
        candidates = list(workdir.glob(PREFIX + "*"))
    except OSError:
        return 0
    for folder in candidates:
        with _lock:
            if folder.name in _live:
                continue
        try:
            pid = int(folder.name[len(PREFIX) :].split("-", 1)[0])
        except ValueError:
            pid = me
        if pid != me and _pid_alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    if removed:
        log.warning("swept %d scratch folder(s) left by killed runs", removed)
    return removed


class LegScratch:
    """``with LegScratch(workdir) as path:`` a fresh folder, removed at the end."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Path:
        with _lock:
            _live.add(self.path.name)
        sweep(self.path.parent)
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        with _lock:
            _live.discard(self.path.name)
