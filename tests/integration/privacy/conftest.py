"""Privacy integration fixtures: the sync world of tests/integration/sync (moto + the stand-in) plus the
user API on the same tables and bucket, and a PMTiles reader that gives tile coordinates as lon/lat."""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import pytest
from pmtiles.reader import MemorySource, Reader, all_tiles

from ridelines.api.events import http_api_event
from ridelines.api.user_app import UserDeps, create_app
from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.privacy import distance_m
from tests.integration.sync.conftest import (  # noqa: F401 - fixtures re-used here
    ATHLETE,
    BUCKET,
    FakeContext,
    SyncWorld,
    aws,
    standin,
    world,
)
from tests.support.sessions import session_claims
from tests.support.signers import LocalEcdsaSigner


def tile_points(data: bytes, min_zoom: int) -> Iterator[tuple[int, str, float, float]]:
    """(zoom, activity id, lon, lat) of every vertex of every feature in tiles at ``min_zoom`` or deeper."""
    reader = Reader(MemorySource(data))
    for (z, x, y), tile in all_tiles(reader.get_bytes):
        if z < min_zoom:
            continue
        raw = gzip.decompress(tile) if tile[:2] == b"\x1f\x8b" else tile
        layer = mapbox_vector_tile.decode(raw, default_options={"y_coord_down": True}).get("activities")
        if not layer:
            continue
        extent = layer.get("extent", 4096)
        for feature in layer["features"]:
            geometry = feature["geometry"]
            lines = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
            for line in lines:
                for px, py in line:
                    wx = (x + px / extent) / 2**z
                    wy = (y + py / extent) / 2**z
                    lon = wx * 360.0 - 180.0
                    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * wy))))
                    yield z, str(feature["properties"]["id"]), lon, lat


def points_inside(data: bytes, lat: float, lon: float, radius_m: float, min_zoom: int = 11) -> dict[str, int]:
    """How many tile vertices of each activity lie inside the circle (at zooms where a tile unit
    is a few metres)."""
    found: dict[str, int] = {}
    for _z, activity, plon, plat in tile_points(data, min_zoom):
        if distance_m(plon, plat, lon, lat) < radius_m:
            found[activity] = found.get(activity, 0) + 1
    return found


class Api:
    """The user API (Lambda routes) over the sync world's moto tables and bucket."""

    def __init__(self, sync_world: SyncWorld) -> None:
        self.world = sync_world
        self.deps = UserDeps(
            users=sync_world.users,
            syncs=sync_world.states,
            blobs=sync_world.blobs,
            invalidator=sync_world.cdn,
            invoker=sync_world.invoker,
            cipher=sync_world.deps.cipher,
            intervals=IntervalsOAuthClient(sync_world.standin.base_url),
            site_url="https://app.example",
            tiles_signer=LocalEcdsaSigner(),
            tiles_key_pair_id="KTESTTILESKEY",
        )
        self.app = create_app(self.deps)

    def call(self, method: str, path: str, body: str | None = None) -> tuple[int, Any]:
        import json

        event = http_api_event(method, path, body=body, claims=session_claims(ATHLETE, self.deps.clock()))
        response = self.app.resolve(event, None)
        return response["statusCode"], json.loads(response["body"]) if response["body"] else None


@pytest.fixture
def api(world: SyncWorld) -> Api:  # noqa: F811 - the imported fixture
    return Api(world)
