"""The intervals.icu client against a tiny scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import itertools
import json
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ridelines.errors import UpstreamAuthError, UpstreamError
from ridelines.intervals import Credentials, FileOutcome, IntervalsClient, RetryPolicy, TokenBucket

FIT = (Path(__file__).resolve().parents[2] / "data/fit/python-fitparse/garmin-fenix-5-bike.fit").read_bytes()
FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.002)


class Scripted:
    """Per path: a queue of (status, headers, body); the last one repeats."""

    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
        self.seen: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []

    def add(self, path: str, *responses: tuple[int, dict[str, str], bytes]) -> None:
        self.routes[path] = list(responses)

    def respond(self, path: str) -> tuple[int, dict[str, str], bytes]:
        queue = self.routes.get(path)
        if not queue:
            return 404, {}, b'{"status":404,"error":"Not found"}'
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def server() -> Iterator[tuple[str, Scripted]]:
    script = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            script.seen.append((parts.path, parse_qs(parts.query), dict(self.headers)))
            status, headers, body = script.respond(parts.path)
            headers = dict(headers)
            if "X-Test-Delay" in headers:  # answer late: the client's read timeout fires first
                time.sleep(float(headers.pop("X-Test-Delay")))
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def client(url: str, **kwargs: object) -> IntervalsClient:
    creds = kwargs.pop("credentials", Credentials(bearer_token="tok-123"))
    limiter = kwargs.pop("rate_limiter", TokenBucket(1000, burst=50))
    return IntervalsClient(
        creds,
        base_url=url,
        retry=FAST,
        rate_limiter=limiter,  # type: ignore[arg-type]
        sleep=lambda _s: None,
        today=lambda: date(2026, 11, 28),
    )


def ok_json(value: object) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(value).encode()


ACTIVITIES = "/api/v1/athlete/0/activities"


def test_bearer_and_api_key_auth_headers(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.add("/api/v1/athlete/0", ok_json({"id": "i1", "name": "Rider"}))
    assert client(url).athlete().id == "i1"
    assert script.seen[-1][2]["Authorization"] == "Bearer tok-123"
    client(url, credentials=Credentials(api_key="k3y")).athlete()
    assert script.seen[-1][2]["Authorization"].startswith("Basic ")
    import base64

    assert base64.b64decode(script.seen[-1][2]["Authorization"][6:]) == b"API_KEY:k3y"


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_raise_and_are_never_empty_lists(server: tuple[str, Scripted], status: int) -> None:
    url, script = server
    script.add(ACTIVITIES, (status, {}, b'{"status":%d,"error":"Access denied"}' % status))
    with pytest.raises(UpstreamAuthError) as raised:
        list(client(url).list_activities())
    assert raised.value.status == status and "tok-123" not in str(raised.value)


def test_server_errors_are_retried_then_succeed(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.add("/api/v1/athlete/0", (500, {}, b"boom"), (503, {}, b""), ok_json({"id": "i1"}))
    c = client(url)
    assert c.athlete().id == "i1"
    assert c.requests_made == 3


def test_persistent_server_errors_are_transient_upstream_errors(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.add("/api/v1/athlete/0", (502, {}, b""))
    with pytest.raises(UpstreamError) as raised:
        client(url).athlete()
    assert raised.value.transient and not isinstance(raised.value, UpstreamAuthError)


def test_429_pauses_the_shared_bucket_for_retry_after(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.add("/api/v1/athlete/0", (429, {"Retry-After": "2"}, b""), ok_json({"id": "i1"}))
    paused: list[float] = []

    class SpyBucket(TokenBucket):
        def pause(self, seconds: float) -> None:
            paused.append(seconds)

    c = client(url, rate_limiter=SpyBucket(1000, burst=50))
    assert c.athlete().id == "i1"
    assert paused == [2.0]


def test_listing_skips_bad_entries_and_walks_back_to_the_floor(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.add(
        ACTIVITIES,
        ok_json(
            [
                {"id": "i2", "name": "B", "start_date": "2026-03-01T08:00:00Z", "type": "Ride"},
                {"id": "../etc/passwd", "name": "evil"},
                {"name": "no id"},
                {"id": "i1", "start_date_local": "2026-02-01T08:00:00", "type": "Ride", "distance": "x"},
                {"id": "s1", "start_date_local": "2026-01-01T08:00:00", "source": "STRAVA"},
            ]
        ),
    )
    got = list(client(url).list_activities())
    assert [a.id for a in got] == ["i2", "s1"]  # bad entries skipped, repeats across windows de-duplicated
    assert got[1].is_strava_stub
    windows = [(q["oldest"][0], q["newest"][0]) for p, q, _ in script.seen if p == ACTIVITIES]
    assert windows[0] == ("2026-11-29", "2199-12-31")  # rides a broken clock put in the future
    assert windows[1] == ("2025-11-28", "2026-11-29")
    fields = next(q for p, q, _ in script.seen if p == ACTIVITIES)["fields"][0].split(",")
    assert {"id", "name", "type", "start_date", "source", "distance", "file_sport_index"} <= set(fields)
    assert windows[-2][0] == "1990-01-01"
    assert windows[-1] == ("1900-01-01", "1990-01-02")  # ...and before 1990 (FIT epoch, 1970)
    walk = windows[1:-1]
    assert len(walk) <= 12  # empty stretches double the window: a handful of requests
    assert all(
        date.fromisoformat(n) - date.fromisoformat(o) <= timedelta(days=8 * 366) for o, n in walk
    )  # windows stay bounded
    for (older_start, _), (_, newer_end) in itertools.pairwise(walk):
        assert newer_end >= older_start  # contiguous, overlapping windows: nothing falls between


def test_file_download_gzip_422_gpx_and_cut_transfers(server: tuple[str, Scripted]) -> None:
    url, script = server
    packed = gzip.compress(FIT)
    script.add("/api/v1/activity/a1/file", (200, {}, packed[:100]), (200, {}, packed))
    script.add("/api/v1/activity/a2/file", (422, {}, b'{"status":422,"error":"No file"}'))
    script.add("/api/v1/activity/a3/file", (200, {}, gzip.compress(b"<?xml version='1.0'?><gpx>")))
    c = client(url)
    got = c.download_file("a1")
    assert got.outcome is FileOutcome.FIT and got.fit == FIT
    assert c.download_file("a2").outcome is FileOutcome.NO_FILE
    gpx = c.download_file("a3")
    assert gpx.outcome is FileOutcome.NOT_FIT and "GPX" in gpx.reason
    missing = c.download_file("missing")  # 404 on one file: that activity's outcome
    assert missing.outcome is FileOutcome.UNAVAILABLE and missing.status == 404


def test_credentials_never_show_in_repr() -> None:
    assert "secret" not in repr(Credentials(api_key="secret"))
    with pytest.raises(ValueError):
        Credentials()


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there now: connection refused


def test_unreachable_server_fails_at_once_when_asked_to() -> None:
    slept: list[float] = []
    c = IntervalsClient(
        Credentials(api_key="k"),
        base_url=closed_port_url(),
        retry=FAST,
        sleep=slept.append,
        fail_fast_unreachable=True,
    )
    with pytest.raises(UpstreamError) as raised:
        c.athlete()
    assert "cannot connect" in raised.value.message and not raised.value.transient
    assert c.requests_made == 1 and slept == []


def test_unreachable_server_is_retried_by_default() -> None:
    slept: list[float] = []
    c = IntervalsClient(Credentials(api_key="k"), base_url=closed_port_url(), retry=FAST, sleep=slept.append)
    with pytest.raises(UpstreamError) as raised:
        c.athlete()
    assert raised.value.transient and c.requests_made == FAST.attempts and len(slept) == FAST.attempts


def test_a_server_that_answered_once_is_retried_even_when_failing_fast(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.add("/api/v1/athlete/0", ok_json({"id": "i1"}))
    c = IntervalsClient(
        Credentials(api_key="k"), base_url=url, retry=FAST, sleep=lambda _s: None, fail_fast_unreachable=True
    )
    assert c.athlete().id == "i1"
    c.base_url = closed_port_url()  # the server goes away mid-sync: a blip, not a wrong URL
    with pytest.raises(UpstreamError) as raised:
        c.athlete()
    assert raised.value.transient and c.requests_made == 1 + FAST.attempts


def test_content_encoding_gzip_is_honoured_too(server: tuple[str, Scripted]) -> None:
    url, script = server
    # the transport layer's gzip around the file's own gzip: both are unwrapped
    script.add(
        "/api/v1/activity/a1/file", (200, {"Content-Encoding": "gzip"}, gzip.compress(gzip.compress(FIT)))
    )
    script.add("/api/v1/activity/a2/file", (200, {"Content-Encoding": "gzip"}, gzip.compress(FIT)))
    c = client(url)
    assert c.download_file("a1").fit == FIT
    assert c.download_file("a2").fit == FIT


def test_429_retry_after_as_an_http_date(server: tuple[str, Scripted]) -> None:
    import email.utils
    from datetime import UTC, datetime, timedelta

    url, script = server
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    script.add("/api/v1/athlete/0", (429, {"Retry-After": when}, b""), ok_json({"id": "i1"}))
    paused: list[float] = []

    class SpyBucket(TokenBucket):
        def pause(self, seconds: float) -> None:
            paused.append(seconds)

    assert client(url, rate_limiter=SpyBucket(1000, burst=50)).athlete().id == "i1"
    assert len(paused) == 1 and 25 <= paused[0] <= 30


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    import random

    random.seed(7)
    policy = RetryPolicy(base_delay=0.5, max_delay=20.0)
    for attempt in range(8):
        cap = min(20.0, 0.5 * 2**attempt)
        draws = [policy.backoff(attempt) for _ in range(300)]
        assert all(0.0 <= d <= cap for d in draws)
        assert max(draws) > 0.8 * cap and min(draws) < 0.2 * cap  # spread over the whole range


def test_server_errors_back_off_between_attempts(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.add("/api/v1/athlete/0", (500, {}, b""), (502, {}, b""), (503, {}, b""), ok_json({"id": "i1"}))
    slept: list[float] = []
    policy = RetryPolicy(attempts=4, base_delay=1.0, max_delay=3.0)
    c = IntervalsClient(
        Credentials(api_key="k"),
        base_url=url,
        retry=policy,
        rate_limiter=TokenBucket(1000, burst=50),
        sleep=slept.append,
    )
    assert c.athlete().id == "i1"
    assert len(slept) == 3
    assert all(0.0 <= s <= min(3.0, 1.0 * 2**n) for n, s in enumerate(slept))


def test_a_read_timeout_is_retried(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.add("/api/v1/athlete/0", (200, {"X-Test-Delay": "1.0"}, b'{"id":"late"}'), ok_json({"id": "i1"}))
    c = IntervalsClient(
        Credentials(api_key="k"),
        base_url=url,
        retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002, read_timeout=0.2),
        rate_limiter=TokenBucket(1000, burst=50),
        sleep=lambda _s: None,
    )
    assert c.athlete().id == "i1" and c.requests_made == 2


def test_default_rate_limit_is_ten_per_second_and_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIDELINES_RATE_LIMIT_PER_SECOND", raising=False)
    assert IntervalsClient(Credentials(api_key="k"), base_url="http://127.0.0.1:9").rate_limiter.rate == 10.0
    monkeypatch.setenv("RIDELINES_RATE_LIMIT_PER_SECOND", "4")
    assert IntervalsClient(Credentials(api_key="k"), base_url="http://127.0.0.1:9").rate_limiter.rate == 4.0


@pytest.mark.parametrize("status", [404, 410, 403])
def test_one_unavailable_file_is_its_activity_outcome(server: tuple[str, Scripted], status: int) -> None:
    url, script = server
    script.add("/api/v1/activity/a9/file", (status, {}, b'{"status":%d,"error":"gone"}' % status))
    script.add("/api/v1/athlete/0", ok_json({"id": "i1"}))  # the token itself is fine
    got = client(url).download_file("a9")
    assert got.outcome is FileOutcome.UNAVAILABLE and got.status == status and str(status) in got.reason


def test_403_on_a_file_with_a_refused_token_fails_the_sync(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.add("/api/v1/activity/a9/file", (403, {}, b'{"status":403,"error":"Access denied"}'))
    script.add("/api/v1/athlete/0", (401, {}, b'{"status":401,"error":"Unauthorized"}'))
    with pytest.raises(UpstreamAuthError):
        client(url).download_file("a9")


def test_a_failing_window_is_retried_smaller(server: tuple[str, Scripted]) -> None:
    url, script = server
    failing = {"n": 0}
    original = script.respond

    def respond(path: str) -> tuple[int, dict[str, str], bytes]:
        if path == ACTIVITIES and failing["n"] < 4:  # the first big window fails 4 times (all attempts)
            seen = [q for p, q, _ in script.seen if p == ACTIVITIES]
            if seen[-1]["oldest"][0] == "2025-11-28":
                failing["n"] += 1
                return 502, {}, b""
        return original(path)

    script.respond = respond  # type: ignore[method-assign]
    script.add(ACTIVITIES, ok_json([{"id": "i2", "start_date": "2026-03-01T08:00:00Z"}]))
    got = client(url).listing()
    assert [a.id for a in got.activities] == ["i2"]
    windows = [(q["oldest"][0], q["newest"][0]) for p, q, _ in script.seen if p == ACTIVITIES]
    assert ("2026-05-30", "2026-11-29") in windows  # the failed year retried as half a year
    assert windows[-2][0] == "1990-01-01"  # and the walk still reaches the floor


def test_retry_after_pauses_do_not_add_up_across_threads() -> None:
    from ridelines.intervals.ratelimit import TokenBucket as Bucket

    now = {"t": 0.0}
    bucket = Bucket(10, burst=1, clock=lambda: now["t"], sleep=lambda s: now.__setitem__("t", now["t"] + s))
    for _ in range(4):  # four threads each told "Retry-After: 60" at the same moment
        bucket.pause(60.0)
    bucket.acquire()
    assert now["t"] < 61.0  # one shared gate: 60 s (+ one token), not 240 s
    assert bucket.acquire(max_wait=0.01) is False  # a caller with a deadline is not made to sleep past it


def test_requests_never_wait_past_the_time_budget(server: tuple[str, Scripted]) -> None:
    from ridelines.intervals.client import OutOfTime

    url, script = server
    script.add("/api/v1/athlete/0", (429, {"Retry-After": "100"}, b""))
    slept: list[float] = []
    c = IntervalsClient(
        Credentials(bearer_token="t"),
        base_url=url,
        retry=FAST,
        rate_limiter=TokenBucket(1000, burst=50, sleep=slept.append),
        sleep=slept.append,
        time_left=lambda: 30.0,
    )
    with pytest.raises(OutOfTime):
        c.athlete()
    assert sum(slept) == 0 and c.requests_made == 1  # no 100 s sleep inside a 30 s budget
    assert c._timeout()[1] <= 30.0  # every request's timeout fits the budget
