"""What the benchmarks read of running processes from /proc (memory of a sync and its children)."""

from __future__ import annotations

from pathlib import Path


def status_kb(pid: int | str, key: str) -> int:
    """A kB field of ``/proc/{pid}/status`` (``VmHWM``, ``VmRSS``...); 0 once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # exited meanwhile
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children...), read from each task's children."""
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            try:
                kids = [int(k) for k in task.read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found
