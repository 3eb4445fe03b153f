"""FIT bytes -> one GeoJSON Feature per activity (DESIGN §4), the unit the archive and tiles use.

Properties: ``id``, ``name``, ``type``, ``start`` (ISO 8601 UTC), ``distance_m``, ``moving_s``,
``virtual``, ``trainer`` always (``None`` when unknown), ``elevation_gain_m`` only when known.
Values from intervals.icu (:class:`ActivityMeta`) win; the FIT file (sessions, sport, file_id,
records) fills the rest. Geometry: LineString for one segment, MultiLineString for several;
positions ``[lon, lat, alt]`` when every point has an altitude, else ``[lon, lat]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from ridelines import fit
from ridelines.fit import FitActivity, names
from ridelines.fit import profile as p
from ridelines.fit.virtual import VIRTUAL_TYPES, is_trainer_fit, is_virtual_fit
from ridelines.tracks import Track, build_track, simplify_line

if TYPE_CHECKING:
    from ridelines.selection import ActivityWindow

# GPX/TCX parsing (xml, re), windows (logging) and hashing are imported where they are used:
# ``ridelines convert`` of one FIT file is a short process and needs none of them.

# FIT sport / sub_sport -> intervals.icu (Strava-style) activity type.
_SUB_SPORT_TYPES = {
    (2, 58): "VirtualRide",
    (2, 8): "MountainBikeRide",
    (2, 46): "GravelRide",
    (2, 47): "EMountainBikeRide",
    (1, 58): "VirtualRun",
    (1, 3): "TrailRun",
}
_SPORT_TYPES = {
    0: "Workout",
    1: "Run",
    2: "Ride",
    4: "Workout",
    5: "Swim",
    10: "WeightTraining",
    11: "Walk",
    12: "NordicSki",
    13: "AlpineSki",
    14: "Snowboard",
    15: "Rowing",
    17: "Hike",
    18: "Multisport",
    19: "Canoeing",
    21: "EBikeRide",
    37: "StandUpPaddling",
}
_MULTISPORT_IGNORED = frozenset({3})  # transition legs do not make a sport


@dataclass(frozen=True)
class ActivityMeta:
    """What intervals.icu's activity list tells us (everything optional but ``id``)."""

    id: str
    name: str | None = None
    type: str | None = None  # "Ride", "VirtualRide", "Run", ...
    start: datetime | None = None  # UTC
    distance_m: float | None = None
    moving_s: int | None = None
    elevation_gain_m: float | None = None
    trainer: bool = False
    virtual: bool | None = None  # None = decide from type / sub_sport / device / position


@dataclass
class DecodedTrack:
    """One FIT file's outcome: the activity, its track, and why there is no line when there is none."""

    activity: FitActivity
    track: Track
    no_track_reason: str | None

    @property
    def has_track(self) -> bool:
        return self.no_track_reason is None


def decode_track(
    data: bytes, source: str = "<bytes>", *, window: ActivityWindow | None = None
) -> DecodedTrack:
    """Decode and segment; raises :class:`ridelines.errors.FitDecodeError` on bad input.
    ``window`` narrows a multisport or cropped file to the listed activity
    (:mod:`ridelines.selection`)."""
    activity = fit.decode(data, source)
    if not activity.is_activity:
        track = Track([])
    elif window is None:
        track = build_track(activity.samples)
    else:
        from ridelines.selection import select_fit_samples

        track = build_track(select_fit_samples(activity, window))
    reason = None
    if not activity.is_activity:
        kinds = sorted({_file_type_name(t) for t in activity.file_types})
        reason = f"not an activity (FIT file type: {', '.join(kinds)})"
    elif not activity.samples:
        reason = "no GPS positions" if activity.records else "no GPS records"
    elif not track.segments:
        reason = "no GPS track (fewer than 2 usable positions)"
    return DecodedTrack(activity, track, reason)


def fit_to_feature(data: bytes, meta: ActivityMeta | None = None, *, source: str = "<bytes>") -> dict | None:
    """FIT bytes (plain or gzip) -> GeoJSON Feature dict, or None when there is no track.

    Raises :class:`ridelines.errors.FitDecodeError` (message names ``source`` and the reason).
    """
    decoded = decode_track(data, source)
    if not decoded.has_track:
        return None
    return feature_from_track(decoded, meta, default_id=id_from_source(data, source))


def track_file_to_feature(
    data: bytes, meta: ActivityMeta, *, source: str = "<bytes>", window: ActivityWindow | None = None
) -> dict[str, Any] | None:
    """A GPX or TCX original -> Feature (None without a track). Raises
    :class:`ridelines.gpxtcx.TrackFileError` on a file that cannot be read safely."""
    from ridelines.gpxtcx import parse_track_file
    from ridelines.selection import select_by_time

    parsed = parse_track_file(data, source)
    samples = parsed.samples if window is None else select_by_time(parsed.samples, window)
    track = build_track(samples)
    if not track.segments:
        return None
    props: dict[str, Any] = {
        "id": meta.id,
        "name": None,
        "type": parsed.sport,
        "start": None if parsed.start is None else iso_utc(parsed.start),
        "distance_m": round(track.length_m, 1),
        "moving_s": None,
        "virtual": False,
        "trainer": False,
    }
    props.update({k: v for k, v in _meta_properties(meta).items() if v is not None})
    props["trainer"] = bool(meta.trainer)
    props["virtual"] = bool(meta.virtual) if meta.virtual is not None else (meta.type in VIRTUAL_TYPES)
    if props.get("elevation_gain_m") is None:
        props.pop("elevation_gain_m", None)
    return {"type": "Feature", "properties": props, "geometry": _geometry(track)}


def listing_properties(meta: ActivityMeta, current: dict[str, Any]) -> dict[str, Any]:
    """``current`` properties with what the listing shows rewritten (a rename, a type change...):
    used when only the listing changed, so nothing is downloaded."""
    props = dict(current)
    for key, value in _meta_properties(meta).items():
        if key == "start" and value is None:
            continue
        if value is None and key in ("moving_s", "distance_m"):
            continue
        props[key] = value
    if props.get("elevation_gain_m") is None:
        props.pop("elevation_gain_m", None)
    props["trainer"] = bool(meta.trainer)
    if meta.virtual is not None:
        props["virtual"] = meta.virtual
    elif meta.type in VIRTUAL_TYPES or meta.trainer:
        props["virtual"] = True  # otherwise the file's evidence (Zwift, Watopia...) still holds
    return props


def feature_from_track(
    decoded: DecodedTrack, meta: ActivityMeta | None, *, default_id: str
) -> dict[str, Any]:
    activity, track = decoded.activity, decoded.track
    props = _fit_properties(activity, track)
    if meta is not None:
        props.update({k: v for k, v in _meta_properties(meta).items() if v is not None})
        if meta.trainer:
            props["trainer"] = True
    props["id"] = meta.id if meta is not None else default_id
    props["virtual"] = _virtual(activity, track, meta)
    if props.get("elevation_gain_m") is None:
        props.pop("elevation_gain_m", None)
    return {"type": "Feature", "properties": props, "geometry": _geometry(track)}


def id_from_source(data: bytes, source: str) -> str:
    if source and not source.startswith("<"):
        name = PurePath(source).name
        for suffix in (".gz", ".fit", ".FIT"):
            name = name.removesuffix(suffix)
        if name:
            return name
    import hashlib

    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _virtual(activity: FitActivity, track: Track, meta: ActivityMeta | None) -> bool:
    if meta is not None:
        if meta.virtual is not None:
            return meta.virtual
        if meta.trainer or (meta.type in VIRTUAL_TYPES):
            return True
    firsts = [(seg[0][0], seg[0][1]) for seg in track.segments[:3]]
    return is_virtual_fit(activity, firsts)


def _meta_properties(meta: ActivityMeta) -> dict[str, Any]:
    return {
        "name": meta.name,
        "type": meta.type,
        "start": None if meta.start is None else iso_utc(meta.start),
        "distance_m": meta.distance_m,
        "moving_s": meta.moving_s,
        "elevation_gain_m": meta.elevation_gain_m,
    }


def _fit_properties(activity: FitActivity, track: Track) -> dict[str, Any]:
    sessions = activity.sessions
    distance = _sum(s.distance_m for s in sessions)
    # Moving time when the device reports it, else timer time (recording minus pauses).
    moving = _sum(s.moving_s if s.moving_s is not None else s.timer_s for s in sessions)
    ascent = _sum(s.ascent_m for s in sessions)
    return {
        "id": None,
        "name": None,
        "type": activity_type(activity),
        "start": _start(activity),
        "distance_m": round(distance if distance is not None else track.length_m, 1),
        "moving_s": None if moving is None else round(moving),
        "elevation_gain_m": ascent,
        "virtual": False,
        "trainer": is_trainer_fit(activity),
    }


def _sum(values: Any) -> Any:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def activity_type(activity: FitActivity) -> str | None:
    found = [(s.sport, s.sub_sport) for s in activity.sessions] or list(activity.sports)
    pairs = [(sp, sub) for sp, sub in found if sp is not None and sp not in _MULTISPORT_IGNORED]
    if not pairs:
        return None
    if len({sp for sp, _ in pairs}) > 1:
        return "Multisport"
    sport, sub = pairs[0]
    if sub is not None and (sport, sub) in _SUB_SPORT_TYPES:
        return _SUB_SPORT_TYPES[(sport, sub)]
    if sport in _SPORT_TYPES:
        return _SPORT_TYPES[sport]
    name = names.SPORTS.get(sport, str(sport))
    return "".join(part.capitalize() for part in name.split("_"))


def _start(activity: FitActivity) -> str | None:
    # The earliest absolute time of the sessions and records; file_id's creation time last.
    times = [s.start_time for s in activity.sessions] + [activity.first_record_time]
    absolute = [t for t in times if t is not None and t >= p.FIT_MIN_ABSOLUTE_TIME]
    if (
        not absolute
        and activity.time_created is not None
        and activity.time_created >= p.FIT_MIN_ABSOLUTE_TIME
    ):
        absolute = [activity.time_created]
    return iso_utc(fit_time(min(absolute))) if absolute else None


def fit_time(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=value + p.FIT_EPOCH_UNIX)


def iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _file_type_name(value: int | None) -> str:
    return "unknown" if value is None else names.FILE_TYPES.get(value, str(value))


def _geometry(track: Track) -> dict[str, Any]:
    with_alt = track.every_point_has_altitude or all(
        pt[2] is not None for seg in track.segments for pt in seg
    )
    lines = [
        [[lon, lat, alt] if with_alt else [lon, lat] for lon, lat, alt in simplify_line(seg)]
        for seg in track.segments
    ]
    if len(lines) == 1:
        return {"type": "LineString", "coordinates": lines[0]}
    return {"type": "MultiLineString", "coordinates": lines}
