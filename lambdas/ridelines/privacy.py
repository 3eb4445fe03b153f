"""Privacy zones and hidden ends: the settings, their validation, and the cut applied before tiling.

What the rider asks for (``PUT /api/user/privacy``, the CLI's ``--privacy-zone`` / ``--hide-ends``):
up to :data:`MAX_ZONES` circles (centre + ``radius_m``) and ``hide_ends_m`` metres to hide at every
ride's start and end. Only the tiles are cut; the archive keeps the true tracks.

The cut (:func:`apply_privacy`, applied to the feature stream just before Tippecanoe):

1. while a ride's first point lies inside a zone's *effective circle*, its start is removed up to
   where the track first leaves that circle (the boundary crossing is interpolated); the same
   from the end backwards. A ride that only passes through a zone starts and ends outside it and
   keeps its whole line.
2. then ``hide_ends_m`` metres are trimmed from the (already cut) start and end.

Why an *effective* circle: if every cut ended on the zone's own circle, the cut ends of many rides
would draw that circle and its centre (the home) could be fitted from them. Each zone therefore
gets, once when it is saved, a random offset of its centre (a fraction of the radius in
[:data:`OFFSET_MIN`, :data:`OFFSET_MAX`] at a random bearing) and a radius jitter in
[:data:`JITTER_MIN`, :data:`JITTER_MAX`]. The effective circle has that offset centre and radius
``r * (offset + jitter)``, so it always contains the true circle (nothing inside the true zone is
ever drawn, with at least ``(JITTER_MIN - 1) * r`` to spare) while its centre, the only centre
the cut ends reveal, lies ``OFFSET_MIN * r`` or more from the true one. The offset and jitter are
stored with the zone and kept as long as the zone is unchanged, so syncing and republishing again
never reveal more (new random draws each time would average out to the true centre). The command
line derives them from a secret seed file instead (:func:`seeded_offsets`), for the same reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ridelines.errors import UnprocessableInput

MAX_ZONES = 10
MIN_RADIUS_M = 100.0
MAX_RADIUS_M = 2000.0
MAX_HIDE_ENDS_M = 2000.0
OFFSET_MIN = 0.25
OFFSET_MAX = 0.5
JITTER_MIN = 1.05
JITTER_MAX = 1.3
EARTH_RADIUS_M = 6_371_008.8
NO_PRIVACY_VERSION = "none"
SEED_FILE_ENV = "RIDELINES_PRIVACY_SEED_FILE"


class InvalidPrivacy(UnprocessableInput):
    """Privacy settings out of range (HTTP 422 with the field, exit 2 on the command line)."""

    code = "invalid_privacy"


# -- the settings ---------------------------------------------------------------------------------


class PrivacyZone(BaseModel):
    """One zone as the rider gives it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    lat: float = Field(ge=-90.0, le=90.0, allow_inf_nan=False)
    lon: float = Field(ge=-180.0, le=180.0, allow_inf_nan=False)
    radius_m: float = Field(ge=MIN_RADIUS_M, le=MAX_RADIUS_M, allow_inf_nan=False)


class PrivacySettings(BaseModel):
    """What ``GET``/``PUT /api/user/privacy`` show and take (never the secret offsets)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    zones: list[PrivacyZone] = Field(default_factory=list, max_length=MAX_ZONES)
    hide_ends_m: float = Field(default=0.0, ge=0.0, le=MAX_HIDE_ENDS_M, allow_inf_nan=False)


class StoredZone(BaseModel):
    """A zone with its secret: the centre offset (fraction of the radius, bearing) and radius jitter."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    lat: float
    lon: float
    radius_m: float
    offset: float = Field(ge=OFFSET_MIN, le=OFFSET_MAX)
    bearing_deg: float = Field(ge=0.0, lt=360.0)
    jitter: float = Field(ge=JITTER_MIN, le=JITTER_MAX)

    @property
    def public(self) -> PrivacyZone:
        return PrivacyZone(lat=self.lat, lon=self.lon, radius_m=self.radius_m)

    def effective_circle(self) -> tuple[float, float, float]:
        """(lat, lon, radius_m) of the circle the cut uses (contains the true circle)."""
        distance = self.offset * self.radius_m
        lat, lon = destination(self.lat, self.lon, self.bearing_deg, distance)
        return lat, lon, distance + self.jitter * self.radius_m


class StoredPrivacy(BaseModel):
    """The settings as stored in the users row (and as the sync applies them)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    zones: list[StoredZone] = Field(default_factory=list)
    hide_ends_m: float = 0.0

    @property
    def public(self) -> PrivacySettings:
        return PrivacySettings(zones=[z.public for z in self.zones], hide_ends_m=self.hide_ends_m)

    @property
    def is_empty(self) -> bool:
        return not self.zones and self.hide_ends_m <= 0

    def version(self) -> str:
        """A stable digest of what the cut depends on: equal versions give equal tiles."""
        if self.is_empty:
            return NO_PRIVACY_VERSION
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(canonical.encode(), digest_size=12).hexdigest()


def privacy_version(privacy: StoredPrivacy | None) -> str:
    return privacy.version() if privacy is not None else NO_PRIVACY_VERSION


def _field_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def parse_privacy(data: Any) -> PrivacySettings:
    """Validate settings from outside; :class:`InvalidPrivacy` names the first bad field."""
    if not isinstance(data, Mapping):
        raise InvalidPrivacy(
            'privacy settings must be a JSON object like {"zones": [], "hide_ends_m": 0}', field="body"
        )
    try:
        return PrivacySettings.model_validate(dict(data))
    except ValidationError as exc:
        error = exc.errors()[0]
        # the input value is never echoed: locations and the rule only
        field = _field_path(error["loc"])
        raise InvalidPrivacy(f"{field}: {_rule(error)}", field=field) from None


def _rule(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("greater_than_equal", "less_than_equal", "too_long"):
        return {
            "greater_than_equal": f"must be at least {ctx.get('ge')}",
            "less_than_equal": f"must be at most {ctx.get('le')}",
            "too_long": f"at most {MAX_ZONES} zones",
        }[kind]
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a privacy setting"
    if kind in ("float_type", "int_type", "float_parsing"):
        return "must be a number"
    if kind in ("list_type",):
        return "must be a list of zones"
    if kind in ("model_type", "dict_type"):
        return "must be an object with lat, lon and radius_m"
    return f"is invalid ({kind})"


# -- the secret offsets ---------------------------------------------------------------------------


def _draw(unit: Sequence[float]) -> dict[str, float]:
    """Offset, bearing and jitter from three numbers in [0, 1)."""
    return {
        "offset": OFFSET_MIN + (OFFSET_MAX - OFFSET_MIN) * unit[0],
        "bearing_deg": 360.0 * unit[1] % 360.0,
        "jitter": JITTER_MIN + (JITTER_MAX - JITTER_MIN) * unit[2],
    }


def protect(settings: PrivacySettings, previous: StoredPrivacy | None = None) -> StoredPrivacy:
    """The settings with each zone's secret: kept from ``previous`` for an unchanged zone, random
    (from the OS's CSPRNG) for a new or moved one."""
    kept = {z.public: z for z in previous.zones} if previous else {}
    rng = secrets.SystemRandom()
    zones = [
        kept.get(zone) or StoredZone(**zone.model_dump(), **_draw([rng.random(), rng.random(), rng.random()]))
        for zone in settings.zones
    ]
    return StoredPrivacy(zones=zones, hide_ends_m=settings.hide_ends_m)


def seeded_offsets(settings: PrivacySettings, seed: bytes) -> StoredPrivacy:
    """The command line's protection: each zone's secret derived from a secret seed (HMAC-SHA256 of
    the zone), so running ``tiles``/``sync`` again with the same zone gives the same cut."""
    zones = []
    for zone in settings.zones:
        message = f"{zone.lat!r},{zone.lon!r},{zone.radius_m!r}".encode()
        digest = hmac.new(seed, message, hashlib.sha256).digest()
        unit = [int.from_bytes(digest[i : i + 8], "big") / 2**64 for i in (0, 8, 16)]
        zones.append(StoredZone(**zone.model_dump(), **_draw(unit)))
    return StoredPrivacy(zones=zones, hide_ends_m=settings.hide_ends_m)


def default_seed_file() -> Path:
    configured = os.environ.get(SEED_FILE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ridelines" / "privacy-seed"


def load_or_create_seed(path: Path) -> bytes:
    """32 random bytes kept in ``path`` (created 0600 on first use)."""
    if path.exists():
        seed = path.read_bytes()
        if len(seed) >= 16:
            return seed
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(seed)
    return seed


# -- geometry -------------------------------------------------------------------------------------


def destination(lat: float, lon: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` from (lat, lon) at ``bearing_deg`` (spherical earth)."""
    phi1, lam1, theta = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    delta = distance_m / EARTH_RADIUS_M
    phi2 = math.asin(math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta))
    lam2 = lam1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi1), math.cos(delta) - math.sin(phi1) * math.sin(phi2)
    )
    return math.degrees(phi2), (math.degrees(lam2) + 540.0) % 360.0 - 180.0


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine) between two [lon, lat] points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _lerp(a: Sequence[float], b: Sequence[float], t: float) -> list[float]:
    """A point between a and b; it belongs to b's segment (the third value)."""
    return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, b[2]]


class _Circle:
    """An effective circle in a local equirectangular frame (metres; exact enough within 5 km)."""

    def __init__(self, lat: float, lon: float, radius_m: float) -> None:
        self.lat, self.lon, self.radius = lat, lon, radius_m
        self.kx = math.cos(math.radians(lat)) * math.pi * EARTH_RADIUS_M / 180.0
        self.ky = math.pi * EARTH_RADIUS_M / 180.0

    def _xy(self, point: Sequence[float]) -> tuple[float, float]:
        dlon = (point[0] - self.lon + 540.0) % 360.0 - 180.0
        return dlon * self.kx, (point[1] - self.lat) * self.ky

    def contains(self, point: Sequence[float]) -> bool:
        x, y = self._xy(point)
        return x * x + y * y < self.radius * self.radius

    def exit_point(self, inside: Sequence[float], outside: Sequence[float]) -> list[float]:
        """Where the segment from an inside point to an outside point crosses the circle."""
        ax, ay = self._xy(inside)
        bx, by = self._xy(outside)
        dx, dy = bx - ax, by - ay
        a = dx * dx + dy * dy
        if a == 0:
            return list(outside)
        b = 2 * (ax * dx + ay * dy)
        c = ax * ax + ay * ay - self.radius * self.radius
        t = (-b + math.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
        return _lerp(inside, outside, min(max(t, 0.0), 1.0))


def _cut_start(points: list[list[float]], circles: list[_Circle]) -> list[list[float]]:
    """Drop the start while it lies in an effective circle, up to where it first leaves that circle
    (repeated: the track may leave one zone straight into another; each circle cuts once, as the
    new first point lies on its boundary)."""
    remaining = list(circles)
    while points:
        circle = next((c for c in remaining if c.contains(points[0])), None)
        if circle is None:
            return points
        remaining.remove(circle)
        exit_index = next((i for i, p in enumerate(points) if not circle.contains(p)), None)
        if exit_index is None:
            return []  # the whole ride stays in the zone
        before, after = points[exit_index - 1], points[exit_index]
        rest = points[exit_index:]
        if before[2] != after[2]:
            points = rest  # left the circle across a gap between segments: nothing was drawn there
            continue
        crossing = circle.exit_point(before, after)
        points = rest if crossing[:2] == rest[0][:2] else [crossing, *rest]
    return points


def _trim_start(points: list[list[float]], metres: float) -> list[list[float]]:
    """Drop the first ``metres`` of the drawn line (interpolating the new first point); the jump
    across a gap between segments is not drawn, so it does not count."""
    if metres <= 0:
        return points
    left = metres
    for i in range(1, len(points)):
        a, b = points[i - 1], points[i]
        step = distance_m(a[0], a[1], b[0], b[1]) if a[2] == b[2] else 0.0
        if step > left:
            return [_lerp(a, b, left / step), *points[i:]]
        left -= step
    return []


def cut_line(points: list[list[float]], circles: list[_Circle], hide_ends_m: float) -> list[list[float]]:
    """Zone cuts at both ends, then ``hide_ends_m`` trimmed from both ends."""
    points = _cut_start(points, circles)
    points = _cut_start(points[::-1], circles)[::-1]
    points = _trim_start(points, hide_ends_m)
    return _trim_start(points[::-1], hide_ends_m)[::-1]


HEAD_POINTS = 64  # the cut looks at this many points at each end first (most rides need no more)


def _tagged(segments: Sequence[Sequence[Sequence[float]]], start: int, stop: int) -> list[list[float]]:
    """Points ``start:stop`` of the ride (counted across segments), each tagged with its segment."""
    tagged: list[list[float]] = []
    offset = 0
    for number, segment in enumerate(segments):
        size = len(segment)
        if offset + size > start and offset < stop:
            for point in segment[max(start - offset, 0) : min(stop - offset, size)]:
                tagged.append([point[0], point[1], number])
        offset += size
        if offset >= stop:
            break
    return tagged


def _untagged_middle(
    segments: Sequence[Sequence[Sequence[float]]], start: int, stop: int
) -> list[tuple[int, list[Any]]]:
    """Points ``start:stop`` as (segment, points) slices, without copying point by point."""
    parts: list[tuple[int, list[Any]]] = []
    offset = 0
    for number, segment in enumerate(segments):
        size = len(segment)
        if offset + size > start and offset < stop:
            parts.append((number, list(segment[max(start - offset, 0) : min(stop - offset, size)])))
        offset += size
    return parts


def _cut_parts(
    segments: Sequence[Sequence[Sequence[float]]], circles: list[_Circle], hide_ends_m: float
) -> list[tuple[int, list[Any]]]:
    """The ride after the cut, as (segment, points) parts. Only the ends are examined: the head and
    tail (growing when a cut reaches further), the middle is passed on as slices."""
    total = sum(len(segment) for segment in segments)
    window = HEAD_POINTS
    while 2 * window < total:
        head = _tagged(segments, 0, window)
        tail = _tagged(segments, total - window, total)
        cut_head = _trim_start(_cut_start(head, circles), hide_ends_m)
        cut_tail = _trim_start(_cut_start(tail[::-1], circles), hide_ends_m)[::-1]
        if cut_head and cut_head[-1] is head[-1] and cut_tail and cut_tail[0] is tail[0]:
            return [*_parts(cut_head), *_untagged_middle(segments, window, total - window), *_parts(cut_tail)]
        window *= 4  # the cut reached past the window: look further
    return _parts(cut_line(_tagged(segments, 0, total), circles, hide_ends_m))


def _parts(tagged: list[list[float]]) -> list[tuple[int, list[Any]]]:
    """Tagged points back to (segment, [lon, lat] points) parts."""
    parts: list[tuple[int, list[Any]]] = []
    for lon, lat, number in tagged:
        if not parts or parts[-1][0] != number:
            parts.append((int(number), []))
        parts[-1][1].append([lon, lat])
    return parts


def cut_feature(
    feature: Mapping[str, Any], privacy: StoredPrivacy, circles: list[_Circle] | None = None
) -> dict[str, Any] | None:
    """The feature with its ends cut, or None when nothing of its line is left."""
    geometry = feature.get("geometry") or {}
    kind = geometry.get("type")
    if kind not in ("LineString", "MultiLineString") or not geometry.get("coordinates"):
        return dict(feature)
    if circles is None:
        circles = [_Circle(*zone.effective_circle()) for zone in privacy.zones]
    # The ride's start and end are those of its first and last segment: the cut treats the ride as
    # one line whose points remember their segment, then splits it again.
    segments = [geometry["coordinates"]] if kind == "LineString" else list(geometry["coordinates"])
    segments = [segment for segment in segments if segment]
    if not segments:
        return dict(feature)
    first, last = segments[0][0], segments[-1][-1]
    if privacy.hide_ends_m <= 0 and not any(c.contains(first) or c.contains(last) for c in circles):
        return dict(feature)  # starts and ends outside every zone: nothing to cut
    lines: list[list[Any]] = []
    current: int | None = None
    for number, part in _cut_parts(segments, circles, privacy.hide_ends_m):
        if number != current or not lines:
            lines.append([])
            current = number
        lines[-1].extend(part)
    coordinates = [line for line in lines if len(line) >= 2]
    if not coordinates:
        return None
    new_geometry: dict[str, Any] = (
        {"type": "LineString", "coordinates": coordinates[0]}
        if len(coordinates) == 1
        else {"type": "MultiLineString", "coordinates": coordinates}
    )
    return {**feature, "geometry": new_geometry}


def privacy_transform(
    privacy: StoredPrivacy | None,
) -> Callable[[Iterable[Mapping[str, Any]]], Iterator[Mapping[str, Any]]] | None:
    """:func:`apply_privacy` with these settings, or None when they cut nothing: the features
    then reach the tiles as they are (and lines already encoded for Tippecanoe can be used)."""
    if privacy is None or privacy.is_empty:
        return None
    return lambda features: apply_privacy(features, privacy)


def apply_privacy(
    features: Iterable[Mapping[str, Any]], privacy: StoredPrivacy | None
) -> Iterator[Mapping[str, Any]]:
    """The feature stream as the tiles may show it (the one hook between the archive and tiling)."""
    if privacy is None or privacy.is_empty:
        yield from features
        return
    circles = [_Circle(*zone.effective_circle()) for zone in privacy.zones]
    for feature in features:
        cut = cut_feature(feature, privacy, circles)
        if cut is not None:
            yield cut
