"""Internal signals between the decoders and :func:`ridelines.fit.decode`."""

from __future__ import annotations


class Truncated(Exception):
    """The bytes end before the FIT header says they should (what was decoded is kept)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unsupported(Exception):
    """The fast decoder met something it does not handle; the reference decoder takes over."""
