"""The few FIT profile numbers the track decoder needs (FIT SDK profile, message and field numbers).

Only what a GPS track and its summary need is listed; everything else in a FIT file is skipped
by size. Names for enum values (sport, manufacturer...) come from fitdecode's full profile, see
:mod:`ridelines.fit.names`.
"""

from __future__ import annotations

# FIT epoch (1989-12-31T00:00:00Z) as a Unix timestamp.
FIT_EPOCH_UNIX = 631065600
# date_time values below this are seconds since device power-on, not since the FIT epoch.
FIT_MIN_ABSOLUTE_TIME = 0x10000000

# Global message numbers
MESG_FILE_ID = 0
MESG_SPORT = 12
MESG_SESSION = 18
MESG_RECORD = 20
MESG_EVENT = 21

FIELD_TIMESTAMP = 253

# file_id fields
FILE_ID_TYPE = 0
FILE_ID_MANUFACTURER = 1
FILE_ID_PRODUCT = 2
FILE_ID_TIME_CREATED = 4
# sport fields
SPORT_SPORT = 0
SPORT_SUB_SPORT = 1
# session fields
SESSION_START_TIME = 2
SESSION_SPORT = 5
SESSION_SUB_SPORT = 6
SESSION_TOTAL_ELAPSED_TIME = 7  # s x 1000
SESSION_TOTAL_TIMER_TIME = 8  # s x 1000
SESSION_TOTAL_DISTANCE = 9  # m x 100
SESSION_TOTAL_ASCENT = 22  # m
SESSION_TOTAL_MOVING_TIME = 59  # s x 1000 (newer devices)
# The session fields a track's properties come from, in the order both decoders unpack them.
SESSION_FIELDS = (
    SESSION_START_TIME,
    SESSION_SPORT,
    SESSION_SUB_SPORT,
    SESSION_TOTAL_ELAPSED_TIME,
    SESSION_TOTAL_TIMER_TIME,
    SESSION_TOTAL_DISTANCE,
    SESSION_TOTAL_ASCENT,
    SESSION_TOTAL_MOVING_TIME,
)
# record fields
RECORD_POSITION_LAT = 0
RECORD_POSITION_LONG = 1
RECORD_ALTITUDE = 2  # (m + 500) x 5, uint16
RECORD_ENHANCED_ALTITUDE = 78  # (m + 500) x 5, uint32
# event fields
EVENT_EVENT = 0
EVENT_EVENT_TYPE = 1

# file_id.type
FILE_TYPE_ACTIVITY = 4
# event.event
EVENT_TIMER = 0
# event.event_type
EVENT_TYPE_START = 0
EVENT_TYPE_STOPS = frozenset({1, 4, 8, 9})  # stop, stop_all, stop_disable, stop_disable_all

ALTITUDE_SCALE = 5.0
ALTITUDE_OFFSET = 500.0
SEMICIRCLES_TO_DEGREES = 180.0 / 2**31

# Base types: number -> (size in bytes, struct format letter, invalid value). Strings and byte
# arrays have no single invalid value; the decoder never extracts them.
BASE_TYPES: dict[int, tuple[int, str, int | float | None]] = {
    0x00: (1, "B", 0xFF),  # enum
    0x01: (1, "b", 0x7F),  # sint8
    0x02: (1, "B", 0xFF),  # uint8
    0x83: (2, "h", 0x7FFF),  # sint16
    0x84: (2, "H", 0xFFFF),  # uint16
    0x85: (4, "i", 0x7FFFFFFF),  # sint32
    0x86: (4, "I", 0xFFFFFFFF),  # uint32
    0x07: (1, "s", None),  # string
    0x88: (4, "f", None),  # float32 (invalid = all ones, never extracted)
    0x89: (8, "d", None),  # float64
    0x0A: (1, "B", 0x00),  # uint8z
    0x8B: (2, "H", 0x0000),  # uint16z
    0x8C: (4, "I", 0x00000000),  # uint32z
    0x0D: (1, "B", 0xFF),  # byte
    0x8E: (8, "q", 0x7FFFFFFFFFFFFFFF),  # sint64
    0x8F: (8, "Q", 0xFFFFFFFFFFFFFFFF),  # uint64
    0x90: (8, "Q", 0x0000000000000000),  # uint64z
}

# The fields the decoder extracts, per global message: field number -> the base types it
# accepts (the profile's type and its same-size unsigned/"z" variants, which some writers use;
# the invalid value then comes from the declared type, as in fitdecode). A file declaring one of
# these fields with another base type or size goes to the reference decoder (fitdecode).
_U8 = frozenset({0x00, 0x02, 0x0A, 0x0D})  # enum, uint8, uint8z, byte
_U16 = frozenset({0x84, 0x8B})  # uint16, uint16z
_U32 = frozenset({0x86, 0x8C})  # uint32, uint32z
_S32 = frozenset({0x85})
WANTED_FIELDS: dict[int, dict[int, frozenset[int]]] = {
    MESG_FILE_ID: {
        FILE_ID_TYPE: _U8,
        FILE_ID_MANUFACTURER: _U16,
        FILE_ID_PRODUCT: _U16,
        FILE_ID_TIME_CREATED: _U32,
    },
    MESG_SPORT: {SPORT_SPORT: _U8, SPORT_SUB_SPORT: _U8},
    MESG_SESSION: {
        SESSION_START_TIME: _U32,
        SESSION_SPORT: _U8,
        SESSION_SUB_SPORT: _U8,
        SESSION_TOTAL_ELAPSED_TIME: _U32,
        SESSION_TOTAL_TIMER_TIME: _U32,
        SESSION_TOTAL_DISTANCE: _U32,
        SESSION_TOTAL_ASCENT: _U16,
        SESSION_TOTAL_MOVING_TIME: _U32,
    },
    MESG_RECORD: {
        RECORD_POSITION_LAT: _S32,
        RECORD_POSITION_LONG: _S32,
        RECORD_ALTITUDE: _U16,
        RECORD_ENHANCED_ALTITUDE: _U32,
    },
    MESG_EVENT: {EVENT_EVENT: _U8, EVENT_EVENT_TYPE: _U8},
}
# Every message may carry a timestamp; it also feeds compressed-timestamp headers.
TIMESTAMP_BASE_TYPES = _U32
