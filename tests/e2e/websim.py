"""A stand-in for the site, for browser tests of the web app alone: serves ``web/`` and its vendor
files with the strict CSP, and answers the API routes with contract-shaped fixtures
(/work CONTRACTS: ``GET /api/user`` with tiles_url/rides_url/privacy/explorer, ``/api/user/privacy``,
``/api/user/explorer``, ``/api/user/export``, ``/config.json``, a cookie session, ``POST /auth/logout``,
login by navigating to ``/auth/login?redirect_path=``).

The rider's rides are generated (``generate_rides``) and tiled with the project's Tippecanoe into a
real PMTiles file (layer ``activities``), served with byte ranges like the site's ``/tiles``. The
same generator writes the 20,000-ride list for ``bench/bench_web.py``.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import random
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
NODE = REPO / "node_modules"
VENDOR = {
    "maplibre-gl": NODE / "maplibre-gl" / "dist",
    "pmtiles": NODE / "pmtiles" / "dist",
    "topojson-client": NODE / "topojson-client" / "dist",
    "world-atlas": NODE / "world-atlas",
}
# What the site sends (DESIGN 3.1): no inline script or style, same origin only. A configured basemap
# origin is added to connect-src/img-src by the deployment; tests use none.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; worker-src 'self'; child-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SESSION_COOKIE = "__Host-ridelines-session"
ATHLETE = "i42"

# Generated rides live north-west of Barcelona (land and sea both in view when zoomed out).
SHARED_ROAD = ((2.02, 41.47), (2.22, 41.56))  # forty rides ride this road
AREA = (1.85, 41.45, 2.25, 41.75)
TYPES = ("Ride", "Ride", "GravelRide", "MountainBikeRide", "Run")


@dataclass
class Ride:
    id: str
    name: str
    type: str
    start: str
    distance_m: float
    moving_s: int
    elevation_gain_m: float
    coordinates: list[tuple[float, float]]

    @property
    def bbox(self) -> list[float]:
        lons = [c[0] for c in self.coordinates]
        lats = [c[1] for c in self.coordinates]
        return [min(lons), min(lats), max(lons), max(lats)]

    def listing(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "start": self.start,
            "distance_m": round(self.distance_m, 1),
            "moving_s": self.moving_s,
            "elevation_gain_m": self.elevation_gain_m,
            "trainer": False,
            "bbox": [round(v, 6) for v in self.bbox],
        }

    def feature(self) -> dict[str, Any]:
        props = {k: v for k, v in self.listing().items() if k != "bbox"}
        return {
            "type": "Feature",
            "properties": props,
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in self.coordinates]},
        }


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (b[0] - a[0]) * 111_320 * math.cos(math.radians((a[1] + b[1]) / 2))
    dy = (b[1] - a[1]) * 110_574
    return math.hypot(dx, dy)


def generate_rides(count: int, *, shared: int = 40, seed: int = 7, points: int = 120) -> list[Ride]:
    """``count`` rides, newest first: ``shared`` of them along one road (a heatmap's hot line), the
    rest loops around the area; one is named "Montserrat climb" (search finds it)."""
    rng = random.Random(seed)
    newest = datetime(2025, 10, 1, 8, 0, tzinfo=UTC)
    rides = []
    for n in range(count):
        if n < shared:
            (x0, y0), (x1, y1) = SHARED_ROAD
            coords = [
                (x0 + (x1 - x0) * t + rng.uniform(-2e-5, 2e-5), y0 + (y1 - y0) * t + rng.uniform(-2e-5, 2e-5))
                for t in (i / (points - 1) for i in range(points))
            ]
        else:
            cx, cy = rng.uniform(AREA[0], AREA[2]), rng.uniform(AREA[1], AREA[3])
            r = rng.uniform(0.01, 0.05)
            phase = rng.uniform(0, 2 * math.pi)
            coords = [
                (
                    cx
                    + r * math.cos(phase + 2 * math.pi * i / points) * (1 + 0.2 * math.sin(5 * i / points)),
                    cy + 0.75 * r * math.sin(phase + 2 * math.pi * i / points),
                )
                for i in range(points + 1)
            ]
        distance = sum(_metres(a, b) for a, b in itertools.pairwise(coords))
        name = (
            "Montserrat climb"
            if n == count // 2
            else f"{rng.choice(['Morning', 'Evening', 'Lunch', 'Sunday'])} ride {n}"
        )
        rides.append(
            Ride(
                id=f"r{n}",
                name=name,
                type=TYPES[n % len(TYPES)],
                start=(newest - timedelta(days=n * 2557 / max(count, 1), hours=n % 7)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                distance_m=distance,
                moving_s=int(distance / 7.5),
                elevation_gain_m=float(rng.randint(0, 1200)),
                coordinates=[(round(x, 6), round(y, 6)) for x, y in coords],
            )
        )
    return rides


def explorer_of(rides: list[Ride], zoom: int = 14) -> dict[str, Any]:
    """The z14 tiles the rides touch (sampled every ~30 m) and the largest square block of them."""
    n = 2**zoom
    tiles: set[tuple[int, int]] = set()
    for ride in rides:
        for a, b in itertools.pairwise(ride.coordinates):
            steps = max(1, int(_metres(a, b) / 30))
            for i in range(steps + 1):
                lon = a[0] + (b[0] - a[0]) * i / steps
                lat = a[1] + (b[1] - a[1]) * i / steps
                x = int((lon + 180) / 360 * n)
                y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
                tiles.add((x, y))
    best = None
    size: dict[tuple[int, int], int] = {}
    for x, y in sorted(tiles, key=lambda t: (t[1], t[0])):
        s = 1 + min(size.get((x - 1, y), 0), size.get((x, y - 1), 0), size.get((x - 1, y - 1), 0))
        size[(x, y)] = s
        if best is None or s > best[2]:
            best = (x - s + 1, y - s + 1, s)
    square = {"x": best[0], "y": best[1], "size": best[2]} if best else None
    return {"zoom": zoom, "tiles": sorted([list(t) for t in tiles]), "max_square": square}


def tile(rides: list[Ride], out: Path) -> Path:
    """The rides as a PMTiles file with one layer ``activities`` (the project's Tippecanoe)."""
    tippecanoe = shutil.which("tippecanoe", path=str(Path(sys.executable).parent)) or shutil.which(
        "tippecanoe"
    )
    assert tippecanoe, "tippecanoe is not installed (make setup)"
    source = out.with_suffix(".geojsonl")
    source.write_text("\n".join(json.dumps(r.feature()) for r in rides))
    subprocess.run(
        [
            tippecanoe,
            "-o",
            str(out),
            "-l",
            "activities",
            "-Z0",
            "-z14",
            "--force",
            "-q",
            "--no-feature-limit",
            "--no-tile-size-limit",
            "--no-line-simplification",
            str(source),
        ],
        check=True,
    )
    return out


@dataclass
class SimSite:
    """The site as the app sees it. Tests change the fields; the server reads them per request."""

    tiles_dir: Path
    rides: list[Ride]
    tiles_name: str = "map-1.pmtiles"
    basemap_style_url: str | None = None
    signed_in: bool = True
    has_map: bool = True
    sync_states: list[dict[str, Any]] = field(default_factory=list)  # served one per GET, last repeats
    after_sync_post: list[dict[str, Any]] = field(default_factory=list)  # what POST /api/sync starts
    privacy: dict[str, Any] = field(default_factory=lambda: {"zones": [], "hide_ends_m": 0})
    requests: list[tuple[float, str, str]] = field(default_factory=list)
    privacy_puts: list[Any] = field(default_factory=list)
    rides_json: bytes | None = None
    url: str = ""
    _server: BaseWSGIServer | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def requested(self, method: str, path: str) -> list[float]:
        return [t for t, m, p in self.requests if m == method and p == path]

    # -- WSGI -----------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append((time.monotonic(), request.method, request.path))
        response = self.route(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response(environ, start_response)

    def _json(self, status: int, body: Any) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _session(self, request: Request) -> bool:
        return self.signed_in and request.cookies.get(SESSION_COOKIE) == "valid"

    def _foreign(self, request: Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is not None and origin != self.url

    def user(self) -> dict[str, Any]:
        return {
            "athlete_id": ATHLETE,
            "name": "Test Rider",
            "created_at": "2024-01-01T00:00:00Z",
            "tiles_url": f"/tiles/{ATHLETE}/{self.tiles_name}" if self.has_map else None,
            "rides_url": f"/tiles/{ATHLETE}/rides-1.json" if self.has_map else None,
            "last_sync": None,
            "privacy": self.privacy,
            "explorer": {"tiles": 0, "max_square": 0},
        }

    def route(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/auth/login":
            self.signed_in = True
            response = Response(status=302, headers={"Location": request.args.get("redirect_path", "/")})
            response.set_cookie(
                SESSION_COOKIE, "valid", httponly=True, secure=True, samesite="Strict", path="/"
            )
            return response
        if path == "/auth/logout" and method == "POST":
            if self._foreign(request):
                return self._json(403, {"error": "forbidden_origin", "message": "Cross-site request refused"})
            self.signed_in = False
            response = Response(status=204)
            response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="Strict")
            return response
        if path == "/config.json":
            return self._json(200, {"basemap_style_url": self.basemap_style_url})
        if path.startswith(("/api/", "/tiles/")):
            if not self._session(request):
                return self._json(
                    401 if path.startswith("/api/") else 403, {"error": "unauthorized", "message": "Sign in"}
                )
            if method not in ("GET", "HEAD") and self._foreign(request):
                return self._json(403, {"error": "forbidden_origin", "message": "Cross-site request refused"})
            return self.api(request)
        if path.startswith("/vendor/"):
            name, _, rest = path[len("/vendor/") :].partition("/")
            root = VENDOR.get(name)
            file = (root / rest).resolve() if root else None
            if file is None or root is None or not file.is_relative_to(root.resolve()) or not file.is_file():
                return self._json(404, {"message": "Not Found"})
            return send_file(file, request.environ, conditional=False, max_age=0)
        if path.startswith("/test-basemap/"):  # a same-origin "configured" style for the basemap test
            return self._json(200, sample_style())
        file = (WEB / ("index.html" if path == "/" else path.lstrip("/"))).resolve()
        if not file.is_relative_to(WEB.resolve()) or not file.is_file():
            return self._json(404, {"message": "Not Found"})
        return send_file(file, request.environ, conditional=False, max_age=0)

    def api(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/api/user" and method == "GET":
            return self._json(200, self.user())
        if path == "/api/user/explorer":
            return self._json(200, explorer_of(self.rides))
        if path == "/api/user/privacy" and method == "PUT":
            body = request.get_json(silent=True)
            self.privacy_puts.append(body)
            problem = validate_privacy(body)
            if problem or not isinstance(body, dict):
                problem = problem or ("body", "Expected a JSON object")
                return self._json(
                    422, {"error": "invalid_privacy", "message": problem[1], "field": problem[0]}
                )
            self.privacy = dict(body)
            return self._json(200, self.privacy)
        if path == "/api/user/export":
            return Response(status=302, headers={"Location": f"/tiles/{ATHLETE}/export-1.geojson"})
        if path == "/api/sync" and method == "GET":
            if not self.sync_states:
                return self._json(404, {"error": "not_found", "message": "No sync yet"})
            state = self.sync_states.pop(0) if len(self.sync_states) > 1 else self.sync_states[0]
            if "tiles_name" in state:
                self.tiles_name = state["tiles_name"]
            return self._json(200, {k: v for k, v in state.items() if k != "tiles_name"})
        if path == "/api/sync" and method == "POST":
            self.sync_states = list(self.after_sync_post) or [
                {"sync_id": "s1", "status": "queued", "phase": "queued", "counts": {}}
            ]
            return self._json(202, {"sync_id": "s1", "status": "queued"})
        if path.startswith(f"/tiles/{ATHLETE}/rides"):
            body = self.rides_json or json.dumps({"rides": [r.listing() for r in self.rides]}).encode()
            return Response(body, content_type="application/json")
        if path == f"/tiles/{ATHLETE}/export-1.geojson":
            body = "\n".join(json.dumps(r.feature()) for r in self.rides[:3])
            return Response(
                body,
                content_type="application/geo+json",
                headers={"Content-Disposition": 'attachment; filename="ridelines-export.geojson"'},
            )
        if path.startswith(f"/tiles/{ATHLETE}/") and path.endswith(".pmtiles"):
            file = self.tiles_dir / "map.pmtiles"
            return send_file(file, request.environ, conditional=True, max_age=0)
        return self._json(404, {"error": "not_found", "message": "Not Found"})


def validate_privacy(body: Any) -> tuple[str, str] | None:
    if not isinstance(body, dict):
        return ("body", "Expected a JSON object")
    zones = body.get("zones")
    if not isinstance(zones, list) or len(zones) > 10:
        return ("zones", "At most 10 zones")
    for i, zone in enumerate(zones):
        radius = zone.get("radius_m") if isinstance(zone, dict) else None
        if not isinstance(radius, int | float) or not 100 <= radius <= 2000:
            return (f"zones[{i}].radius_m", "Radius must be between 100 and 2000 m")
    hide = body.get("hide_ends_m")
    if not isinstance(hide, int | float) or not 0 <= hide <= 2000:
        return ("hide_ends_m", "Hidden ends must be between 0 and 2000 m")
    return None


def sample_style() -> dict[str, Any]:
    """A tiny but real MapLibre style (inline GeoJSON), with an attribution to show."""
    return {
        "version": 8,
        "sources": {
            "box": {
                "type": "geojson",
                "attribution": "© Test Basemap Contributors",
                "data": {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[-170, -80], [170, -80], [170, 80], [-170, 80], [-170, -80]]],
                    },
                },
            }
        },
        "layers": [
            {"id": "bg", "type": "background", "paint": {"background-color": "#202020"}},
            {"id": "box", "type": "fill", "source": "box", "paint": {"fill-color": "#30a030"}},
        ],
    }
