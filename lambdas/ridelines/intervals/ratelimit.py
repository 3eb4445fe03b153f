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

    A 429's ``Retry-After`` closes one shared *pause gate* until a moment in time
    (:meth:`pause`): four threads told "wait 60 s" at once wait 60 s, not 240 s. ``acquire``
    takes a ``max_wait`` so a caller with a deadline never sleeps past it.
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
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        if now > self._updated:  # nothing accrues while the pause gate is closed
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def wait_needed(self) -> float:
        """Seconds until a token could be taken (pause gate included)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            gate = max(0.0, self._paused_until - now)
            return max(gate, (1.0 - self._tokens) / self.rate if self._tokens < 1.0 - 1e-9 else 0.0)

    def acquire(self, max_wait: float | None = None) -> bool:
        """Take a token, sleeping as needed; False (nothing taken) when that would mean waiting
        longer than ``max_wait`` seconds in total."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if now >= self._paused_until:
                    self._refill(now)
                    # the epsilon keeps float rounding from asking for ever-smaller sleeps
                    if self._tokens >= 1.0 - 1e-9:
                        self._tokens = max(0.0, self._tokens - 1.0)
                        return True
                    wait = (1.0 - self._tokens) / self.rate
                else:
                    wait = self._paused_until - now
            if max_wait is not None and waited + wait > max_wait:
                return False
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Close the gate for ``seconds`` from now (a 429 applies to the whole client). Pauses
        overlap instead of adding up: the gate opens at the latest moment any caller asked for."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._paused_until = max(self._paused_until, now + max(0.0, seconds))
            self._tokens = 0.0  # the gate opens on an empty bucket: no burst right after a 429
            self._updated = max(self._updated, self._paused_until)
