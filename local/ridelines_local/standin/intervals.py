"""A stand-in for intervals.icu: a real HTTP server on loopback that follows the official API.

Used by the integration and end-to-end tests, the benchmarks and the local stack (``serve``)
so that everything runs offline. It implements only what Ridelines uses, with the shapes of
the official OpenAPI document (``tests/data/intervals/intervals-openapi.json``) and the facts
in ``intervals-api.md``:

* ``GET  /oauth/authorize``           consent page (approve / deny), then 302 to ``redirect_uri``
* ``POST /api/oauth/token``           form ``client_id, client_secret, code`` -> bearer token
* ``GET  /api/v1/athlete/{id}``       ``0`` means "the athlete the credentials belong to"
* ``GET  /api/v1/athlete/{id}/activities?oldest=&newest=``  newest first, ``oldest`` required
* ``GET  /api/v1/activity/{id}/file`` original file, gzip-compressed, no Content-Encoding
* ``POST /api/v1/athlete/{id}/download-fit-files?ids=a,b`` zip of FIT files (see ``fit_files_zip``)
* ``DELETE /api/v1/disconnect-app``   revokes the bearer token

Authentication is ``Authorization: Bearer <token>`` or HTTP Basic ``API_KEY:<key>``. A token
bucket answers 429 with ``Retry-After`` past the rate limit, like the real service (10/s per
IP). Tests inject faults (5xx, 429, connection resets, truncated bodies, auth failures) and
read the request log.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from ridelines_local.standin.zip_members import ZipMember, zip_of

AUTHORIZATION_CODE_LIFETIME = timedelta(minutes=2)  # documented by intervals.icu
FAULT_KINDS = frozenset(
    {"500", "502", "503", "429", "reset", "truncate", "short", "401", "403", "404", "410", "422"}
)


@dataclass
class StandinActivity:
    id: str
    athlete_id: str
    name: str
    type: str
    start: datetime
    fit_bytes: bytes | None
    source: str = "UPLOAD"
    trainer: bool = False
    distance_m: float | None = None
    moving_s: int | None = None
    elapsed_s: int | None = None
    elevation_gain_m: float | None = None
    has_gps: bool = True
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    file_format: str = "fit"  # what the original upload is: fit, gpx or tcx
    file_sport_index: int | None = None  # the part of a multisport file this activity was made from
    # when the file was last (re-)synced: what icu_sync_date reports; a rename does not touch it
    file_synced: datetime = field(default_factory=lambda: datetime.now(UTC))

    def zip_member(self) -> ZipMember | None:
        """The file as a ``download-fit-files`` entry (deflated here; a benchmark's corpus keeps
        it deflated ahead of time)."""
        data = self.fit_bytes  # read once: the benchmarks generate it on each read
        return None if data is None else ZipMember.of(data)

    def to_json(self) -> dict[str, Any]:
        local = self.start.astimezone(UTC).replace(tzinfo=None)
        if self.source == "STRAVA":
            # "An empty stub object is returned for Strava activities"
            return {
                "id": self.id,
                "start_date_local": local.isoformat(timespec="seconds"),
                "source": "STRAVA",
            }
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "start_date": self.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "start_date_local": local.isoformat(timespec="seconds"),
            "timezone": "UTC",
            "source": self.source,
            "file_type": self.file_format if self.fit_bytes is not None else None,
            "trainer": self.trainer,
            "distance": self.distance_m,
            "moving_time": self.moving_s,
            "elapsed_time": self.elapsed_s,
            "total_elevation_gain": self.elevation_gain_m,
            "stream_types": ["time", "distance", "latlng"] if self.has_gps else ["time"],
            "icu_sync_date": self.file_synced.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "analyzed": self.updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            **({"file_sport_index": self.file_sport_index} if self.file_sport_index is not None else {}),
        }


@dataclass
class StandinAthlete:
    id: str
    name: str
    api_key: str | None


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    kind: str
    remaining: int


class FaultInjector:
    """Makes the next ``times`` requests whose path matches ``path_regex`` fail with ``kind``."""

    def __init__(self) -> None:
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()

    def inject(self, path_regex: str, kind: str, times: int = 1) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        with self._lock:
            self._faults.append(_Fault(re.compile(path_regex), kind, times))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.pattern.search(path):
                    fault.remaining -= 1
                    return fault.kind
        return None


class TokenBucket:
    def __init__(self, rate_per_second: float, burst: int) -> None:
        self.rate = rate_per_second
        self.capacity = float(burst)
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0.0 when a request may proceed, else the seconds until one may."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate


_SUMMARIES: dict[bytes, dict[str, Any]] = {}
_SUMMARIES_KEPT = 4096
_SUMMARIES_LOCK = threading.Lock()


def read_fit_summary(data: bytes) -> dict[str, Any]:
    """What intervals.icu would show for an uploaded FIT file: start, distance, times, sport.

    Remembered by content: decoding every record of a long ride in Python takes seconds, and the
    test suite seeds the same few files into hundreds of stand-ins."""
    key = hashlib.blake2b(data, digest_size=16).digest()
    with _SUMMARIES_LOCK:
        known = _SUMMARIES.get(key)
    if known is None:
        known = _decode_fit_summary(data)
        with _SUMMARIES_LOCK:
            if len(_SUMMARIES) >= _SUMMARIES_KEPT:
                _SUMMARIES.clear()
            _SUMMARIES[key] = known
    return dict(known)


def _decode_fit_summary(data: bytes) -> dict[str, Any]:
    import fitdecode  # the stand-in reads files the way a server would; the domain has its own decoder

    summary: dict[str, Any] = {"has_gps": False}
    try:
        with fitdecode.FitReader(
            data, check_crc=fitdecode.CrcCheck.DISABLED, error_handling=fitdecode.ErrorHandling.IGNORE
        ) as reader:
            for frame in reader:
                if not isinstance(frame, fitdecode.FitDataMessage):
                    continue
                if frame.name == "session" and "start" not in summary:
                    values = {f.name: f.value for f in frame.fields}
                    summary.update(
                        start=values.get("start_time"),
                        distance_m=values.get("total_distance"),
                        moving_s=values.get("total_timer_time"),
                        elapsed_s=values.get("total_elapsed_time"),
                        elevation_gain_m=values.get("total_ascent"),
                        sport=values.get("sport"),
                        sub_sport=values.get("sub_sport"),
                    )
                elif frame.name == "file_id":
                    values = {f.name: f.value for f in frame.fields}
                    summary.setdefault("time_created", values.get("time_created"))
                    summary.setdefault("manufacturer", values.get("manufacturer"))
                elif frame.name == "record" and not summary["has_gps"]:
                    lat = frame.get_value("position_lat", fallback=None)
                    if lat is not None:
                        summary["has_gps"] = True
    except Exception:  # noqa: S110 - a broken upload is still listed, like on the real service
        pass
    return summary


_TYPES_BY_SPORT = {
    "cycling": "Ride",
    "running": "Run",
    "swimming": "Swim",
    "walking": "Walk",
    "hiking": "Hike",
    "training": "WeightTraining",
    "rowing": "Rowing",
}


def _activity_type(summary: dict[str, Any]) -> str:
    sport, sub_sport = str(summary.get("sport") or ""), str(summary.get("sub_sport") or "")
    if sub_sport == "virtual_activity" or summary.get("manufacturer") in ("zwift", "mywhoosh"):
        return "VirtualRide" if sport in ("cycling", "") else "VirtualRun"
    if sport == "cycling" and sub_sport in ("mountain",):
        return "MountainBikeRide"
    if sport == "cycling" and sub_sport in ("gravel_cycling",):
        return "GravelRide"
    return _TYPES_BY_SPORT.get(sport, "Workout")


class IntervalsStandin:
    """The stand-in service. ``start()`` serves it on loopback in a background thread."""

    # How often the serving loop looks for a stop request: ``stop()`` waits up to this long
    # (socketserver's default 0.5 s cost every test that starts a stand-in ~0.3 s at teardown).
    shutdown_poll_s = 0.05

    def __init__(
        self,
        client_id: str = "ridelines-local",
        client_secret: str = "local-secret",  # noqa: S107
        rate_limit_per_second: float = 10.0,
        burst: int = 10,
        *,
        rate_limit_per_caller: bool = False,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.athletes: dict[str, StandinAthlete] = {}
        self.activities: dict[str, StandinActivity] = {}
        self.tokens: dict[str, str] = {}  # access token -> athlete id
        self.codes: dict[str, tuple[str, datetime, str]] = {}  # code -> (athlete id, expiry, scope)
        self.faults = FaultInjector()
        self.rate_limiter = TokenBucket(rate_limit_per_second, burst)
        # One bucket per Authorization header (per rider) instead of one for everybody: many riders'
        # syncs at once, each held to the limit as intervals.icu holds each client (the load test).
        self.rate_limit_per_caller = rate_limit_per_caller
        self._caller_buckets: dict[str, TokenBucket] = {}
        self.requests: list[tuple[str, str, int]] = []
        # raw JSON entries added to the listing window that holds today (broken-entry tests)
        self.raw_entries: list[Any] = []
        self.retry_after_seconds = 1  # what a 429 asks for (a storm test sets it long)
        self.batch_entry_names = "id"  # download-fit-files entry names: "id" or "opaque"
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- data -------------------------------------------------------------------------------
    def add_athlete(self, athlete_id: str, *, name: str, api_key: str | None = None) -> StandinAthlete:
        with self._lock:
            athlete = StandinAthlete(athlete_id, name, api_key)
            self.athletes[athlete_id] = athlete
            return athlete

    def add_activity(
        self,
        athlete_id: str,
        *,
        activity_id: str,
        fit_bytes: bytes | None,
        name: str | None = None,
        type: str | None = None,
        start: datetime | None = None,
        trainer: bool = False,
        source: str = "UPLOAD",
        **meta: Any,
    ) -> StandinActivity:
        summary: dict[str, Any] = read_fit_summary(fit_bytes) if fit_bytes else {"has_gps": False}
        began: datetime = (
            start or summary.get("start") or summary.get("time_created") or datetime(2020, 1, 1, tzinfo=UTC)
        )
        if began.tzinfo is None:
            began = began.replace(tzinfo=UTC)
        activity = StandinActivity(
            id=activity_id,
            athlete_id=athlete_id,
            name=name or f"Activity {activity_id}",
            type=type or _activity_type(summary),
            start=began,
            fit_bytes=fit_bytes,
            source=source,
            trainer=trainer,
            distance_m=meta.get("distance_m", summary.get("distance_m")),
            moving_s=_int(meta.get("moving_s", summary.get("moving_s"))),
            elapsed_s=_int(meta.get("elapsed_s", summary.get("elapsed_s"))),
            elevation_gain_m=meta.get("elevation_gain_m", summary.get("elevation_gain_m")),
            has_gps=bool(summary.get("has_gps")) or meta.get("file_format", "fit") != "fit",
            file_format=meta.get("file_format", "fit"),
            file_sport_index=meta.get("file_sport_index"),
        )
        with self._lock:
            self.activities[activity_id] = activity
        return activity

    def seed_from_fit_files(
        self, athlete_id: str, paths: Iterable[Path], *, id_prefix: str = "a", start_index: int = 1
    ) -> list[StandinActivity]:
        return [
            self.add_activity(
                athlete_id,
                activity_id=f"{id_prefix}{n}",
                fit_bytes=Path(p).read_bytes(),
                name=Path(p).stem.replace("_", " ").replace("-", " "),
            )
            for n, p in enumerate(paths, start=start_index)
        ]

    def add_strava_stub(self, athlete_id: str, activity_id: str, start: datetime | None = None) -> None:
        self.add_activity(
            athlete_id,
            activity_id=activity_id,
            fit_bytes=None,
            source="STRAVA",
            start=start or datetime(2022, 6, 1, tzinfo=UTC),
        )

    def add_manual(self, athlete_id: str, activity_id: str, start: datetime | None = None) -> None:
        self.add_activity(
            athlete_id,
            activity_id=activity_id,
            fit_bytes=None,
            source="MANUAL",
            type="Ride",
            name="Manual entry",
            start=start or datetime(2022, 6, 2, tzinfo=UTC),
        )

    def _edit(self, activity_id: str, **changes: Any) -> None:
        with self._lock:
            activity = self.activities[activity_id]
            for key, value in changes.items():
                setattr(activity, key, value)
            activity.updated = datetime.now(UTC)

    def edit_activity(self, activity_id: str, **changes: Any) -> None:
        """Change what the listing shows (name, type, trainer, moving_s, elevation_gain_m...)."""
        self._edit(activity_id, **changes)

    def replace_file(self, activity_id: str, data: bytes, **changes: Any) -> None:
        """A re-upload: new file bytes, a new sync date (the file identity changes)."""
        self._edit(
            activity_id, fit_bytes=data, file_synced=datetime.now(UTC) + timedelta(seconds=1), **changes
        )

    def crop_activity(self, activity_id: str, *, start_offset_s: int, elapsed_s: int) -> None:
        """What a crop in intervals.icu does: the activity starts later and is shorter; the original
        file is unchanged (it is still the whole recording)."""
        with self._lock:
            activity = self.activities[activity_id]
        self._edit(
            activity_id,
            start=activity.start + timedelta(seconds=start_offset_s),
            elapsed_s=elapsed_s,
            distance_m=None,
        )

    def rename_activity(self, activity_id: str, name: str) -> None:
        self._edit(activity_id, name=name)

    def set_activity_type(self, activity_id: str, type: str) -> None:
        self._edit(activity_id, type=type)

    def delete_activity(self, activity_id: str) -> None:
        with self._lock:
            del self.activities[activity_id]

    def issue_token(self, athlete_id: str) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            self.tokens[token] = athlete_id
        return token

    def fit_files_zip(self, athlete_id: str, ids: Iterable[str]) -> bytes:
        """The body of ``download-fit-files``. ``batch_entry_names`` says how entries are named:
        ``"id"`` (``{id}.fit``) or ``"opaque"`` (``file-{n}.fit``: the client must match by start time)."""
        with self._lock:
            chosen = [self.activities.get(i) for i in dict.fromkeys(ids)]
        members = []
        for n, activity in enumerate(chosen, start=1):
            if activity is None or activity.athlete_id != athlete_id or activity.source == "STRAVA":
                continue
            member = activity.zip_member()
            if member is None:
                continue
            name = f"{activity.id}.fit" if self.batch_entry_names == "id" else f"file-{n}.fit"
            members.append((name, member))
        return zip_of(members)

    def count(self, method: str, path_prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.requests if m == method and p.startswith(path_prefix))

    # -- server -----------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        handler = type("BoundHandler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.shutdown_poll_s},
            name="intervals-standin",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> IntervalsStandin:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request logic (called by the handler) --------------------------------------------------
    def rate_limiter_for(self, authorization: str | None) -> TokenBucket:
        if not self.rate_limit_per_caller:
            return self.rate_limiter
        with self._lock:
            bucket = self._caller_buckets.get(authorization or "")
            if bucket is None:
                bucket = TokenBucket(self.rate_limiter.rate, int(self.rate_limiter.capacity))
                self._caller_buckets[authorization or ""] = bucket
            return bucket

    def athlete_for(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        scheme, _, credentials = authorization.partition(" ")
        with self._lock:
            if scheme.lower() == "bearer":
                return self.tokens.get(credentials.strip())
            if scheme.lower() == "basic":
                try:
                    user, _, key = base64.b64decode(credentials).decode().partition(":")
                except ValueError:
                    return None
                if user != "API_KEY":
                    return None
                return next((a.id for a in self.athletes.values() if a.api_key and a.api_key == key), None)
        return None

    def list_activities(
        self, athlete_id: str, oldest: datetime, newest: datetime, limit: int | None
    ) -> list[dict[str, Any]]:
        with self._lock:
            chosen = [
                a
                for a in self.activities.values()
                if a.athlete_id == athlete_id
                and oldest <= a.start.astimezone(UTC).replace(tzinfo=None) <= newest
            ]
        chosen.sort(key=lambda a: (a.start, a.id), reverse=True)
        page: list[Any] = [a.to_json() for a in chosen[:limit]]
        today = datetime.now(UTC).replace(tzinfo=None)
        if self.raw_entries and oldest <= today <= newest:
            page.extend(self.raw_entries)
        return page


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _parse_local(value: str, *, end_of_day: bool) -> datetime:
    """intervals.icu takes local ISO-8601 dates or date-times ("2019-07-22" or "2019-07-22T16:18:49")."""
    if "T" in value:
        return datetime.fromisoformat(value.rstrip("Z")).replace(tzinfo=None)
    day = date.fromisoformat(value)
    moment = datetime(day.year, day.month, day.day)
    return moment + timedelta(days=1, microseconds=-1) if end_of_day else moment


_CONSENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>intervals.icu (stand-in) - authorize</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:4rem auto}}button{{font-size:1.1rem;margin:.3rem}}</style>
</head><body>
<h1>intervals.icu <small>(local stand-in)</small></h1>
<p><b>{client}</b> wants to <b>{scope}</b> on your account.</p>
<form method="post" action="/oauth/authorize">
<label>Log in as <select name="athlete_id">{options}</select></label>
<input type="hidden" name="client_id" value="{client}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="scope" value="{scope}">
<input type="hidden" name="state" value="{state}">
<p><button id="approve" type="submit" name="decision" value="approve">Authorize</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button></p>
</form></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    standin: IntervalsStandin
    protocol_version = "HTTP/1.1"
    server_version = "intervals-standin/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read standin.requests
        return

    def handle(self) -> None:
        # A client that goes away between requests (the local stack stopping a sync's process) is
        # not the service's error: no traceback on the console.
        try:
            super().handle()
        except ConnectionError:
            self.close_connection = True

    # dispatch
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = url.path, {k: v[-1] for k, v in parse_qs(url.query).items()}
        # Logged on arrival, so a client that has its answer always finds its request counted;
        # the status is filled in once the answer is sent.
        with self.standin._lock:
            self._entry = len(self.standin.requests)
            self.standin.requests.append((method, path, 0))
        try:
            self._route(method, path, query)
        except (ConnectionError, BrokenPipeError):
            self._set_status(-1)

    def _discard_body(self) -> None:
        """Read an unread request body before an early answer: on a kept-alive connection its
        bytes would otherwise be parsed as the next request (a refused token exchange's form
        turned the client's next request into a 501)."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)

    def _set_status(self, status: int) -> None:
        """Record the answer's status before any byte of it is sent (tests read it right after)."""
        with self.standin._lock:
            method, path, _ = self.standin.requests[self._entry]
            self.standin.requests[self._entry] = (method, path, status)

    def _route(self, method: str, path: str, query: dict[str, str]) -> None:
        fault = self.standin.faults.take(path)
        if fault == "reset":
            self._set_status(-1)
            self.close_connection = True
            self.connection.close()
            return
        if fault in {"500", "502", "503"}:
            self._discard_body()
            return self._json(
                int(fault), {"status": int(fault), "error": "java.lang.RuntimeException: stand-in"}
            )
        # The rate limit is the API's; the consent page is a page a person opens (a sync's downloads
        # must not make a login fail).
        limited = (
            path != "/oauth/authorize"
            and self.standin.rate_limiter_for(self.headers.get("Authorization")).take() > 0
        )
        if fault == "429" or limited:
            self._discard_body()
            self._set_status(429)
            self.send_response(429)
            self.send_header("Retry-After", str(self.standin.retry_after_seconds))
            self.send_header("Content-Type", "application/json")
            body = b'{"status":429,"error":"Too many requests"}'
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if fault in {"401", "403", "404", "410", "422"}:
            self._discard_body()
            return self._json(int(fault), {"status": int(fault), "error": "Access denied"})

        if path == "/oauth/authorize":
            return self._authorize(method, query)
        if path == "/api/oauth/token" and method == "POST":
            return self._token()
        athlete_id = self.standin.athlete_for(self.headers.get("Authorization"))
        if athlete_id is None:
            return self._json(401, {"status": 401, "error": "Unauthorized"})
        if path == "/api/v1/disconnect-app" and method == "DELETE":
            return self._disconnect()
        match = re.fullmatch(r"/api/v1/athlete/([^/]+)(/activities)?", path)
        if match and method == "GET":
            requested = match.group(1)
            if requested not in ("0", athlete_id):
                return self._json(403, {"status": 403, "error": "Access denied"})
            if match.group(2):
                return self._activities(athlete_id, query)
            athlete = self.standin.athletes[athlete_id]
            return self._json(200, {"id": athlete.id, "name": athlete.name})
        match = re.fullmatch(r"/api/v1/activity/([^/]+)/file", path)
        if match and method == "GET":
            return self._file(
                athlete_id, match.group(1), truncate=fault == "truncate", short=fault == "short"
            )
        match = re.fullmatch(r"/api/v1/athlete/([^/]+)/download-fit-files", path)
        if match and method == "POST":
            return self._fit_files(athlete_id, match.group(1), truncate=fault == "truncate")
        return self._json(404, {"status": 404, "error": "Not found"})

    # routes
    def _authorize(self, method: str, query: dict[str, str]) -> None:
        params = query if method == "GET" else self._form()
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        if client_id != self.standin.client_id or not redirect_uri.startswith(("http://", "https://")):
            return self._json(400, {"status": 400, "error": "Unknown client_id or bad redirect_uri"})
        scope, state = params.get("scope", ""), params.get("state", "")
        if method == "GET":
            options = "".join(
                f'<option value="{html.escape(a.id)}">{html.escape(a.name)} ({html.escape(a.id)})</option>'
                for a in self.standin.athletes.values()
            )
            page = _CONSENT_PAGE.format(
                client=html.escape(client_id),
                scope=html.escape(scope),
                redirect_uri=html.escape(redirect_uri),
                state=html.escape(state),
                options=options,
            )
            return self._send(200, page.encode(), "text/html; charset=utf-8")
        if params.get("decision") != "approve":
            return self._redirect(redirect_uri, {"error": "access_denied", "state": state})
        athlete_id = params.get("athlete_id") or next(iter(self.standin.athletes), "")
        if athlete_id not in self.standin.athletes:
            return self._json(400, {"status": 400, "error": "Unknown athlete"})
        code = secrets.token_hex(16)
        with self.standin._lock:
            self.standin.codes[code] = (athlete_id, datetime.now(UTC) + AUTHORIZATION_CODE_LIFETIME, scope)
        return self._redirect(redirect_uri, {"code": code, "state": state})

    def _token(self) -> None:
        form = self._form()
        if (
            form.get("client_id") != self.standin.client_id
            or form.get("client_secret") != self.standin.client_secret
        ):
            return self._json(401, {"status": 401, "error": "Invalid client credentials"})
        with self.standin._lock:
            entry = self.standin.codes.pop(form.get("code", ""), None)
        if entry is None or entry[1] < datetime.now(UTC):
            return self._json(400, {"status": 400, "error": "Invalid or expired code"})
        athlete_id, _, scope = entry
        token = self.standin.issue_token(athlete_id)
        athlete = self.standin.athletes[athlete_id]
        return self._json(
            200,
            {
                "token_type": "Bearer",
                "access_token": token,
                "scope": scope or "ACTIVITY:READ",
                "athlete": {"id": athlete.id, "name": athlete.name},
            },
        )

    def _disconnect(self) -> None:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return self._json(401, {"status": 401, "error": "Bearer token required"})
        with self.standin._lock:
            self.standin.tokens.pop(token.strip(), None)
        return self._json(200, {})

    def _activities(self, athlete_id: str, query: dict[str, str]) -> None:
        if "oldest" not in query:
            return self._json(422, {"status": 422, "error": "Required parameter 'oldest' is not present"})
        try:
            oldest = _parse_local(query["oldest"], end_of_day=False)
            newest = _parse_local(query["newest"], end_of_day=True) if "newest" in query else datetime.max
            limit = int(query["limit"]) if "limit" in query else None
        except ValueError:
            return self._json(422, {"status": 422, "error": "Invalid date"})
        return self._json(200, self.standin.list_activities(athlete_id, oldest, newest, limit))

    def _file(self, athlete_id: str, activity_id: str, *, truncate: bool, short: bool = False) -> None:
        with self.standin._lock:
            activity = self.standin.activities.get(activity_id)
        if activity is None or activity.athlete_id != athlete_id:
            return self._json(404, {"status": 404, "error": "Activity not found"})
        if activity.source == "STRAVA" or activity.fit_bytes is None:
            return self._json(
                422, {"status": 422, "error": "Strava activities and manual entries have no file"}
            )
        original = activity.fit_bytes
        if short:  # a whole, valid gzip of a file cut at 60 %: shorter than its FIT header says
            original = original[: len(original) * 3 // 5]
        body = gzip.compress(original, mtime=0)
        if truncate:
            # Announce the full length, send half, drop the connection: a truncated download.
            self._set_status(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.close()
            return
        return self._send(
            200,
            body,
            "application/octet-stream",
            {"Content-Disposition": f'attachment; filename="{activity_id}.fit.gz"'},
        )

    def _fit_files(self, athlete_id: str, requested: str, *, truncate: bool) -> None:
        """``download-fit-files``: a zip of the athlete's FIT files for ``ids`` (repeated or
        comma-separated); unknown ids, other athletes', Strava stubs and file-less entries left out."""
        if requested not in ("0", athlete_id):
            return self._json(403, {"status": 403, "error": "Access denied"})
        raw = parse_qs(urlsplit(self.path).query).get("ids", [])
        ids = [i for value in raw for i in value.split(",") if i]
        if not ids:
            return self._json(422, {"status": 422, "error": "Required parameter 'ids' is not present"})
        body = self.standin.fit_files_zip(athlete_id, ids)
        if truncate:
            body = body[: len(body) // 2]
        return self._send(
            200, body, "application/zip", {"Content-Disposition": 'attachment; filename="activities.zip"'}
        )

    # plumbing
    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return {k: v[-1] for k, v in parse_qs(raw).items()}

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _redirect(self, url: str, params: dict[str, str]) -> None:
        separator = "&" if urlsplit(url).query else "?"
        self._send(HTTPStatus.FOUND, b"", "text/plain", {"Location": url + separator + urlencode(params)})

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self._set_status(int(status))
        self.send_response(int(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(body)
