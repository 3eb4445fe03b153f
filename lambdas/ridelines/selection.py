"""Which part of a recording belongs to one intervals.icu activity (multisport files, crops).

A multisport FIT file (triathlon: swim, transition, bike, transition, run) is split by
intervals.icu into several activities that all serve the *same* original file; a rider can also
crop an activity in intervals.icu, which changes the activity but not the original file. So the
samples of a file are narrowed to the activity:

1. the listing's ``file_sport_index`` names the FIT session (in file order) the activity was
   made from: only samples inside that session's time window are kept;
2. otherwise the activity's own time window from the listing (``start_date`` to
   ``start_date + elapsed_time``, :data:`WINDOW_SLACK_S` either side) is applied when the file
   runs beyond it (the other parts of a multisport file, the cropped-off minutes).

A narrowing that would leave fewer than two positions is not applied (a device clock that
disagrees with the listing must not erase a ride); the whole file is used and the reason logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ridelines.fit import FitActivity, Sample
from ridelines.fit import profile as p

log = logging.getLogger(__name__)

WINDOW_SLACK_S = 60
_TRANSITION = 3


@dataclass(frozen=True, slots=True)
class ActivityWindow:
    """What the listing says about where the activity sits in its file."""

    start: datetime | None = None
    elapsed_s: int | None = None
    file_sport_index: int | None = None


def unix_to_fit(seconds: float) -> int:
    return int(seconds) - p.FIT_EPOCH_UNIX


def _within(samples: Sequence[Sample], begin: int, end: int) -> list[Sample]:
    chosen: list[Sample] = []
    first = True
    for ts, lat, lon, alt, new_segment in samples:
        if ts is None or not begin <= ts <= end:
            continue
        chosen.append((ts, lat, lon, alt, new_segment or first))
        first = False
    return chosen


def select_fit_samples(activity: FitActivity, window: ActivityWindow | None) -> list[Sample]:
    """The samples of ``activity`` that belong to the listed activity (see the module docstring)."""
    samples = activity.samples
    if window is None or not samples:
        return samples
    sessions = activity.sessions
    index = window.file_sport_index
    if index is not None and len(sessions) > 1 and index < len(sessions):
        session = sessions[index]
        if session.start_time is not None and session.elapsed_s is not None:
            chosen = _within(samples, session.start_time, session.start_time + int(session.elapsed_s + 0.5))
            if len(chosen) >= 2:
                return chosen
            log.info("session %d of the file holds no track; using the activity's time window", index)
    return select_by_time(samples, window, to_file_seconds=unix_to_fit)


def select_by_time(
    samples: Sequence[Sample], window: ActivityWindow, *, to_file_seconds: Callable[[float], int] = int
) -> list[Sample]:
    """Keep the samples within the listed start + elapsed time when the file runs beyond it."""
    if window.start is None or window.elapsed_s is None or not samples:
        return list(samples)
    begin = to_file_seconds(window.start.timestamp()) - WINDOW_SLACK_S
    end = to_file_seconds(window.start.timestamp()) + window.elapsed_s + WINDOW_SLACK_S
    times = [s[0] for s in samples if s[0] is not None]
    if not times or (min(times) >= begin and max(times) <= end):
        return list(samples)
    chosen = _within(samples, begin, end)
    if len(chosen) < 2:
        log.info("the listed time window holds no track of the file (clock mismatch?); using all of it")
        return list(samples)
    return chosen


def multisport(activity: FitActivity) -> bool:
    return len([s for s in activity.sessions if s.sport != _TRANSITION]) > 1
