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

from dataclasses import dataclass, field

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
