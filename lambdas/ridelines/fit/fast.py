"""A struct-based FIT decoder for the handful of messages a GPS track needs.

Why: fitdecode decodes every field of every message into Python objects (~15k records/s); a
map needs five fields of ``record`` and a few summary fields. This decoder compiles, per
definition message, one :class:`struct.Struct` that unpacks exactly the wanted fields and skips
the rest (developer fields included) by size, so a data message costs one ``unpack_from``.
Consecutive positioned records of one definition (most of a ride: a new one every second) are
found by their repeating header byte and handed to the builder as columns, read with strided
byte slices, so a long ride costs a few C-level passes rather than a Python step per record.

It handles: 12/14-byte headers (header CRC when non-zero), chained FIT files, both
architectures, normal and compressed-timestamp record headers, developer fields (skipped by
their declared size, even when their ``developer_data_id`` is missing or their size is 0 -
fields a track never reads), and the file CRC of every chained part.

It raises :class:`~ridelines.fit.errors.Unsupported` (the caller falls back to fitdecode) when a
wanted field has an unexpected base type or size. Corruption raises
:class:`~ridelines.errors.FitDecodeError`; bytes ending early raise
:class:`~ridelines.fit.errors.Truncated` after everything before the break was delivered.
"""

from __future__ import annotations

import functools
import struct
import sys
from collections.abc import Callable, Sequence

from ridelines.errors import FitDecodeError
from ridelines.fit import profile as p
from ridelines.fit.activity import ActivityBuilder, Session
from ridelines.fit.crc import crc16
from ridelines.fit.errors import Truncated, Unsupported

_HEADER = struct.Struct("<BBHI4s")
_U16 = struct.Struct("<H")

# Slots of the compiled layout, per message kind (order of the values handed to the builder).
_SLOTS: dict[int, tuple[int, ...]] = {
    p.MESG_RECORD: (
        p.FIELD_TIMESTAMP,
        p.RECORD_POSITION_LAT,
        p.RECORD_POSITION_LONG,
        p.RECORD_ENHANCED_ALTITUDE,
        p.RECORD_ALTITUDE,
    ),
    p.MESG_EVENT: (p.FIELD_TIMESTAMP, p.EVENT_EVENT, p.EVENT_EVENT_TYPE),
    p.MESG_FILE_ID: (
        p.FIELD_TIMESTAMP,
        p.FILE_ID_TYPE,
        p.FILE_ID_MANUFACTURER,
        p.FILE_ID_PRODUCT,
        p.FILE_ID_TIME_CREATED,
    ),
    p.MESG_SPORT: (p.FIELD_TIMESTAMP, p.SPORT_SPORT, p.SPORT_SUB_SPORT),
    p.MESG_SESSION: (p.FIELD_TIMESTAMP, *p.SESSION_FIELDS),
}
_TIMESTAMP_ONLY = (p.FIELD_TIMESTAMP,)


class _Layout:
    """A compiled definition message."""

    __slots__ = ("columns", "global_num", "has_position", "invalid", "native", "order", "size", "unpack")

    def __init__(
        self,
        global_num: int,
        size: int,
        unpack: Callable[[bytes, int], tuple[int, ...]] | None,
        order: tuple[int, ...],
        invalid: tuple[int | float | None, ...],
        columns: tuple[tuple[int, int, str] | None, ...] | None = None,
        native: bool = True,
    ) -> None:
        self.global_num = global_num
        self.size = size
        self.unpack = unpack  # None: nothing wanted in this message
        self.order = order  # for each slot, the index in the unpacked tuple or -1 when absent
        self.invalid = invalid  # for each slot, the invalid value of its declared base type
        self.has_position = global_num == p.MESG_RECORD and (order[1] >= 0 or order[2] >= 0)
        # Positioned records: per slot (offset in the message, size, native format letter), to
        # read a run of them column by column; ``native``: the file's byte order is the host's.
        self.columns = columns if self.has_position else None
        self.native = native


@functools.lru_cache(maxsize=1024)
def _compile(
    global_num: int, endian: str, fields: tuple[tuple[int, int, int], ...], dev_size: int
) -> _Layout:
    """Compile a definition; cached, because files repeat the same few definitions (a file made
    of nothing but definitions must not cost a struct compilation each)."""
    slots = _SLOTS.get(global_num, _TIMESTAMP_ONLY)
    wanted = p.WANTED_FIELDS.get(global_num, {})
    fmt = [endian]
    found: dict[int, tuple[int, int, int]] = {}  # field number -> (tuple index, base type, offset)
    size = 0
    for num, fsize, base in fields:
        offset = size
        size += fsize
        accepted = p.TIMESTAMP_BASE_TYPES if num == p.FIELD_TIMESTAMP else wanted.get(num)
        # A 0-byte field carries no value (fitdecode gives up on it; there is nothing to read).
        if accepted is None or num not in slots or num in found or fsize == 0:
            if fsize:
                fmt.append(f"{fsize}x")
            continue
        base_size, letter, _ = p.BASE_TYPES.get(base, (0, "", None))
        if base not in accepted or fsize != base_size:
            raise Unsupported(f"field {num} of message {global_num}: base type {base:#x}, size {fsize}")
        fmt.append(letter)
        found[num] = (len(found), base, offset)
    if dev_size:
        fmt.append(f"{dev_size}x")
    size += dev_size
    order = tuple(found[s][0] if s in found else -1 for s in slots)
    invalid = tuple(p.BASE_TYPES[found[s][1]][2] if s in found else None for s in slots)
    unpack = struct.Struct("".join(fmt)).unpack_from if found else None
    columns = tuple(_column_spec(found.get(s)) for s in slots)
    native = (endian == "<") == (sys.byteorder == "little")
    usable = found and all(c is not None or s not in found for c, s in zip(columns, slots, strict=True))
    return _Layout(global_num, size, unpack, order, invalid, columns if usable else None, native)


def _column_spec(field: tuple[int, int, int] | None) -> tuple[int, int, str] | None:
    """(offset, size, letter) of a field read as a column through a native memoryview cast."""
    if field is None:
        return None
    _, base, offset = field
    size, letter, _ = p.BASE_TYPES[base]
    if letter not in "bBhHiIqQ" or struct.calcsize(letter) != size:
        return None
    return offset, size, letter


def _values(layout: _Layout, raw: tuple[int, ...]) -> list[int | None]:
    out: list[int | None] = []
    for index, invalid in zip(layout.order, layout.invalid, strict=True):
        if index < 0:
            out.append(None)
        else:
            value = raw[index]
            out.append(None if value == invalid else value)
    return out


# A run of at least this many records of one definition goes to the builder as columns; the
# window of header bytes looked at grows while runs fill it (a long ride is a few runs).
_MIN_RUN = 8
_MAX_RUN = 16384


def _record_run(builder: ActivityBuilder, layout: _Layout, data: bytes, pos: int, count: int) -> int | None:
    """Hand ``count`` consecutive records at ``pos`` (all of ``layout``) to the builder as
    columns; return the last valid timestamp among them.

    A column is read without a Python step per record: each byte of the field is one strided
    slice of ``data``, interleaved into a buffer in the host's byte order and cast to ints."""
    assert layout.columns is not None
    stride = layout.size + 1
    first = pos + 1  # the first message's bytes, after its header byte

    def column(slot: int) -> Sequence[int | None] | None:
        spec = layout.columns[slot]  # type: ignore[index]  # not None: asserted above
        if spec is None:
            return None
        offset, size, letter = spec
        start = first + offset
        stop = start + count * stride
        packed = bytearray(count * size)
        for byte in range(size):
            packed[(byte if layout.native else size - 1 - byte) :: size] = data[start + byte : stop : stride]
        values = memoryview(packed).cast(letter).tolist()  # type: ignore[arg-type]  # an integer format
        invalid = layout.invalid[slot]
        return [None if v == invalid else v for v in values] if invalid in values else values

    timestamps = column(0)
    builder.record_run(
        timestamps, column(1) or [None] * count, column(2) or [None] * count, column(3), column(4)
    )
    if timestamps is None:
        return None
    for ts in reversed(timestamps):
        if ts is not None:
            return ts
    return None


def decode_fast(data: bytes, builder: ActivityBuilder, source: str) -> None:
    """Decode ``data`` (plain FIT bytes, possibly chained) into ``builder``."""
    n = len(data)
    if n == 0:
        raise FitDecodeError(f"{source}: empty file")
    pos = 0
    while pos < n:
        pos = _decode_one_file(data, pos, builder, source)


def _read_header(data: bytes, pos: int, source: str) -> tuple[int, int]:
    """Validate the header at ``pos``; return (header size, data size)."""
    n = len(data)
    first = pos == 0
    if n - pos < 12:
        if first:
            raise FitDecodeError(f"{source}: not a FIT file (only {n} bytes)")
        raise Truncated(f"chained FIT header at byte {pos} is cut short")
    header_size, _proto, _profile, data_size, magic = _HEADER.unpack_from(data, pos)
    if magic != b".FIT" or header_size < 12:
        where = "" if first else f" at byte {pos} (chained file)"
        raise FitDecodeError(f"{source}: not a FIT file: bad header{where}")
    if header_size > 12:
        if header_size < 14:
            raise FitDecodeError(f"{source}: bad FIT header: size {header_size}")
        if n - pos < header_size:
            raise Truncated(f"FIT header at byte {pos} is cut short")
        (header_crc,) = _U16.unpack_from(data, pos + 12)
        if header_crc and header_crc != crc16(data[pos : pos + 12]):
            raise FitDecodeError(f"{source}: CRC mismatch in the FIT header at byte {pos}")
    if data_size == 0 and n - pos > header_size + 2:
        raise FitDecodeError(
            f"{source}: FIT header declares no data but {n - pos - header_size} bytes follow "
            "(the recording was never finalised)"
        )
    return header_size, data_size


def _decode_one_file(data: bytes, start: int, builder: ActivityBuilder, source: str) -> int:
    header_size, data_size = _read_header(data, start, source)
    builder.begin_file()
    n = len(data)
    pos = start + header_size
    data_end = pos + data_size
    limit = min(data_end, n)
    layouts: dict[int, _Layout] = {}
    last_ts = 0  # compressed-timestamp accumulator (reset per chained file, like fitdecode)
    record = builder.record
    record_no_pos = builder.record_without_position
    mesg_record = p.MESG_RECORD
    window = _MIN_RUN

    while pos < limit:
        header = data[pos]
        if header & 0x80:  # compressed timestamp header: local message 0-3, 5-bit time offset
            local = (header >> 5) & 0x3
            layout = layouts.get(local)
            if layout is None:
                raise FitDecodeError(
                    f"{source}: local message {local} used before its definition at byte {pos}"
                )
            end = pos + 1 + layout.size
            if end > limit:
                _overrun(source, pos, end, n)
            values: list[int | None] = (
                _values(layout, layout.unpack(data, pos + 1)) if layout.unpack else [None] * 9
            )
            if values[0] is not None:  # a timestamp field too: it wins, and feeds the accumulator
                last_ts = values[0]
            offset = header & 0x1F
            ts = (last_ts & ~0x1F) + offset
            if offset < (last_ts & 0x1F):
                ts += 0x20
            last_ts = ts
            if values[0] is None:
                values[0] = ts
            _dispatch(builder, layout, values)
            pos = end
        elif header & 0x40:  # definition message
            pos = _read_definition(data, pos, limit, layouts, source)
        else:
            local = header & 0x0F
            layout = layouts.get(local)
            if layout is None:
                raise FitDecodeError(
                    f"{source}: local message {local} used before its definition at byte {pos}"
                )
            end = pos + 1 + layout.size
            if end > limit:
                _overrun(source, pos, end, n)
            unpack = layout.unpack
            # Consecutive records of this definition: the same header byte every ``stride`` bytes
            # (one byte looked at first, so records interleaved with other messages pay little).
            if (
                layout.columns is not None
                and (probe := end + (_MIN_RUN - 2) * (stride := end - pos)) < limit
                and data[probe] == header
            ):
                heads = data[pos : pos + min(window, (limit - pos) // stride) * stride : stride]
                count = len(heads) - len(heads.lstrip(heads[:1]))
                if count >= _MIN_RUN:
                    run_ts = _record_run(builder, layout, data, pos, count)
                    if run_ts is not None:
                        last_ts = run_ts
                    pos += count * stride
                    window = min(2 * window, _MAX_RUN) if count == len(heads) else _MIN_RUN
                    continue
                window = _MIN_RUN
            if unpack is not None:
                raw = unpack(data, pos + 1)
                if layout.global_num == mesg_record:
                    # Hot path, inlined: one record message.
                    o = layout.order
                    inv = layout.invalid
                    rts = raw[o[0]] if o[0] >= 0 else None
                    if rts is not None:
                        if rts == inv[0]:
                            rts = None
                        else:
                            last_ts = rts
                    if layout.has_position:
                        lat = raw[o[1]] if o[1] >= 0 else None
                        lon = raw[o[2]] if o[2] >= 0 else None
                        enh = raw[o[3]] if o[3] >= 0 else None
                        alt = raw[o[4]] if o[4] >= 0 else None
                        record(
                            rts,
                            None if lat == inv[1] else lat,
                            None if lon == inv[2] else lon,
                            None if enh == inv[3] else enh,
                            None if alt == inv[4] else alt,
                        )
                    else:
                        record_no_pos(rts)
                else:
                    values = _values(layout, raw)
                    if values[0] is not None:
                        last_ts = values[0]
                    _dispatch(builder, layout, values)
            pos = end

    if data_end > n:
        raise Truncated(f"file ends at byte {n} but its header announces {data_end + 2} bytes")
    if data_end + 2 > n:
        raise Truncated(f"file ends at byte {n}, before the CRC at byte {data_end}")
    (stored_crc,) = _U16.unpack_from(data, data_end)
    if crc16(memoryview(data)[start:data_end]) != stored_crc:
        raise FitDecodeError(f"{source}: CRC mismatch (the file is corrupt) at byte {data_end}")
    return data_end + 2


def _overrun(source: str, pos: int, end: int, n: int) -> None:
    """A message at ``pos`` needs bytes up to ``end``, past its data section."""
    if end > n:
        raise Truncated(f"file ends inside the message at byte {pos}")
    raise FitDecodeError(f"{source}: message at byte {pos} runs past the end of the data section")


def _read_definition(data: bytes, pos: int, limit: int, layouts: dict[int, _Layout], source: str) -> int:
    n = len(data)
    header = data[pos]
    if pos + 6 > limit:
        _overrun(source, pos, pos + 6, n)
    arch = data[pos + 2]
    endian = ">" if arch else "<"
    (global_num,) = struct.unpack_from(endian + "H", data, pos + 3)
    num_fields = data[pos + 5]
    cursor = pos + 6
    if cursor + 3 * num_fields > limit:
        _overrun(source, pos, cursor + 3 * num_fields, n)
    fields = tuple((data[i], data[i + 1], data[i + 2]) for i in range(cursor, cursor + 3 * num_fields, 3))
    cursor += 3 * num_fields
    dev_size = 0
    if header & 0x20:  # developer fields follow: skipped by their declared sizes
        if cursor + 1 > limit:
            _overrun(source, pos, cursor + 1, n)
        num_dev = data[cursor]
        cursor += 1
        if cursor + 3 * num_dev > limit:
            _overrun(source, pos, cursor + 3 * num_dev, n)
        dev_size = sum(data[i + 1] for i in range(cursor, cursor + 3 * num_dev, 3))
        cursor += 3 * num_dev
    layouts[header & 0x0F] = _compile(global_num, endian, fields, dev_size)
    return cursor


def _dispatch(builder: ActivityBuilder, layout: _Layout, v: list[int | None]) -> None:
    g = layout.global_num
    if g == p.MESG_RECORD:
        if layout.has_position:
            builder.record(v[0], v[1], v[2], v[3], v[4])
        else:
            builder.record_without_position(v[0])
    elif g == p.MESG_EVENT:
        builder.event(v[1], v[2])
    elif g == p.MESG_FILE_ID:
        builder.file_id(v[1], v[2], v[3], v[4])
    elif g == p.MESG_SPORT:
        builder.sport(v[1], v[2])
    elif g == p.MESG_SESSION:
        builder.session(
            Session(
                start_time=v[1],
                sport=v[2],
                sub_sport=v[3],
                elapsed_s=None if v[4] is None else v[4] / 1000,
                timer_s=None if v[5] is None else v[5] / 1000,
                distance_m=None if v[6] is None else v[6] / 100,
                ascent_m=v[7],
                moving_s=None if v[8] is None else v[8] / 1000,
            )
        )
