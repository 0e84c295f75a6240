"""What the hub's RedisBus had to drop (its queue full, Redis away) is announced on the
control channel, and a follower passes it on as a gap: with what arrived, it accounts for
every message published."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import orjson
import pytest

from gslts_common.bus import (
    BOOK_CHANNEL,
    GAP_CHANNEL,
    GAP_STOCKS_MAX,
    TICK_CHANNEL,
    RedisBus,
    tick_batch,
)
from gslts_common.bus_follow import RedisFollower

pytestmark = pytest.mark.integration


def _accounted(got: list[tuple[str, Any]]) -> int:
    """Trades delivered plus drops told: every published message, when nothing is lost."""
    ticks = sum(1 for ch, _ in got if ch.startswith(TICK_CHANNEL))
    gaps = [ev for ch, ev in got if ch == GAP_CHANNEL]
    # a gap of unknown size (the follower reconnected) would make this count meaningless
    assert all(g["count"] is not None for g in gaps), gaps
    told: int = sum(g["count"] for g in gaps)
    return ticks + told


def _follower(url: str, prefix: str, got: list[tuple[str, Any]], **kw: Any) -> RedisFollower:
    f = RedisFollower(url, prefix=prefix, name=f"bus-test-{uuid.uuid4().hex[:8]}", **kw)
    f.subscribe(lambda ch, ev: got.append((ch, ev)))
    f.start()
    deadline = time.monotonic() + 60
    while not f.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f.connected
    return f


def _hold_publisher(bus: RedisBus) -> tuple[threading.Event, threading.Event]:
    """Make the bus thread's next flush wait until ``release`` is set (its queue then
    fills and every further message is dropped); ``held`` is set once it waits."""
    held, release = threading.Event(), threading.Event()
    redis_client: Any = bus._redis
    real_pipeline = redis_client.pipeline

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        if not release.is_set():
            held.set()
            release.wait(60)
        return real_pipeline(*args, **kwargs)

    redis_client.pipeline = pipeline
    return held, release


def _tick(code: str, i: int) -> dict[str, Any]:
    return tick_batch(code, [[code, "KRX", 1, i, 0.0, 1, 1, 1, 0, 0]])


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

        deadline = time.monotonic() + 60
        while _accounted(got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _accounted(got) == n
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


def test_drops_made_while_a_gap_notice_is_sent_are_told_by_the_next(
    redis_server_url: str,
) -> None:
    """The hub keeps dropping (on the same stock) while its notice is on the way to Redis:
    the next notice tells those, naming the stock again — a notice naming no channel
    would be passed on by no follower, and the drops would vanish."""
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    got: list[tuple[str, Any]] = []
    f = _follower(redis_server_url, prefix, got)
    bus = RedisBus(redis_server_url, prefix=prefix, queue_max=5)
    try:
        redis_client: Any = bus._redis
        real_publish = redis_client.publish
        during, first = 10, threading.Event()

        def publish(channel: str, data: bytes) -> Any:
            out = real_publish(channel, data)
            if b'"publisher_dropped"' in data and not first.is_set():
                first.set()  # the bus thread is here, not draining: its queue stays full
                for i in range(during):
                    bus.publish_ticks("005930", _tick("005930", 10_000 + i))
            return out

        redis_client.publish = publish
        held, release = _hold_publisher(bus)
        n = 20
        bus.publish_ticks("005930", _tick("005930", 0))
        assert held.wait(60)
        for i in range(1, n):
            bus.publish_ticks("005930", _tick("005930", i))
        release.set()
        deadline = time.monotonic() + 60
        while _accounted(got) < n + during and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _accounted(got) == n + during
        gaps = [ev for ch, ev in got if ch == GAP_CHANNEL]
        assert len(gaps) >= 2
        assert all(g["channels"] == ["tick"] and g["stocks"] == ["005930"] for g in gaps)
        assert sum(g["count"] for g in gaps) == bus.dropped
    finally:
        bus.close()
        f.close()


def test_past_the_named_stocks_a_notice_still_names_every_kind(redis_server_url: str) -> None:
    """Drops on more channels than a notice names stocks of: the notice names no stock
    (any may be affected) but still every kind, so a book-only follower hears of the
    books lost after the ticks of thousands of stocks."""
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    got: list[tuple[str, Any]] = []
    f = _follower(redis_server_url, prefix, got, channels=["book"])
    bus = RedisBus(redis_server_url, prefix=prefix, queue_max=5)
    try:
        held, release = _hold_publisher(bus)
        bus.publish_ticks("000000", _tick("000000", 0))
        assert held.wait(60)
        for i in range(GAP_STOCKS_MAX + 10):  # the queue is full: all but 5 are dropped
            code = f"{i:06d}"
            bus.publish_ticks(code, _tick(code, i))
        book = {"code": "005930", "asks": [], "bids": []}
        for _ in range(3):
            bus.publish_book("005930", book)
        release.set()
        deadline = time.monotonic() + 60
        while bus.backlog and time.monotonic() < deadline:
            time.sleep(0.05)
        bus.publish_book("005930", {**book, "last": True})  # after the notice, in order
        deadline = time.monotonic() + 60
        while not any(ev.get("last") for _, ev in got) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(ch == BOOK_CHANNEL + "005930" and ev.get("last") for ch, ev in got)
        gaps = [ev for ch, ev in got if ch == GAP_CHANNEL]
        assert gaps
        assert gaps[0]["channels"] == ["book"]
        assert gaps[0]["stocks"] is None
    finally:
        bus.close()
        f.close()


def test_the_latest_quote_and_book_survive_a_full_queue(redis_server_url: str) -> None:
    """Events may be dropped (and told); the latest-state keys a snapshot reads may not:
    a quote dropped with a full queue left Redis serving a stale one."""
    import redis as redis_lib

    from gslts_common.bus import LASTBOOK_KEY, QUOTE_KEY

    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    bus = RedisBus(redis_server_url, prefix=prefix, queue_max_bytes=5_000)
    r = redis_lib.Redis.from_url(redis_server_url)
    try:
        rows = [["005930", "KRX", 1, i, 0.0, 1, 1, 1, 0, 0] for i in range(50)]
        for i in range(3000):
            bus.publish_ticks("005930", tick_batch("005930", rows))
            bus.set_quote("005930", {"code": "005930", "price": 70_000 + i})
            bus.publish_book("005930", {"code": "005930", "n": i})
        assert bus.dropped > 0  # the events did overflow
        key = prefix + QUOTE_KEY.removeprefix("gslts:") + "005930"
        book = prefix + LASTBOOK_KEY.removeprefix("gslts:") + "005930"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            q, b = r.get(key), r.get(book)
            if q and b and orjson.loads(q)["price"] == 72_999 and orjson.loads(b)["n"] == 2999:
                break
            time.sleep(0.05)
        assert orjson.loads(r.get(key) or b"{}").get("price") == 72_999
        assert orjson.loads(r.get(book) or b"{}").get("n") == 2999
    finally:
        r.close()
        bus.close()
