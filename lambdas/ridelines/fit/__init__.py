"""FIT decoding: bytes in, :class:`FitActivity` (positioned samples, pauses, summary) out.

:func:`decode` tries the fast struct-based decoder (:mod:`.fast`) and falls back to fitdecode
(:mod:`.reference`) when the fast one meets something it does not handle. Both feed the same
:class:`~ridelines.fit.activity.ActivityBuilder`, and the tests prove they agree on every file
of the corpus.

What is rejected (one :class:`ridelines.errors.FitDecodeError` naming the source and reason):
empty input, not FIT (bad magic / too short), bad header (size, header CRC, a header declaring
no data followed by data = a recording never finalised), CRC mismatch of any chained part,
a data message of an undefined local message, a message running past its data section,
corrupt gzip.

Truncated files (the bytes end before the header's data size, inside a message, before the
CRC, or inside a chained part's header) are a deliberate exception: a device that crashed or
ran out of battery writes exactly that, and the ride before the break is real. Everything
decoded before the break is kept **when it holds at least** :data:`MIN_SALVAGED_POSITIONS`
**valid positions** (a plausible track); ``FitActivity.truncated`` then says why it stopped.
Otherwise the truncated file is rejected like any other bad input. A CRC cannot vouch for the
salvaged part, but corruption elsewhere still fails (an undefined local message, a bad header),
so random garbage does not pass as a ride.
"""

from __future__ import annotations

from collections.abc import Callable

from ridelines.errors import FitDecodeError
from ridelines.fit.activity import ActivityBuilder, FitActivity, Sample, Session
from ridelines.fit.container import unwrap
from ridelines.fit.errors import Truncated, Unsupported
from ridelines.fit.fast import decode_fast

__all__ = ["MIN_SALVAGED_POSITIONS", "FitActivity", "Sample", "Session", "decode"]

# A truncated file is kept only when the part before the break holds this many valid positions.
MIN_SALVAGED_POSITIONS = 2


def decode(data: bytes, source: str = "<bytes>", *, reference: bool = False) -> FitActivity:
    """Decode FIT (or gzip'd FIT) bytes. ``reference=True`` forces fitdecode (tests, debugging)."""
    fit = unwrap(data, source)
    if not reference:
        try:
            return _run(decode_fast, fit, source)
        except Unsupported:
            pass
    return _run(decode_reference, fit, source)


def decode_reference(fit: bytes, builder: ActivityBuilder, source: str) -> None:
    """fitdecode's reading, imported on first use: fitdecode costs ~60 ms to import and most
    files never need it (``ridelines convert`` is a short process)."""
    from ridelines.fit import reference

    reference.decode_reference(fit, builder, source)


def _run(decoder: Callable[[bytes, ActivityBuilder, str], None], fit: bytes, source: str) -> FitActivity:
    builder = ActivityBuilder()
    try:
        decoder(fit, builder, source)
    except Truncated as exc:
        activity = builder.activity
        if len(activity.samples) < MIN_SALVAGED_POSITIONS or not activity.is_activity:
            raise FitDecodeError(f"{source}: truncated FIT file: {exc.reason}") from None
        activity.truncated = exc.reason
    return builder.activity
