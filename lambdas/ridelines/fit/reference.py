"""The reference decoder: fitdecode, feeding the same :class:`ActivityBuilder` as the fast path.

Used when the fast decoder meets something it does not handle, and by the tests as the ground
truth the fast decoder must agree with. fitdecode checks CRCs strictly but interprets oddities
leniently (``ErrorHandling.IGNORE``: e.g. field sizes that are not a multiple of their base
type, which real Coros files contain). Its exceptions are mapped to the same outcomes as the
fast decoder: :class:`FitDecodeError` for corruption, :class:`Truncated` for bytes ending early.
"""

from __future__ import annotations

import io
from typing import Any

import fitdecode
from fitdecode import CrcCheck, ErrorHandling

from ridelines.errors import FitDecodeError
from ridelines.fit import profile as p
from ridelines.fit.activity import ActivityBuilder, Session
from ridelines.fit.errors import Truncated


def _raw_fields(message: fitdecode.FitDataMessage) -> dict[int, Any]:
    """Native fields by number (first occurrence), plus the compressed-header timestamp."""
    out: dict[int, Any] = {}
    compressed_ts = None
    for fd in message.fields:
        if fd.field_def is None:
            if fd.name == "timestamp" and message.time_offset is not None:
                compressed_ts = fd.raw_value
            continue
        if fd.field_def.is_dev:
            continue
        out.setdefault(fd.field_def.def_num, fd.raw_value)
    if out.get(p.FIELD_TIMESTAMP) is None and compressed_ts is not None:
        out[p.FIELD_TIMESTAMP] = compressed_ts
    return out


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def decode_reference(data: bytes, builder: ActivityBuilder, source: str) -> None:
    if not data:
        raise FitDecodeError(f"{source}: empty file")
    reader = fitdecode.FitReader(
        io.BytesIO(data),
        check_crc=CrcCheck.RAISE,
        error_handling=ErrorHandling.IGNORE,
        keep_raw_chunks=False,
        processor=fitdecode.DataProcessorBase(),  # raw values are all we read: skip unit conversions
    )
    try:
        for frame in reader:
            if isinstance(frame, fitdecode.FitHeader):
                builder.begin_file()
            elif isinstance(frame, fitdecode.FitDataMessage):
                _feed(builder, frame)
    except fitdecode.FitEOFError as exc:
        raise Truncated(f"file ends early ({exc})") from None
    except fitdecode.FitHeaderError as exc:
        text = str(exc)
        if "truncated" in text:
            raise Truncated(text) from None
        raise FitDecodeError(f"{source}: not a FIT file: {text}") from None
    except fitdecode.FitCRCError as exc:
        raise FitDecodeError(f"{source}: CRC mismatch (the file is corrupt): {exc}") from None
    except fitdecode.FitParseError as exc:
        raise FitDecodeError(f"{source}: {exc}") from None
    except Exception as exc:  # fitdecode raises bare ValueError/KeyError/AssertionError on some corruptions
        raise FitDecodeError(f"{source}: unreadable FIT data ({type(exc).__name__}: {exc})") from None
    finally:
        reader.close()


def _feed(builder: ActivityBuilder, message: fitdecode.FitDataMessage) -> None:
    num = message.global_mesg_num
    if num not in (p.MESG_RECORD, p.MESG_EVENT, p.MESG_FILE_ID, p.MESG_SPORT, p.MESG_SESSION):
        return
    f = _raw_fields(message)
    if num == p.MESG_RECORD:
        ts = _int(f.get(p.FIELD_TIMESTAMP))
        if p.RECORD_POSITION_LAT in f or p.RECORD_POSITION_LONG in f:
            builder.record(
                ts,
                _int(f.get(p.RECORD_POSITION_LAT)),
                _int(f.get(p.RECORD_POSITION_LONG)),
                _int(f.get(p.RECORD_ENHANCED_ALTITUDE)),
                _int(f.get(p.RECORD_ALTITUDE)),
            )
        else:
            builder.record_without_position(ts)
    elif num == p.MESG_EVENT:
        builder.event(_int(f.get(p.EVENT_EVENT)), _int(f.get(p.EVENT_EVENT_TYPE)))
    elif num == p.MESG_FILE_ID:
        builder.file_id(
            _int(f.get(p.FILE_ID_TYPE)),
            _int(f.get(p.FILE_ID_MANUFACTURER)),
            _int(f.get(p.FILE_ID_PRODUCT)),
            _int(f.get(p.FILE_ID_TIME_CREATED)),
        )
    elif num == p.MESG_SPORT:
        builder.sport(_int(f.get(p.SPORT_SPORT)), _int(f.get(p.SPORT_SUB_SPORT)))
    else:
        start, sport, sub, elapsed, timer, dist, ascent, moving = (_int(f.get(k)) for k in p.SESSION_FIELDS)
        builder.session(
            Session(
                start_time=start,
                sport=sport,
                sub_sport=sub,
                elapsed_s=None if elapsed is None else elapsed / 1000,
                timer_s=None if timer is None else timer / 1000,
                distance_m=None if dist is None else dist / 100,
                ascent_m=ascent,
                moving_s=None if moving is None else moving / 1000,
            )
        )
