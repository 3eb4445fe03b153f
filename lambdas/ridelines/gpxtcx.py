"""GPX and TCX originals -> positioned samples, parsed safely, for the same track rules as FIT.

intervals.icu serves the *original* upload, which for many devices and apps is GPX or TCX.
Both become :data:`ridelines.fit.Sample` tuples (timestamps in seconds, positions in
semicircles), so :func:`ridelines.tracks.build_track` applies the same segment rules:

* GPX: each ``<trkseg>`` (and each ``<trk>``) starts a new segment — that is how recorders write
  a pause; ``<rtept>``/``<wpt>`` are not a recording and are ignored;
* TCX: each ``<Track>`` starts a new segment (Garmin writes a new ``Track`` after a pause; laps
  alone are not pauses, an auto-lap every kilometre must not cut the line);
* then, as for FIT, time gaps and impossible jumps split, lone points drop.

Safety: the standard library's expat parser is used (``defusedxml`` is not available), behind a
guard that refuses any document with a ``<!DOCTYPE`` or ``<!ENTITY`` declaration before parsing:
no entity can be defined, so none can expand (billion laughs, external entities). GPX and TCX
never need a DTD. Elements are cleared as they are read (constant memory on long files).
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ridelines.errors import InvalidInput
from ridelines.fit import Sample

_TO_SEMI = 2**31 / 180.0
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
MAX_XML_BYTES = 256 * 1024 * 1024

# TCX Activity/@Sport and GPX <type> -> intervals.icu activity type
_SPORTS = {
    "biking": "Ride",
    "cycling": "Ride",
    "road_biking": "Ride",
    "mountain_biking": "MountainBikeRide",
    "gravel_cycling": "GravelRide",
    "running": "Run",
    "walking": "Walk",
    "hiking": "Hike",
}


class TrackFileError(InvalidInput):
    """A GPX/TCX file that cannot be read (malformed, declares a DTD/entities, not a track)."""

    code = "invalid_track_file"


@dataclass
class TrackFile:
    """What a GPX or TCX file holds that the map uses."""

    kind: str  # "gpx" or "tcx"
    samples: list[Sample] = field(default_factory=list)
    sport: str | None = None
    start: datetime | None = None
    points: int = 0  # track points read, with or without a position


def _as_text(data: bytes) -> bytes:
    """The document as UTF-8-compatible bytes for the guard (UTF-16 files are re-encoded)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and b"\x00" in data[:4]):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise TrackFileError("file is neither UTF-8 nor readable UTF-16") from exc
        return text.encode("utf-8")
    return data


def check_safe(data: bytes) -> bytes:
    """Refuse what expat would expand; return bytes safe to parse."""
    if len(data) > MAX_XML_BYTES:
        raise TrackFileError("file is too large")
    text = _as_text(data)
    if _DECLARATION.search(text):
        raise TrackFileError("file declares a DOCTYPE or ENTITY (refused: GPX/TCX never need one)")
    if text is not data:  # drop the now-wrong encoding declaration of a UTF-16 file
        text = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", text.lstrip(b"\xef\xbb\xbf"), count=1)
    return text


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _sample(
    lat: float | None, lon: float | None, when: datetime | None, alt: float | None, new: bool
) -> Sample | None:
    if lat is None or lon is None or not (-90 <= lat <= 90) or not (-180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:
        return None
    ts = None if when is None else int(when.timestamp())
    return (ts, round(lat * _TO_SEMI), round(lon * _TO_SEMI), alt, new)


def parse_track_file(data: bytes, source: str = "<bytes>") -> TrackFile:
    """GPX or TCX bytes -> :class:`TrackFile`; raises :class:`TrackFileError` naming ``source``."""
    safe = check_safe(data)
    try:
        return _parse(safe)
    except ET.ParseError as exc:
        raise TrackFileError(f"{source}: malformed XML ({exc})") from None
    except TrackFileError as exc:
        raise TrackFileError(f"{source}: {exc.message}") from None


def _parse(data: bytes) -> TrackFile:
    result: TrackFile | None = None
    new_segment = True
    lat = lon = alt = None
    when: datetime | None = None
    in_point = False
    # S314: guarded by check_safe (no DOCTYPE/ENTITY can reach expat; see the module docstring)
    for event, element in ET.iterparse(io.BytesIO(data), events=("start", "end")):  # noqa: S314
        name = _local(element.tag)
        if event == "start":
            if result is None:
                if name == "gpx":
                    result = TrackFile("gpx")
                elif name == "TrainingCenterDatabase":
                    result = TrackFile("tcx")
                else:
                    raise TrackFileError(f"not a GPX or TCX file (root element {name[:40]!r})")
            if name in ("trkseg", "trk", "Track"):
                new_segment = True
            elif name in ("trkpt", "Trackpoint"):
                in_point = True
                lat = lon = alt = None
                when = None
                if name == "trkpt":
                    lat, lon = _float(element.get("lat")), _float(element.get("lon"))
            elif name == "Activity" and result.kind == "tcx" and result.sport is None:
                result.sport = _SPORTS.get((element.get("Sport") or "").lower())
            continue
        # end events
        assert result is not None
        if in_point:
            if name in ("ele", "AltitudeMeters"):
                alt = _float(element.text)
            elif name == "time" or name == "Time":
                when = parse_time(element.text)
            elif name == "LatitudeDegrees":
                lat = _float(element.text)
            elif name == "LongitudeDegrees":
                lon = _float(element.text)
        elif name == "type" and result.kind == "gpx" and result.sport is None:
            result.sport = _SPORTS.get((element.text or "").strip().lower())
        if name in ("trkpt", "Trackpoint"):
            in_point = False
            result.points += 1
            sample = _sample(lat, lon, when, None if alt is None else round(alt, 1), new_segment)
            if sample is not None:
                result.samples.append(sample)
                new_segment = False
                if when is not None and result.start is None:
                    result.start = when
            element.clear()
        elif name in ("trk", "Lap", "Activity"):
            element.clear()
    if result is None:
        raise TrackFileError("empty document")
    return result
