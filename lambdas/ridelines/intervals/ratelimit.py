"""One client-side token bucket shared by every request of a sync (all download threads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Thread-safe token bucket: ``rate`` tokens per second, at most ``burst`` saved up.

    ``acquire`` blocks until a token is available. The default burst of 1 spaces requests
    evenly, which keeps us under intervals.icu's own limiter (10/s with a short burst) so its
    429s stay the exception rather than the rhythm.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate_per_second)
        self.capacity = max(1.0, float(burst))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                # the epsilon keeps float rounding from asking for ever-smaller sleeps
                if self._tokens >= 1.0 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                wait = (1.0 - self._tokens) / self.rate
            self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Push every caller back (a 429's ``Retry-After`` applies to the whole client)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens = min(self._tokens, 0.0) - seconds * self.rate
