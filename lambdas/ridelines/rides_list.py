"""The rides list the web app loads beside the map: one small entry per ride, newest first.

``{"rides": [{"id", "name", "type", "start", "distance_m", "moving_s", "elevation_gain_m", "trainer",
"bbox": [w, s, e, n]}, ...]}``. The bbox is the ride's track (what the app flies to); a track that
crosses the antimeridian gets ``w > e`` as RFC 7946 §5.2 writes it. Virtual rides are left out
unless they are on the map too (``include_virtual``), so every listed ride can be flown to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ridelines.explorer import geometry_lines

FIELDS = ("id", "name", "type", "start", "distance_m", "moving_s", "elevation_gain_m", "trainer")
BBOX_DIGITS = 6  # ~0.1 m: plenty to fly to a ride, and a small file


def rides_key(athlete_id: str, content_hash: str) -> str:
    return f"tiles/{athlete_id}/rides-{content_hash}.json"


def bbox(lines: Sequence[Sequence[Sequence[float]]]) -> list[float] | None:
    """``[west, south, east, north]`` of the lines, the short way round the globe; None when empty."""
    lons = [float(p[0]) for line in lines for p in line]
    lats = [float(p[1]) for line in lines for p in line]
    if not lons:
        return None
    west, east = min(lons), max(lons)
    # the same longitudes on 0..360: a ride over the antimeridian is narrow there, wide on -180..180
    shifted = [lon % 360.0 for lon in lons]
    if max(shifted) - min(shifted) < east - west:
        west, east = min(shifted), max(shifted)
        west = west - 360.0 if west > 180.0 else west
        east = east - 360.0 if east > 180.0 else east
    return [round(v, BBOX_DIGITS) for v in (west, min(lats), east, max(lats))]


def ride_entry(feature: Mapping[str, Any]) -> dict[str, Any]:
    properties = feature.get("properties") or {}
    entry: dict[str, Any] = {name: properties.get(name) for name in FIELDS}
    entry["id"] = str(entry["id"])
    entry["trainer"] = bool(entry["trainer"])
    entry["bbox"] = bbox(geometry_lines(feature.get("geometry")))
    return entry


class RidesListBuilder:
    """Streams features in; holds one small entry per ride (not the tracks)."""

    def __init__(self, *, include_virtual: bool = False) -> None:
        self.include_virtual = include_virtual
        self.entries: list[dict[str, Any]] = []

    def add(self, feature: Mapping[str, Any]) -> None:
        properties = feature.get("properties") or {}
        if properties.get("virtual") and not self.include_virtual:
            return
        self.entries.append(ride_entry(feature))

    def document(self) -> dict[str, Any]:
        # newest first; rides without a start last; ties by id so the bytes (and hash) are stable
        dated = sorted(
            (e for e in self.entries if e["start"]), key=lambda e: (e["start"], e["id"]), reverse=True
        )
        undated = sorted((e for e in self.entries if not e["start"]), key=lambda e: e["id"], reverse=True)
        return {"rides": dated + undated}


def encode_document(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
