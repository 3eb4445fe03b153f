"""What the decoders extract from a FIT file: positioned samples, pauses, and the summary.

Both decoders (the fast struct-based one and the fitdecode reference) feed the same
:class:`ActivityBuilder`, so every rule about which record counts lives here once:

* a position is valid when both coordinates are present (not the 0x7FFFFFFF "invalid"
  sentinel, which the decoders hand over as ``None``), not exactly (0, 0) ("null island", what
  some head units write before the first fix) and inside [-90, 90] x [-180, 180];
* a timer ``start`` event after a ``stop`` (or the start of the next chained FIT file) marks
  the next positioned sample as the first of a new segment;
* only records of activity files count: a chained file or a whole file of another type
  (course, monitoring, locations, settings...) contributes no samples. A file without any
  ``file_id`` is read as an activity (some apps omit it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat

from ridelines.fit import profile as p

# (timestamp in FIT seconds or None, latitude semicircles, longitude semicircles,
#  altitude in metres or None, True when a pause or a new chained file precedes it)
Sample = tuple[int | None, int, int, float | None, bool]

_MAX_LAT_SEMI = 2**30  # 90 degrees
_MAX_LON_SEMI = 2**31 - 1  # 180 degrees (exclusive of the invalid sentinel)


@dataclass
class Session:
    start_time: int | None = None
    sport: int | None = None
    sub_sport: int | None = None
    elapsed_s: float | None = None
    timer_s: float | None = None
    distance_m: float | None = None
    ascent_m: int | None = None
    moving_s: float | None = None


@dataclass
class FitActivity:
    """The decoded essentials of one FIT file (all chained parts together)."""

    file_types: list[int | None] = field(default_factory=list)  # one per file_id met
    manufacturer: int | None = None
    product: int | None = None
    time_created: int | None = None
    sports: list[tuple[int | None, int | None]] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    records: int = 0  # record messages in activity files
    invalid_positions: int = 0  # position present but sentinel, (0, 0) or out of range
    no_position: int = 0  # record without position fields
    first_record_time: int | None = None
    last_record_time: int | None = None
    samples: list[Sample] = field(default_factory=list)
    truncated: str | None = None  # why decoding stopped early, when the file was cut short
    fit_files: int = 0

    @property
    def is_activity(self) -> bool:
        # An invalid (None) file type is read as an activity, like a missing file_id.
        return not self.file_types or any(t is None or t == p.FILE_TYPE_ACTIVITY for t in self.file_types)


def _plainly_valid(lats: Sequence[int | None], lons: Sequence[int | None]) -> bool:
    """Every position of a run passes the rule of :meth:`ActivityBuilder.record` at a glance
    (C-level scans; a latitude of 0 sends the run to the per-record rule for (0, 0))."""
    if None in lats or None in lons or 0 in lats:
        return False
    lat_values: Sequence[int] = lats  # type: ignore[assignment]  # no None: checked above
    lon_values: Sequence[int] = lons  # type: ignore[assignment]
    valid_lats = min(lat_values) >= -_MAX_LAT_SEMI and max(lat_values) <= _MAX_LAT_SEMI
    return valid_lats and min(lon_values) >= -_MAX_LON_SEMI


class ActivityBuilder:
    """Receives decoded messages in file order and builds a :class:`FitActivity`."""

    def __init__(self) -> None:
        self.activity = FitActivity()
        self._in_activity = True
        self._paused = False
        self._break_next = False

    def begin_file(self) -> None:
        self.activity.fit_files += 1
        self._in_activity = True
        self._paused = False
        self._break_next = True  # a chained file is a new recording

    def file_id(
        self, file_type: int | None, manufacturer: int | None, product: int | None, time_created: int | None
    ) -> None:
        a = self.activity
        a.file_types.append(file_type)
        self._in_activity = file_type is None or file_type == p.FILE_TYPE_ACTIVITY
        if a.manufacturer is None and len(a.file_types) == 1:
            a.manufacturer, a.product, a.time_created = manufacturer, product, time_created

    def sport(self, sport: int | None, sub_sport: int | None) -> None:
        if self._in_activity:
            self.activity.sports.append((sport, sub_sport))

    def session(self, session: Session) -> None:
        if self._in_activity:
            self.activity.sessions.append(session)

    def event(self, event: int | None, event_type: int | None) -> None:
        if event != p.EVENT_TIMER:
            return
        if event_type in p.EVENT_TYPE_STOPS:
            self._paused = True
        elif event_type == p.EVENT_TYPE_START and self._paused:
            self._paused = False
            self._break_next = True

    def record(
        self,
        timestamp: int | None,
        lat: int | None,
        lon: int | None,
        enhanced_altitude: int | None,
        altitude: int | None,
    ) -> None:
        if not self._in_activity:
            return
        a = self.activity
        a.records += 1
        if timestamp is not None:
            if a.first_record_time is None:
                a.first_record_time = timestamp
            a.last_record_time = timestamp
        if lat is None or lon is None:
            # The decoders pass None for the invalid sentinel; a record without the fields at
            # all is told apart by the caller through ``no_position``.
            a.invalid_positions += 1
            return
        if (lat == 0 and lon == 0) or not (-_MAX_LAT_SEMI <= lat <= _MAX_LAT_SEMI) or lon < -_MAX_LON_SEMI:
            a.invalid_positions += 1
            return
        raw_alt = enhanced_altitude if enhanced_altitude is not None else altitude
        alt = None if raw_alt is None else raw_alt / p.ALTITUDE_SCALE - p.ALTITUDE_OFFSET
        a.samples.append((timestamp, lat, lon, alt, self._break_next))
        self._break_next = False

    def record_run(
        self,
        timestamps: Sequence[int | None] | None,
        lats: Sequence[int | None],
        lons: Sequence[int | None],
        enhanced_altitudes: Sequence[int | None] | None,
        altitudes: Sequence[int | None] | None,
    ) -> None:
        """Consecutive records given as columns (``None`` for a field the messages lack): the same
        as :meth:`record` for each, in order, but a run whose positions are all plainly valid
        becomes samples without a Python call per record (a long ride is one or a few runs)."""
        count = len(lats)
        if not self._in_activity or not count:
            return
        alts = self._run_altitudes(count, enhanced_altitudes, altitudes)
        if (
            alts is None
            or type(self).record is not ActivityBuilder.record  # a subclass watching each record
            or not _plainly_valid(lats, lons)
        ):
            none = repeat(None)
            for args in zip(
                timestamps or none, lats, lons, enhanced_altitudes or none, altitudes or none, strict=False
            ):
                self.record(*args)
            return
        a = self.activity
        a.records += count
        if timestamps is None:
            timestamps = [None] * count
        else:
            known = [t for t in timestamps if t is not None] if None in timestamps else timestamps
            if known:
                if a.first_record_time is None:
                    a.first_record_time = known[0]
                a.last_record_time = known[-1]
        breaks = chain((self._break_next,), repeat(False, count - 1))
        a.samples.extend(zip(timestamps, lats, lons, alts, breaks, strict=True))  # type: ignore[arg-type]
        self._break_next = False

    @staticmethod
    def _run_altitudes(
        count: int, enhanced: Sequence[int | None] | None, plain: Sequence[int | None] | None
    ) -> list[float | None] | None:
        """The run's altitudes in metres when one column gives them all (or none has any), else
        None (mixed gaps: the per-record rule picks enhanced or plain per record)."""
        if enhanced is not None and None not in enhanced:
            raw = enhanced
        elif (enhanced is None or enhanced.count(None) == count) and plain is not None and None not in plain:
            raw = plain
        elif (enhanced is None or enhanced.count(None) == count) and (
            plain is None or plain.count(None) == count
        ):
            return [None] * count
        else:
            return None
        scale, offset = p.ALTITUDE_SCALE, p.ALTITUDE_OFFSET
        return [r / scale - offset for r in raw]  # type: ignore[operator]  # no None, checked above

    def record_without_position(self, timestamp: int | None) -> None:
        if not self._in_activity:
            return
        a = self.activity
        a.records += 1
        a.no_position += 1
        if timestamp is not None:
            if a.first_record_time is None:
                a.first_record_time = timestamp
            a.last_record_time = timestamp
