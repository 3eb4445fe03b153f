"""intervals.icu HTTP client: auth, rate limit, retries, activity listing and file download.

Every status is checked. 401/403 raise :class:`UpstreamAuthError` (never read as "no
activities"); 5xx, connection errors, timeouts and cut transfers are retried with exponential
backoff and full jitter, then raised as a transient :class:`UpstreamError`; 429 honours
``Retry-After`` by pausing the shared :class:`TokenBucket`, so every thread backs off.
With ``fail_fast_unreachable`` (the command line), a server that cannot be connected to at all
(connection refused, unknown host) before it ever answered fails at once instead of being retried:
that is a wrong ``INTERVALS_URL``, not a blip. Once the server has answered, the same errors are
transient again and retried.

Listing history (``oldest`` is required, results come newest first, there is no cursor): the
client walks date windows backwards. The first window reaches up to :data:`FUTURE_CEILING`, so a
ride dated in the future by a broken clock is still listed. A window starts at one year; after a
window with few activities the next one doubles (up to :data:`MAX_WINDOW_DAYS`), after a crowded
one it halves; a window whose request fails (after the transport's own retries) is retried at
half the size, down to :data:`MIN_WINDOW_DAYS`. The walk reaches :data:`HISTORY_FLOOR`
(1990-01-01, before consumer GPS recorders), then asks once for everything from
:data:`ANCIENT_FLOOR` to it: a device that lost its clock writes 1989-12-31 (the FIT epoch) or
1970. Windows overlap by a day (dates are the athlete's local time) and results are
de-duplicated by id. Each entry is validated on its own (:mod:`ridelines.intervals.listing`).

Deadlines: with ``time_left`` (seconds this client may still spend), no request starts, sleeps
or waits on the rate limiter past it, and every request's timeout fits inside it; when time runs
out :class:`OutOfTime` is raised (transient) so the sync can checkpoint instead of being killed.

Per-file answers: 403, 404, 410 and 422 on one file are that activity's outcome
(:class:`FileOutcome.UNAVAILABLE` / ``NO_FILE``), not the sync's; a 403 on a file is first
checked against the token (``GET /athlete/0``): if the token is refused too, the sync fails.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

import requests
import requests.adapters
import urllib3.exceptions
from pydantic import ValidationError

from ridelines import settings
from ridelines.errors import UpstreamAuthError, UpstreamError
from ridelines.intervals.files import SniffedFile, TruncatedFile, sniff_activity_file
from ridelines.intervals.listing import Listing, parse_page
from ridelines.intervals.models import IntervalsActivity, IntervalsAthlete
from ridelines.intervals.ratelimit import TokenBucket

log = logging.getLogger(__name__)

HISTORY_FLOOR = date(1990, 1, 1)
ANCIENT_FLOOR = date(1900, 1, 1)
FUTURE_CEILING = date(2199, 12, 31)
FIRST_WINDOW_DAYS = 366
MAX_WINDOW_DAYS = 8 * 366  # bounded; a crowded window halves the next one
MIN_WINDOW_DAYS = 7
CROWDED_WINDOW = 2000  # activities in one response before the next window is halved
SPARSE_WINDOW = 250  # ...and below which it is doubled
USER_AGENT = "ridelines-sync/1.0 (+https://github.com/ridelines)"
MAX_RETRY_AFTER_SECONDS = 120.0
MIN_REQUEST_SECONDS = 2.0  # a request needs at least this much of the budget to be worth starting
# 403/404/410 on one file: that activity's outcome, recorded until the activity changes
FILE_UNAVAILABLE = (403, 404, 410)
# Only what the sync reads: an Activity has ~200 fields, and years of history add up.
LISTING_FIELDS = ",".join(IntervalsActivity.model_fields)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


class FileOutcome(Enum):
    FIT = "fit"
    NO_FILE = "no_file"  # 422: no file (manual entry, Strava, no GPS)
    NOT_FIT = "not_fit"  # arrived whole, not FIT: ``data`` holds it (GPX, TCX, ...)
    UNAVAILABLE = "unavailable"  # 403/404/410 on this one file


@dataclass(frozen=True, slots=True)
class ActivityFile:
    outcome: FileOutcome
    fit: bytes | None = None
    reason: str = ""
    downloaded_bytes: int = 0
    data: bytes | None = None  # the unwrapped original when it is not FIT
    status: int | None = None  # the HTTP status of an UNAVAILABLE file


class OutOfTime(UpstreamError):
    """The caller's time budget is spent: stop and checkpoint (transient, nothing is wrong)."""

    def __init__(self, message: str = "the time budget of this run is spent") -> None:
        super().__init__(message, transient=True)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Either an OAuth bearer token or a personal API key (HTTP basic ``API_KEY:<key>``)."""

    bearer_token: str | None = None
    api_key: str | None = None

    def __post_init__(self) -> None:
        if bool(self.bearer_token) == bool(self.api_key):
            raise ValueError("give exactly one of bearer_token or api_key")

    def __repr__(self) -> str:  # never print the secret
        return "Credentials(bearer)" if self.bearer_token else "Credentials(api_key)"

    def apply(self, session: requests.Session) -> None:
        if self.bearer_token:
            session.headers["Authorization"] = f"Bearer {self.bearer_token}"
        else:
            session.auth = ("API_KEY", self.api_key or "")


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return body["error"][:200]
    except ValueError:
        pass
    return response.reason or ""


def _never_connected(exc: requests.RequestException) -> bool:
    """Connection refused or unknown host: the TCP connection was never made."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


def _retry_after_seconds(response: requests.Response, fallback: float) -> float:
    value = response.headers.get("Retry-After")
    if not value:
        return fallback
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = (when - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return fallback
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


class IntervalsClient:
    """Thread-safe for concurrent downloads: one session, one shared rate limiter."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str | None = None,
        rate_limiter: TokenBucket | None = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        today: Callable[[], date] | None = None,
        fail_fast_unreachable: bool = False,
        time_left: Callable[[], float] | None = None,
    ) -> None:
        self.base_url = (base_url or settings.intervals_url()).rstrip("/")
        rate = float(
            settings.env(settings.RATE_LIMIT_PER_SECOND, str(settings.DEFAULT_RATE_LIMIT_PER_SECOND))
            or settings.DEFAULT_RATE_LIMIT_PER_SECOND
        )
        self.rate_limiter = rate_limiter or TokenBucket(rate)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._today = today or (lambda: datetime.now(UTC).date())
        self.session = session or requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        credentials.apply(self.session)
        self._count_lock = threading.Lock()
        self.requests_made = 0
        self.fail_fast_unreachable = fail_fast_unreachable
        self._answered = False  # has the server ever sent a response?
        self.time_left = time_left  # seconds this client may still spend (None: no deadline)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> IntervalsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -----------------------------------------------------------------------------

    def _budget(self) -> float | None:
        return None if self.time_left is None else self.time_left()

    def _pause_or_stop(self, seconds: float) -> None:
        """Sleep ``seconds`` unless that would run past the deadline."""
        budget = self._budget()
        if budget is not None and seconds > budget - MIN_REQUEST_SECONDS:
            raise OutOfTime(f"a {seconds:.0f}s back-off does not fit the {max(budget, 0):.0f}s left")
        self._sleep(seconds)

    def _timeout(self) -> tuple[float, float]:
        budget = self._budget()
        if budget is None:
            return (self.retry.connect_timeout, self.retry.read_timeout)
        if budget < MIN_REQUEST_SECONDS:
            raise OutOfTime()
        # requests' read timeout is per socket read: bound both by what is left
        return (min(self.retry.connect_timeout, budget), min(self.retry.read_timeout, budget))

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        accept: Collection[int] = (200,),
    ) -> requests.Response:
        """One logical request: rate limited, retried; returns a response whose status is in
        ``accept`` (body fully read) or raises."""
        url = f"{self.base_url}{path}"
        last_problem = "no attempt made"
        for attempt in range(self.retry.attempts):
            budget = self._budget()
            max_wait = None if budget is None else budget - MIN_REQUEST_SECONDS
            if max_wait is not None and max_wait <= 0:
                raise OutOfTime()
            if not self.rate_limiter.acquire(max_wait):
                raise OutOfTime("the rate limit's pause runs past the time budget")
            timeout = self._timeout()
            with self._count_lock:
                self.requests_made += 1
            try:
                response = self.session.request(method, url, params=params, timeout=timeout)
                _ = response.content  # read it all now: a cut transfer fails here, inside the retry
            except (requests.ConnectionError, requests.Timeout) as exc:
                if self.fail_fast_unreachable and not self._answered and _never_connected(exc):
                    raise UpstreamError(
                        f"cannot connect to {self.base_url} (connection refused or unknown host)"
                    ) from None
                last_problem = f"{type(exc).__name__}"
                log.warning(
                    "intervals.icu %s %s failed (%s), attempt %d", method, path, last_problem, attempt + 1
                )
                self._pause_or_stop(self.retry.backoff(attempt))
                continue
            except requests.RequestException as exc:  # e.g. ChunkedEncodingError on a cut stream
                last_problem = f"{type(exc).__name__}"
                log.warning(
                    "intervals.icu %s %s broke off (%s), attempt %d", method, path, last_problem, attempt + 1
                )
                self._pause_or_stop(self.retry.backoff(attempt))
                continue
            self._answered = True
            status = response.status_code
            if status in accept:
                return response
            if status in (401, 403):
                raise UpstreamAuthError(
                    f"intervals.icu refused the credentials ({status}: {_error_text(response)})",
                    status=status,
                )
            if status == 429:
                wait = _retry_after_seconds(response, self.retry.backoff(attempt + 1))
                last_problem = "429 rate limited"
                log.warning("intervals.icu rate limited %s, retrying after %.1fs", path, wait)
                self.rate_limiter.pause(wait)
                continue
            if status >= 500:
                last_problem = f"HTTP {status}"
                log.warning("intervals.icu %s %s answered %d, attempt %d", method, path, status, attempt + 1)
                self._pause_or_stop(self.retry.backoff(attempt))
                continue
            raise UpstreamError(
                f"intervals.icu answered {status} for {path}: {_error_text(response)}", status=status
            )
        raise UpstreamError(
            f"intervals.icu {path} still failing after {self.retry.attempts} attempts ({last_problem})",
            transient=True,
        )

    # -- API -------------------------------------------------------------------------------------

    def athlete(self, athlete_id: str = "0") -> IntervalsAthlete:
        response = self._request("GET", f"/api/v1/athlete/{athlete_id}")
        try:
            return IntervalsAthlete.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise UpstreamError("intervals.icu returned an unreadable athlete") from exc

    def list_window(self, athlete_id: str, oldest: date, newest: date, into: Listing, seen: set[str]) -> int:
        """One window into ``into``; returns how many entries the page held (valid or not)."""
        response = self._request(
            "GET",
            f"/api/v1/athlete/{athlete_id}/activities",
            params={"oldest": oldest.isoformat(), "newest": newest.isoformat(), "fields": LISTING_FIELDS},
        )
        try:
            raw = response.json()
        except ValueError as exc:  # NaN/Infinity parse; broken JSON does not
            raise UpstreamError("intervals.icu returned an unreadable activity list", transient=True) from exc
        try:
            return parse_page(raw, into, seen)
        except TypeError as exc:
            raise UpstreamError(
                f"intervals.icu returned an unusable activity list ({exc})", transient=True
            ) from exc

    def _window_with_retries(
        self, athlete_id: str, oldest: date, newest: date, into: Listing, seen: set[str]
    ) -> tuple[int, date]:
        """Fetch [oldest, newest]; a failing window is retried at half the size. Returns the page
        size and the oldest date actually covered."""
        while True:
            try:
                return self.list_window(athlete_id, oldest, newest, into, seen), oldest
            except UpstreamAuthError:
                raise
            except UpstreamError as exc:
                span = (newest - oldest).days
                if isinstance(exc, OutOfTime) or not exc.transient or span <= MIN_WINDOW_DAYS:
                    raise
                oldest = newest - timedelta(days=max(MIN_WINDOW_DAYS, span // 2))
                log.warning(
                    "listing window failed (%s); retrying a %d-day window", exc, (newest - oldest).days
                )

    def listing(self, athlete_id: str = "0", *, floor: date = HISTORY_FLOOR) -> Listing:
        """Every activity of the athlete, newest first, each id once, plus the skipped entries
        (see the module docstring)."""
        result = Listing()
        seen: set[str] = set()
        newest = self._today() + timedelta(days=1)
        window = FIRST_WINDOW_DAYS
        # rides a broken clock dated in the future: one window from tomorrow to the ceiling
        if newest < FUTURE_CEILING:
            self._window_with_retries(athlete_id, newest, FUTURE_CEILING, result, seen)
        while newest >= floor:
            oldest = max(floor, newest - timedelta(days=window))
            size, oldest = self._window_with_retries(athlete_id, oldest, newest, result, seen)
            if oldest <= floor:
                break
            if size >= CROWDED_WINDOW:
                window = max(MIN_WINDOW_DAYS, window // 2)
            elif size < SPARSE_WINDOW:
                window = min(MAX_WINDOW_DAYS, window * 2)
            newest = oldest + timedelta(days=1)  # one day of overlap; ids de-duplicate
        if floor > ANCIENT_FLOOR:  # rides a broken clock dated before 1990
            self._window_with_retries(athlete_id, ANCIENT_FLOOR, floor + timedelta(days=1), result, seen)
        for skipped in result.skipped:
            log.warning("skipping a listing entry (id=%r): %s", skipped.id, skipped.reason)
        return result

    def list_activities(
        self, athlete_id: str = "0", *, floor: date = HISTORY_FLOOR
    ) -> Iterator[IntervalsActivity]:
        """The valid activities of :meth:`listing`."""
        yield from self.listing(athlete_id, floor=floor).activities

    def download_file(self, activity_id: str) -> ActivityFile:
        """The original file of an activity: FIT bytes, the original (GPX/TCX...) or the reason
        there is none. A file shorter than its FIT header says is returned as FIT all the same;
        the decoder marks it ``truncated`` and the sync decides (:mod:`ridelines.pipeline.sync`)."""
        path = f"/api/v1/activity/{activity_id}/file"
        for attempt in range(self.retry.attempts):
            response = self._request("GET", path, accept=(200, 422, *FILE_UNAVAILABLE))
            status = response.status_code
            if status == 422:
                return ActivityFile(
                    FileOutcome.NO_FILE, reason=f"no file at intervals.icu: {_error_text(response)}"[:200]
                )
            if status in FILE_UNAVAILABLE:
                if status == 403:
                    self.athlete()  # a refused token raises UpstreamAuthError here: the sync fails
                return ActivityFile(
                    FileOutcome.UNAVAILABLE,
                    reason=f"intervals.icu answered {status} for the file: {_error_text(response)}"[:200],
                    status=status,
                )
            body = response.content
            try:
                sniffed: SniffedFile = sniff_activity_file(body)
            except TruncatedFile as exc:
                log.warning(
                    "download of %s arrived cut short (%s), attempt %d", activity_id, exc, attempt + 1
                )
                self._pause_or_stop(self.retry.backoff(attempt))
                continue
            if sniffed.fit is None:
                return ActivityFile(
                    FileOutcome.NOT_FIT, reason=sniffed.reason, downloaded_bytes=len(body), data=sniffed.data
                )
            return ActivityFile(FileOutcome.FIT, fit=sniffed.fit, downloaded_bytes=len(body))
        raise UpstreamError(f"download of {activity_id} kept arriving cut short", transient=True)

    def disconnect(self) -> None:
        """Revoke the app's bearer token (``DELETE /api/v1/disconnect-app``)."""
        self._request("DELETE", "/api/v1/disconnect-app", accept=(200, 204))
