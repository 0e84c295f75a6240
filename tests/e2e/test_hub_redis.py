"""Simulator → hub with ``REDIS_URL``: ticks on Redis pub/sub, latest-quote keys, one shared
Kiwoom token, and a hung or unreachable Redis never stops collection (drops are counted).

The market re-issues a *new* token on every au10001 and invalidates the old one
(``token_reissue_invalidates_old``), so a client with a private token cache cannot pass
for one sharing the hub's token: it would get its own, and the simulator counts them."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import sqlalchemy as sa

from gslts_common.kiwoom_client import make_kiwoom_client
from gslts_hub.hub import Hub
from tests.e2e.harness import Market, PausableProxy, wait_for
from tests.e2e.test_hub_lossless import _assert_exact, settle

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


@pytest.fixture
def market() -> Iterator[Market]:
    """The e2e market, re-issuing a new token (and killing the old) on every au10001."""
    m = Market(token_reissue_invalidates_old=True).start()
    yield m
    m.stop()


def _own_key() -> dict[str, str]:
    """An app key of this test alone: no token cached in Redis by another run applies."""
    return {"KIWOOM_APP_KEY": f"e2e-{uuid.uuid4().hex}", "KIWOOM_SECRET_KEY": "e2e-secret"}


def _settle(hub: Hub, market: Market, engine: sa.Engine) -> list[str]:
    market.halt_trading()
    codes = hub.collected_codes()
    _assert_exact(settle(hub.status, engine, market.feed.truth(codes), codes))
    return codes


def _last_truth(market: Market, codes: list[str]) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for t in market.feed.truth(codes):
        if t.code not in last or t.cum_volume > last[t.code].cum_volume:
            last[t.code] = t
    return last


def _published(listener: Listener) -> list[tuple[str, str, str, int]]:
    out = []
    for _channel, ev in list(listener.messages):
        for i in range(ev["n"]):
            out.append((ev["code"], ev["venue"][i], ev["trade_date"][i], ev["cum_volume"][i]))
    return out


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
        hub = make_hub(REDIS_URL=redis_server_url, HUB_BUS_PREFIX=prefix, **_own_key())
        assert wait_for(lambda: len(listener.messages) >= 100, 30), hub.status()
        codes = _settle(hub, market, db_engine)
        with db_engine.connect() as conn:
            stored = [
                (r.stock_code, r.venue, r.trade_date.isoformat(), int(r.cum_volume))
                for r in conn.execute(
                    sa.text("SELECT stock_code, venue, trade_date, cum_volume FROM tick_data")
                )
            ]
        # the last published batches reach the listener
        assert wait_for(lambda: set(_published(listener)) >= set(stored), 30)
    finally:
        listener.close()
    truth = {(t.code, t.cum_volume): t for t in market.feed.truth(codes)}
    for channel, ev in listener.messages:
        assert channel == f"{prefix}tick:{ev['code']}"
        assert ev["source"] == "live"
        n = ev["n"]
        assert n >= 1
        assert all(len(ev[k]) == n for k in ("venue", "trade_date", "time", "price", "volume"))
        for i in range(n):
            t = truth[(ev["code"], ev["cum_volume"][i])]  # every published trade is real …
            # … with its price, signed quantity, day and time
            assert (ev["price"][i], ev["volume"][i]) == (t.price, t.volume)
            assert ev["trade_date"][i] == t.time.date().isoformat()
            assert ev["time"][i] == int(t.time.timestamp())  # 0B carries whole seconds
    published = _published(listener)
    # far fewer messages than trades: one per stock per frame, not one per trade
    assert len(listener.messages) < len(published)
    # every stored trade was published exactly once, and nothing else was
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
    assert market.tokens_issued == 1  # the hub's, once
    # the backend / CLI client built by the same factory elsewhere (another data dir, so
    # no shared token file) gets the hub's token from Redis instead of issuing a new one:
    # a new one would also have killed the hub's (this market invalidates on re-issue)
    other = hub.settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    client = make_kiwoom_client(other)
    try:
        assert client.get_quote(codes[0]).code == codes[0]  # a REST call with the token
        same = client.token() == hub.get_token(False)  # compared here: no token in a report
        assert same, "the other client holds a token of its own"
        assert hub.client.get_quote(codes[0]).code == codes[0]  # the hub's still works
    finally:
        client.close()
    assert market.tokens_issued == 1


def test_hung_or_unreachable_redis_never_stops_collection(
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
        hub = make_hub(REDIS_URL=via_proxy, HUB_BUS_PREFIX=prefix, **_own_key())
        bus: Any = hub.bus
        assert wait_for(lambda: bus.redis_sent > 50 and hub.ticks_received > 50, 30)
        for fault in (proxy.stall, proxy.pause):
            fault()
            dropped, received = bus.dropped, hub.ticks_received
            written = hub.writer.stats.ticks_written
            # past the bus's 2 s Redis timeout its batches fail and are dropped (counted) …
            assert wait_for(lambda d=dropped: bus.dropped > d, 60), fault.__name__
            # … while collecting and storing go on (~300 trades/s), Redis still down
            assert wait_for(
                lambda r=received, w=written: (
                    hub.ticks_received - r > 300 and hub.writer.stats.ticks_written > w
                ),
                60,
            ), fault.__name__
            assert hub.ws_state == "ready"
            proxy.resume()
            sent = bus.redis_sent
            assert wait_for(lambda s=sent: bus.redis_sent > s, 30), fault.__name__  # recovers
        # nothing the bus dropped is missing from storage: the journal is the durable path
        _settle(hub, market, db_engine)
        assert hub.status()["bus_dropped"] == bus.dropped
    finally:
        proxy.stop()
