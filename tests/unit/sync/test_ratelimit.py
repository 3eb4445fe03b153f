"""The shared token bucket, driven by a fake clock."""

from __future__ import annotations

import threading

from ridelines.intervals.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_requests_are_spaced_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=1, clock=clock.time, sleep=clock.sleep)
    for _ in range(21):
        bucket.acquire()
    assert abs(clock.now - 2.0) < 1e-6  # first free, then 20 x 0.1 s


def test_burst_allows_that_many_at_once() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5, burst=5, clock=clock.time, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    assert clock.now == 0.0
    bucket.acquire()
    assert abs(clock.now - 0.2) < 1e-6


def test_pause_pushes_everyone_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=1, clock=clock.time, sleep=clock.sleep)
    bucket.acquire()
    bucket.pause(3.0)
    bucket.acquire()
    assert clock.now >= 3.0


def test_threads_share_one_budget() -> None:
    import time

    bucket = TokenBucket(200, burst=1)
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: [bucket.acquire() for _ in range(10)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 40 tokens at 200/s need >= 39/200 s whoever takes them (a floor, not a speed target)
    assert time.monotonic() - started >= 39 / 200 - 0.01
