"""What the hub's RedisBus had to drop (its queue full, Redis away) is announced on the
control channel, and a follower passes it on as a gap: with what arrived, it accounts for
every message published."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from gslts_common.bus import GAP_CHANNEL, TICK_CHANNEL, RedisBus, tick_batch
from gslts_common.bus_follow import RedisFollower

pytestmark = pytest.mark.integration


def test_dropped_messages_are_announced_as_a_gap(redis_server_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    got: list[tuple[str, Any]] = []
    f = RedisFollower(redis_server_url, prefix=prefix, name=f"bus-test-{uuid.uuid4().hex[:8]}")
    f.subscribe(lambda ch, ev: got.append((ch, ev)))
    f.start()
    bus = RedisBus(redis_server_url, prefix=prefix, queue_max=5)
    try:
        deadline = time.monotonic() + 60
        while not f.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f.connected
        n = 3000
        for i in range(n):  # far faster than one thread drains a queue of 5 into Redis
            code = "005930" if i % 2 else "000660"
            bus.publish_ticks(code, tick_batch(code, [[code, "KRX", 1, i, 0.0, 1, 1, 1, 0, 0]]))
        assert bus.dropped > 0

        def accounted() -> int:
            ticks = sum(1 for ch, _ in got if ch.startswith(TICK_CHANNEL))
            told = sum(ev["count"] for ch, ev in got if ch == GAP_CHANNEL)
            return ticks + told

        deadline = time.monotonic() + 60
        while accounted() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert accounted() == n
        gaps = [ev for ch, ev in got if ch == GAP_CHANNEL]
        assert gaps
        assert all(g["reason"] == "publisher_dropped" for g in gaps)
        assert all(g["epoch"] == bus.epoch for g in gaps)
        assert {s for g in gaps for s in g["stocks"]} == {"000660", "005930"}
        assert sum(g["count"] for g in gaps) == bus.dropped
    finally:
        bus.close()
        f.close()


def test_the_queue_is_bounded_in_bytes_too(redis_server_url: str) -> None:
    """A slow Redis must not grow the hub by the size of 100,000 tick batches."""
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    bus = RedisBus(redis_server_url, prefix=prefix, queue_max_bytes=20_000)
    try:
        rows = [["005930", "KRX", 1, i, 0.0, 1, 1, 1, 0, 0] for i in range(200)]
        big = tick_batch("005930", rows)  # several KB a message
        peak = 0
        for _ in range(2000):
            bus.publish_ticks("005930", big)
            peak = max(peak, bus.queued_bytes)
        assert peak <= 20_000
        assert bus.dropped > 0  # one thread cannot drain 2,000 such messages this fast
        deadline = time.monotonic() + 60
        while bus.backlog and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bus.queued_bytes == 0
    finally:
        bus.close()
