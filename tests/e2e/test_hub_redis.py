"""Simulator → hub with ``REDIS_URL``: ticks on Redis pub/sub, latest-quote keys, one shared
Kiwoom token, and a hung or unreachable Redis never slows collection (drops are counted)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import sqlalchemy as sa

from gslts_backend.kiwoom_client import make_kiwoom_client
from gslts_hub.hub import Hub
from tests.e2e.harness import Market, PausableProxy, compare, wait_for

pytestmark = pytest.mark.e2e


class Listener:
    """Collects every message on ``<prefix>tick:*`` (own thread)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.r = redis.Redis.from_url(url)
        self.pubsub = self.r.pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe(prefix + "tick:*")
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self.pubsub.get_message(timeout=0.2)
            if msg is not None and msg["type"] == "pmessage":
                self.messages.append((msg["channel"].decode(), orjson.loads(msg["data"])))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.pubsub.close()
        self.r.close()


@pytest.fixture
def prefix(redis_server_url: str) -> Iterator[str]:
    """A channel/key prefix of this test alone; its keys are deleted afterwards."""
    p = f"gslts-e2e-{uuid.uuid4().hex[:8]}:"
    yield p
    r = redis.Redis.from_url(redis_server_url)
    keys = list(r.scan_iter(p + "*"))
    if keys:
        r.delete(*keys)
    r.close()


def _settle(hub: Hub, market: Market) -> list[str]:
    time.sleep(0.5)
    market.halt_trading()
    codes = hub.collected_codes()
    time.sleep(1.0)
    assert wait_for(
        lambda: hub.status()["journal_backlog_bytes"] == 0 and hub.status()["flush_lag_s"] == 0,
        20,
    )
    return codes


def _last_truth(market: Market, codes: list[str]) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for t in market.feed.truth(codes):
        if t.code not in last or t.cum_volume > last[t.code].cum_volume:
            last[t.code] = t
    return last


def test_ticks_on_redis_channels_quotes_and_one_shared_token(
    make_hub: Callable[..., Hub],
    market: Market,
    db_engine: sa.Engine,
    redis_server_url: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    listener = Listener(redis_server_url, prefix)
    try:
        hub = make_hub(REDIS_URL=redis_server_url, HUB_BUS_PREFIX=prefix)
        assert wait_for(lambda: len(listener.messages) >= 100, 15), hub.status()
        codes = _settle(hub, market)
        time.sleep(0.5)  # the last published batch reaches the listener
    finally:
        listener.close()
    truth = {(t.code, t.cum_volume): t for t in market.feed.truth(codes)}
    published: list[tuple[str, str, str, int]] = []
    for channel, ev in listener.messages:
        assert channel == f"{prefix}tick:{ev['code']}"
        assert ev["source"] == "live"
        n = ev["n"]
        assert n >= 1
        assert all(len(ev[k]) == n for k in ("venue", "trade_date", "time", "price", "volume"))
        for i in range(n):
            key = (ev["code"], ev["cum_volume"][i])
            t = truth[key]  # every published trade is a real trade …
            # … with its price, signed quantity, day and time
            assert (ev["price"][i], ev["volume"][i]) == (t.price, t.volume)
            assert ev["trade_date"][i] == t.time.date().isoformat()
            assert ev["time"][i] == int(t.time.timestamp())  # 0B carries whole seconds
            published.append((ev["code"], ev["venue"][i], ev["trade_date"][i], key[1]))
    # far fewer messages than trades: one per stock per frame, not one per trade
    assert len(listener.messages) < len(published)
    # every stored trade was published exactly once, and nothing else was
    with db_engine.connect() as conn:
        stored = [
            (r.stock_code, r.venue, r.trade_date.isoformat(), int(r.cum_volume))
            for r in conn.execute(
                sa.text("SELECT stock_code, venue, trade_date, cum_volume FROM tick_data")
            )
        ]
    assert len(published) == len(set(published))  # each cum_volume exactly once
    assert sorted(published) == sorted(stored)
    # the latest-quote key of every collected stock holds its last trade's price
    r = redis.Redis.from_url(redis_server_url)
    try:
        last = _last_truth(market, codes)
        assert len(last) >= 10
        for code, t in last.items():
            raw = r.get(f"{prefix}quote:{code}")
            assert raw is not None, code
            q = orjson.loads(raw)
            assert (q["price"], q["cum_volume"]) == (t.price, t.cum_volume), code
    finally:
        r.close()
    assert hub.bus.dropped == 0
    # the backend / CLI client built by the same factory elsewhere (another data dir, so
    # no shared token file) gets the hub's token from Redis instead of issuing a new one
    other = hub.settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    client = make_kiwoom_client(other)
    try:
        assert client.token() == hub.get_token(False)
    finally:
        client.close()
    res = compare(db_engine, market.feed.truth(codes), codes)
    assert res.missing == []
    assert res.duplicates == 0


def test_hung_or_unreachable_redis_never_slows_collection(
    make_hub: Callable[..., Hub],
    market: Market,
    db_engine: sa.Engine,
    redis_server_url: str,
    prefix: str,
) -> None:
    url = sa.make_url(redis_server_url)
    proxy = PausableProxy(url.host or "127.0.0.1", url.port or 6379).start()
    try:
        via_proxy = redis_server_url.replace(f":{url.port or 6379}", f":{proxy.port}", 1)
        hub = make_hub(REDIS_URL=via_proxy, HUB_BUS_PREFIX=prefix)
        bus: Any = hub.bus
        assert wait_for(lambda: bus.redis_sent > 50 and hub.ticks_received > 50, 15)
        for fault in (proxy.stall, proxy.pause):
            fault()
            dropped, received = bus.dropped, hub.ticks_received
            written = hub.writer.stats.ticks_written
            time.sleep(4.5)  # > the bus's 2 s Redis timeout: batches fail and are dropped
            assert bus.dropped > dropped, fault.__name__
            assert hub.ticks_received - received > 300, fault.__name__  # ~300 trades/s
            assert hub.writer.stats.ticks_written > written
            assert hub.ws_state == "ready"
            proxy.resume()
            sent = bus.redis_sent
            assert wait_for(lambda s=sent: bus.redis_sent > s, 10), fault.__name__  # recovers
        codes = _settle(hub, market)
        # nothing the bus dropped is missing from storage: the journal is the durable path
        res = compare(db_engine, market.feed.truth(codes), codes)
        assert res.missing == []
        assert res.duplicates == 0
        assert res.unexpected == []
        assert hub.status()["bus_dropped"] == bus.dropped
    finally:
        proxy.stop()
