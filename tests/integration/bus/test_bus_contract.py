"""One contract for every bus transport: what a subscriber of the hub's live data can count on.

Transports: ``inprocess`` (a subscriber in the hub's process), ``stream`` (the hub's
WebSocket stream, no Redis: a publisher *process* serving it, followed by
:class:`StreamFollower`), ``redis`` (the publisher process on a RedisBus, followed by
:class:`RedisFollower`; the real Redis at 127.0.0.1:6379, a unique prefix per test).

The contract:

* every event published arrives once, in order per stock;
* after a reconnect of the subscriber, and after a restart of the publisher, the
  subscriber is told what it may have missed (a ``gap``) — or, where the transport can
  resume (the stream, within its buffer), misses nothing — and gets the latest quote and
  book per stock (a ``snapshot``);
* a slow subscriber is dropped, and publishing never waits for it.

The publisher process is ``tests/integration/bus/publisher.py``; it publishes from a plain
thread as the hub's socket thread does. Every wait polls with a generous deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from gslts_common.bus import SNAPSHOT_CHANNEL, TICK_CHANNEL
from gslts_common.bus_follow import StreamFollower
from tests.integration.bus.harness import (
    DEADLINE_S,
    STOCKS,
    Collector,
    InProcessSide,
    ProcessSide,
    Side,
    arrived,
    assert_all_arrived,
    assert_in_order_once,
    expected,
    latest_state,
    merge,
    wait_for,
)
from tests.redis_server import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
def make_side(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Side]]:
    made: list[ProcessSide] = []

    def make(transport: str, **args: Any) -> Side:
        if transport == "inprocess":
            return InProcessSide()
        url = request.getfixturevalue("redis_server_url") if transport == "redis" else None
        side = ProcessSide(transport, tmp_path, url, **args)
        made.append(side)
        return side

    yield make
    for side in made:
        side.close()


def _start(side: Side, col: Collector, **kw: Any) -> Any:
    f = side.follower(col, **kw)
    f.start()
    assert wait_for(lambda: f.connected), "the follower did not connect"
    # a fresh follower gets its snapshot at once; after it, it is subscribed
    if side.name != "inprocess":
        assert wait_for(lambda: len(col.snapshots()) >= 1)
    return f


ALL = ["inprocess", "stream", "redis"]
REMOTE = ["stream", "redis"]


# ---------------------------------------------------------------------- the contract
@pytest.mark.parametrize("transport", ALL)
def test_every_event_arrives_once_in_order_per_stock(
    transport: str, make_side: Callable[..., Side]
) -> None:
    side = make_side(transport)
    col = Collector()
    _start(side, col)
    published = expected(side.publish(stocks=STOCKS, batches=300, ticks=3)["cums"])
    assert wait_for(lambda: arrived(col, published))
    assert_all_arrived(col, published)
    for code in STOCKS:  # the books of a stock in order too, each once
        books = col.books(code)
        assert books == sorted(set(books))
        assert len(books) == 300
    assert col.gaps() == []


@pytest.mark.parametrize("transport", REMOTE)
def test_a_filtered_subscriber_gets_exactly_its_part(
    transport: str, make_side: Callable[..., Side]
) -> None:
    side = make_side(transport)
    everything, part = Collector(), Collector()
    _start(side, everything)
    _start(side, part, channels=["tick"], stocks=STOCKS[:2])
    published = expected(side.publish(stocks=STOCKS, batches=100, ticks=2)["cums"])
    assert wait_for(lambda: arrived(everything, published))
    mine = {c: published[c] for c in STOCKS[:2]}
    assert wait_for(lambda: arrived(part, mine))
    assert_all_arrived(part, mine)
    kinds = {ch for ch, _ in part.snapshot_items()} - {SNAPSHOT_CHANNEL}
    assert kinds == {TICK_CHANNEL + c for c in STOCKS[:2]}


def _latest_is_in(snapshot: dict[str, Any], out: dict[str, Any]) -> None:
    assert snapshot["quotes"] == out["quotes"]
    assert snapshot["books"] == out["books"]


@pytest.mark.parametrize("transport", REMOTE)
def test_a_reconnected_subscriber_is_told_or_resumes_and_gets_the_latest(
    transport: str, make_side: Callable[..., Side]
) -> None:
    """The far side cuts the subscriber's connection; it reconnects by itself. The
    stream resumes where it was (nothing can be missed); Redis cannot resume, so it says
    a gap may be there. Both hand the latest quote and book of every stock."""
    side = make_side(transport)
    col = Collector()
    f = _start(side, col)
    part1 = expected((out := side.publish(stocks=STOCKS, batches=50, ticks=2))["cums"])
    assert wait_for(lambda: arrived(col, part1))
    snaps, connects = len(col.snapshots()), f.connects
    side.cut_subscribers()
    assert wait_for(lambda: f.connects > connects and len(col.snapshots()) > snaps)
    snapshot = col.snapshots()[-1]
    _latest_is_in(snapshot, out)
    if transport == "stream":
        assert col.gaps() == []  # resumed after its last seq
    else:
        [gap] = col.gaps()
        assert gap["reason"] == "reconnected"
        assert col.index_of(gap) < col.index_of(snapshot)  # told first, then the snapshot
    part2 = expected(side.publish(stocks=STOCKS, batches=50, ticks=2)["cums"])
    published = merge(part1, part2)
    assert wait_for(lambda: arrived(col, published))
    assert_all_arrived(col, published)


@pytest.mark.parametrize("away", ["within_buffer", "beyond_buffer"])
def test_a_subscriber_back_after_a_while_resumes_or_is_told_the_gap(
    away: str, make_side: Callable[..., Side]
) -> None:
    """A subscriber process that stops and comes back resuming from its saved position:
    within the stream's buffer it gets everything it missed, exactly once; beyond it, the
    gap (its seq range, kinds and stocks), the latest quote/book, then live data."""
    side = make_side("stream", buffer=100, max_lag=100)
    col = Collector()
    f = _start(side, col)
    part1 = expected(side.publish(stocks=STOCKS, batches=5, ticks=1)["cums"])
    assert wait_for(lambda: arrived(col, part1))
    assert wait_for(lambda: f.seq == 5 * len(STOCKS) * 2)
    position = f.position
    f.close()
    batches = 5 if away == "within_buffer" else 50  # 40 or 400 messages while away
    out = side.publish(stocks=STOCKS, batches=batches, ticks=1)
    part2 = expected(out["cums"])
    col2 = Collector()
    f2 = _start(side, col2, resume=position)
    if away == "within_buffer":
        assert wait_for(lambda: arrived(col2, part2))
        assert_all_arrived(col2, part2)
        assert col2.gaps() == []
    else:
        assert wait_for(lambda: len(col2.gaps()) == 1)
        [gap] = col2.gaps()
        assert gap["reason"] == "expired"
        assert gap["from_seq"] == position[1] + 1  # everything after what it had …
        head = side.state()["stream"]["head"]
        assert position[1] < gap["to_seq"] < head  # … up to where the replay starts
        assert gap["count"] == gap["to_seq"] - gap["from_seq"] + 1
        assert set(gap["stocks"]) == set(STOCKS)
        assert {"tick", "book"} <= set(gap["channels"])
        snapshot = col2.snapshots()[-1]
        assert col2.index_of(gap) < col2.index_of(snapshot)
        _latest_is_in(snapshot, out)
        assert_in_order_once(col2, part2)  # the replayed tail: in order, once
        assert all(col2.ticks(c)[-1] == part2[c][-1] for c in STOCKS)
    part3 = expected(side.publish(stocks=STOCKS, batches=5, ticks=1)["cums"])
    assert wait_for(lambda: all(col2.ticks(c)[-1:] == part3[c][-1:] for c in STOCKS))
    assert_in_order_once(col2, merge(part2, part3))
    for c in STOCKS:
        assert col2.ticks(c)[-len(part3[c]) :] == part3[c]
    assert f2.connected


@pytest.mark.parametrize("transport", REMOTE)
def test_a_restarted_publisher_is_told_with_the_latest_state(
    transport: str, make_side: Callable[..., Side]
) -> None:
    """``kill -9`` of the publishing process and a new one: the subscriber learns the
    epoch changed (whatever the old one did not deliver is lost) and gets the snapshot of
    the new one, then its live data."""
    side = make_side(transport)
    col = Collector()
    _start(side, col)
    out1 = side.publish(stocks=STOCKS, batches=20, ticks=2)
    part1 = expected(out1["cums"])
    assert wait_for(lambda: arrived(col, part1))
    old = side.epoch()
    side.restart(cum_base=1_000_000)
    new = side.epoch()
    assert new != old
    assert wait_for(lambda: any(g.get("prev_epoch") == old for g in col.gaps()))
    [gap] = col.gaps()
    assert gap["reason"] in ("epoch_changed", "publisher_restarted")
    assert wait_for(lambda: any(s["epoch"] == new for s in col.snapshots()))
    snapshot = next(s for s in col.snapshots() if s["epoch"] == new)
    assert col.index_of(gap) < col.index_of(snapshot)
    if transport == "redis":
        _latest_is_in(snapshot, out1)  # the keys outlive the publisher
    else:
        assert snapshot["quotes"] == {}  # a restarted hub knows nothing until it trades
    part2 = expected(side.publish(stocks=STOCKS, batches=20, ticks=2)["cums"])
    published = merge(part1, part2)
    assert wait_for(lambda: arrived(col, published))
    assert_all_arrived(col, published)


def test_a_slow_stream_subscriber_is_dropped_and_publishing_never_waits(
    make_side: Callable[..., Side],
) -> None:
    side = make_side("stream", buffer=2000, max_lag=500)
    _slow_subscriber(side, expect_reason="expired")
    stats = side.state()["stream"]
    assert stats["subscribers_dropped"] >= 1
    assert "slow subscriber" in stats["recent_drops"][0]["reason"]


def test_a_slow_redis_subscriber_is_dropped_and_publishing_never_waits(
    make_side: Callable[..., Side], tmp_path: Path, redis_server_url: str
) -> None:
    # a Redis of its own, whose pub/sub output limit is small (the default 32 MB would
    # make the test push a lot): Redis drops the slow subscriber, as it would at 32 MB
    server = RedisServer(tmp_path).start()
    try:
        r = redis.Redis.from_url(server.url)
        r.config_set("client-output-buffer-limit", "pubsub 262144 0 0")
        r.close()
        side = ProcessSide("redis", tmp_path, server.url)
        try:
            _slow_subscriber(side, expect_reason="reconnected", pad=1000)
            assert side.state()["dropped"] == 0  # the publisher lost nothing to Redis
        finally:
            side.close()
    finally:
        server.stop()


def _slow_subscriber(side: Any, expect_reason: str, pad: int = 2000) -> None:
    col = Collector()
    f = _start(side, col)
    col.hold = threading.Event()  # the subscriber stops at its next tick and stays stuck
    try:
        # ~40 MB of events (Redis: ~20 MB, under the RedisBus queue's 32 MB byte bound
        # even if Redis drained nothing meanwhile, so "the publisher lost nothing" holds
        # on a loaded machine too) while the subscriber reads nothing: every publish call
        # returns
        # (were it waiting for the subscriber, this would hang until the hold times out)
        done: dict[str, Any] = {}
        t = threading.Thread(
            target=lambda: done.update(
                side.publish(stocks=STOCKS, batches=4000, ticks=4, books=True, pad=pad)
            )
        )
        t.start()
        t.join(DEADLINE_S)
        assert done.get("published") == 4000 * len(STOCKS) * 2, "publishing waited"
        if isinstance(f, StreamFollower):
            assert wait_for(lambda: side.state()["stream"]["subscribers_dropped"] >= 1)
        else:  # Redis closed the follower's connection
            assert wait_for(lambda: not _redis_has_client(side, f.name))
    finally:
        col.hold.set()
        col.hold = None
    # it comes back (it may have been dropped more than once on the way): told of the
    # gap, then the latest state as a snapshot (and, when it came back mid-burst, the
    # burst's rest live after it)
    latest = ({c: q["cum_volume"] for c, q in done["quotes"].items()}, done["books"])
    assert wait_for(lambda: f.connected and len(col.gaps()) >= 1 and latest_state(col) == latest), (
        col.gaps(),
        [s["seq"] for s in col.snapshots()],
    )
    gap = col.gaps()[-1]
    assert gap["reason"] == expect_reason
    assert col.index_of(gap) < col.index_of(col.snapshots()[-1])
    published = expected(done["cums"])
    assert_in_order_once(col, published)
    if isinstance(f, StreamFollower):
        assert f.dropped_slow >= 1
        assert f.last_close is not None
        assert f.last_close[0] == 4000
        assert "slow subscriber" in f.last_close[1]
    # and it is live again
    more = expected(side.publish(stocks=STOCKS, batches=3, ticks=1)["cums"])
    assert wait_for(lambda: all(col.ticks(c)[-1:] == more[c][-1:] for c in STOCKS))
    assert_in_order_once(col, merge(published, more))


def _redis_has_client(side: ProcessSide, name: str) -> bool:
    assert side.redis_url is not None
    r = redis.Redis.from_url(side.redis_url)
    try:  # its pub/sub connection (the follower also reads keys on another)
        return any(
            c.get("name") == name and int(c.get("sub", 0)) + int(c.get("psub", 0)) > 0
            for c in r.client_list()
        )
    finally:
        r.close()
