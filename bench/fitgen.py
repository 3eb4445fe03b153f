"""Synthetic FIT activity files for benchmarks (standard library only).

``ride(seed, start, hours)`` encodes a plausible 1 Hz bike ride: a road-like random walk (heading
drifting, now and then a junction turn; steering every few seconds) at 20-30 km/h with a few km/h
of noise, starting within ``radius_km`` of a city. It holds what a bike computer writes for the
parts Ridelines reads:
a 14-byte header with its CRC, ``file_id`` (type activity), a timer start event, one ``record`` per
second (timestamp, position_lat/long, enhanced_altitude, distance), a timer stop_all event, a
``session`` (start_time, sport cycling, elapsed/timer time, distance, ascent) and the file CRC.

Deterministic: the same arguments give the same bytes, so a benchmark can regenerate a ride on
demand instead of holding thousands of files in memory.
"""

from __future__ import annotations

import math
import random
import struct
from array import array
from datetime import UTC, datetime

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
ZURICH = (47.3769, 8.5417)  # lat, lon
_SEMI = 2**31 / 180.0
_M_PER_DEG = 111_195.0

# --- CRC-16 of the FIT SDK (CRC-16/ARC), one 16-bit little-endian word per step -----------------


def _byte_step(crc: int, byte: int) -> int:
    for _ in range(8):
        crc = (crc >> 1) ^ 0xA001 if (crc ^ byte) & 1 else crc >> 1
        byte >>= 1
    return crc


_T8 = [_byte_step(0, b) for b in range(256)]
# built once at import (~50 ms): a lazily filled table would be read half-built by other threads
_T16 = [(_T8[w & 0xFF] >> 8) ^ _T8[(_T8[w & 0xFF] ^ (w >> 8)) & 0xFF] for w in range(65536)]


def crc16(data: bytes | bytearray, crc: int = 0) -> int:
    even = len(data) - len(data) % 2
    words = array("H")
    words.frombytes(bytes(data[:even]))
    if struct.pack("=H", 1) != b"\x01\x00":
        words.byteswap()
    t16 = _T16
    for word in words:
        crc = t16[crc ^ word]
    if even != len(data):
        crc = (crc >> 8) ^ _T8[(crc ^ data[even]) & 0xFF]
    return crc


# --- messages ---------------------------------------------------------------------------------

# (global message number, local type, fields as (number, size, base type, struct code))
FILE_ID = (
    0,
    0,
    [(0, 1, 0x00, "B"), (1, 2, 0x84, "H"), (2, 2, 0x84, "H"), (3, 4, 0x8C, "I"), (4, 4, 0x86, "I")],
)
EVENT = (21, 1, [(253, 4, 0x86, "I"), (0, 1, 0x00, "B"), (1, 1, 0x00, "B"), (4, 1, 0x02, "B")])
RECORD = (
    20,
    2,
    [(253, 4, 0x86, "I"), (0, 4, 0x85, "i"), (1, 4, 0x85, "i"), (78, 4, 0x86, "I"), (5, 4, 0x86, "I")],
)
SESSION = (
    18,
    3,
    [
        (253, 4, 0x86, "I"),  # timestamp
        (2, 4, 0x86, "I"),  # start_time
        (7, 4, 0x86, "I"),  # total_elapsed_time, s x 1000
        (8, 4, 0x86, "I"),  # total_timer_time, s x 1000
        (9, 4, 0x86, "I"),  # total_distance, m x 100
        (22, 2, 0x84, "H"),  # total_ascent, m
        (254, 2, 0x84, "H"),  # message_index
        (0, 1, 0x00, "B"),  # event: session
        (1, 1, 0x00, "B"),  # event_type: stop
        (5, 1, 0x00, "B"),  # sport: cycling
        (6, 1, 0x00, "B"),  # sub_sport: generic
    ],
)
SPORT_CYCLING = 2
STEER_S = 5  # heading, speed and climb change every this many seconds
EVENT_TIMER, EVENT_SESSION = 0, 8
EVENT_TYPE_START, EVENT_TYPE_STOP, EVENT_TYPE_STOP_ALL = 0, 1, 4


def _definition(message: tuple[int, int, list[tuple[int, int, int, str]]]) -> bytes:
    number, local, fields = message
    out = struct.pack("<BBBHB", 0x40 | local, 0, 0, number, len(fields))
    return out + b"".join(struct.pack("<BBB", n, size, base) for n, size, base, _code in fields)


def _data(message: tuple[int, int, list[tuple[int, int, int, str]]]) -> tuple[struct.Struct, int]:
    _number, local, fields = message
    return struct.Struct("<B" + "".join(code for *_x, code in fields)), local


def fit_time(when: datetime) -> int:
    return int((when - FIT_EPOCH).total_seconds())


def ride(
    seed: int,
    start: datetime,
    hours: float,
    *,
    centre: tuple[float, float] = ZURICH,
    radius_km: float = 100.0,
    every_s: int = 1,
) -> bytes:
    """One 1 Hz ride of ``round(hours * 3600)`` points; see the module docstring. ``every_s`` > 1
    writes a record only every that many seconds (and the last one), like a bike computer's
    "smart" recording: the same ride, fewer records."""
    rnd = random.Random(seed)
    points = max(2, round(hours * 3600))
    # start anywhere within radius_km of the centre (uniform over the disc)
    r = radius_km * 1000 * math.sqrt(rnd.random())
    bearing = rnd.uniform(0, 2 * math.pi)
    lat = centre[0] + r * math.cos(bearing) / _M_PER_DEG
    lon = centre[1] + r * math.sin(bearing) / (_M_PER_DEG * math.cos(math.radians(lat)))
    alt = rnd.uniform(300, 800)
    heading = rnd.uniform(0, 2 * math.pi)
    cruise = rnd.uniform(20, 30) / 3.6  # m/s
    t0 = fit_time(start)

    record, record_local = _data(RECORD)
    pack = record.pack
    head = record_local
    out = bytearray()
    out += _definition(FILE_ID)
    file_id, local = _data(FILE_ID)
    out += file_id.pack(local, 4, 255, 1, 1000 + seed % 100000 + 1, t0)
    out += _definition(EVENT)
    event, event_local = _data(EVENT)
    out += event.pack(event_local, t0, EVENT_TIMER, EVENT_TYPE_START, 0)
    out += _definition(RECORD)

    gauss, rand = rnd.gauss, rnd.random
    cos, sin, radians = math.cos, math.sin, math.radians
    distance = ascent = 0.0
    speed = cruise
    lon_scale = _M_PER_DEG * cos(radians(lat))
    semi = _SEMI
    recorded = 0.0
    dlat = dlon = climb = 0.0
    for k in range(points):
        recorded = distance
        if every_s == 1 or not k % every_s or k == points - 1:
            out += pack(
                head,
                t0 + k,
                round(lat * semi),
                round(lon * semi),
                round((alt + 500.0) * 5.0),
                round(distance * 100.0),
            )
        if not k % STEER_S:
            # steer every few seconds (1 Hz positions in between): cheaper, and still road-like
            if rand() < 0.004 * STEER_S:  # a junction about every 4 minutes
                heading += rnd.choice((-1.0, 1.0)) * rnd.uniform(0.8, 1.8)
            heading += gauss(0, 0.11)
            speed = max(1.0, speed + 0.3 * (cruise - speed) + gauss(0, 0.6))  # a few km/h of noise
            dlat = speed * cos(heading) / _M_PER_DEG
            dlon = speed * sin(heading) / lon_scale
            climb = min(max(gauss(0, 0.15), (200.0 - alt) / STEER_S), (2500.0 - alt) / STEER_S)
            ascent += max(climb, 0.0) * STEER_S
        lat += dlat
        lon += dlon
        alt += climb
        distance += speed
    end = t0 + points - 1
    out += event.pack(event_local, end, EVENT_TIMER, EVENT_TYPE_STOP_ALL, 0)
    out += _definition(SESSION)
    session, session_local = _data(SESSION)
    elapsed_ms = (points - 1) * 1000
    out += session.pack(
        session_local,
        end,
        t0,
        elapsed_ms,
        elapsed_ms,
        round(recorded * 100.0),
        min(round(ascent), 0xFFFE),
        0,
        EVENT_SESSION,
        EVENT_TYPE_STOP,
        SPORT_CYCLING,
        0,
    )

    header = bytearray(struct.pack("<BBHI4s", 14, 0x20, 2132, len(out), b".FIT"))
    header += struct.pack("<H", crc16(header))
    body = header + out
    return bytes(body + struct.pack("<H", crc16(body)))
