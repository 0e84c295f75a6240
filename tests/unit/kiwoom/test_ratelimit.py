"""Token-bucket timing with a fake clock."""

from __future__ import annotations

import threading

import pytest

from gslts_kiwoom import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        with self._lock:
            self.sleeps.append(s)
            self.t += s


def test_burst_then_sustained_rate() -> None:
    clock = FakeClock()
    rl = RateLimiter(2.0, 3, clock=clock.now, sleep=clock.sleep)
    start = clock.t
    for _ in range(3):
        assert rl.acquire("ka10001") == 0
    assert clock.t == start  # the burst is free
    for _ in range(4):
        rl.acquire("ka10001")
    # 4 more requests at 2/s take 2 seconds
    assert clock.t - start == pytest.approx(2.0)
    assert clock.sleeps == pytest.approx([0.5] * 4)


def test_buckets_are_per_api_id() -> None:
    clock = FakeClock()
    rl = RateLimiter(1.0, 1, clock=clock.now, sleep=clock.sleep)
    rl.acquire("ka10001")
    assert rl.acquire("ka10080") == 0  # another api-id is not slowed down
    assert rl.acquire("ka10001") == pytest.approx(1.0)


def test_idle_time_refills_up_to_burst_only() -> None:
    clock = FakeClock()
    rl = RateLimiter(1.0, 2, clock=clock.now, sleep=clock.sleep)
    rl.acquire("a")
    rl.acquire("a")
    clock.t += 100  # long idle: refills to 2, not 100
    assert rl.acquire("a") == 0
    assert rl.acquire("a") == 0
    assert rl.acquire("a") == pytest.approx(1.0)


def test_concurrent_callers_queue_instead_of_sharing_a_token() -> None:
    clock = FakeClock()
    waits: list[float] = []
    lock = threading.Lock()
    # Sleep does not advance time here: each reservation must still be distinct.
    rl = RateLimiter(4.0, 1, clock=clock.now, sleep=lambda s: None)

    def worker() -> None:
        w = rl.acquire("ka10001")
        with lock:
            waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_invalid_settings_rejected() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0, 1).acquire("x")
