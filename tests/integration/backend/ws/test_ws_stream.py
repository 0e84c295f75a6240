"""The browser stream over real sockets: the hub's bus (the real stream, served by the bus
tests' publisher process) → the backend (uvicorn on a real port) → browsers (the
``websockets`` client). Subscribe → snapshot → live trades, books and forming candles;
order events reach only their user, balance events everyone; a browser that stops reading
is dropped (4008 "slow consumer") while another keeps receiving everything; a reconnecting
browser gets the latest state; a foreign Origin, no session, bad ops and the caps are
refused with clear answers. Every wait polls a condition with a deadline."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gslts_backend.settings import BackendSettings
from tests.integration.backend.ws.harness import (
    BackendServer,
    Browser,
    auth,
    browser,
    serve,
    wait_for,
)
from tests.integration.bus.harness import ProcessSide

pytestmark = pytest.mark.integration

CODE = "005930"
OTHER = "000660"


def settings_for(side: ProcessSide, db: str, **kw: Any) -> BackendSettings:
    return BackendSettings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=side.redis_url,
        hub_bus_prefix=side.prefix,
        hub_url=f"http://127.0.0.1:{side.port}",
        database_url=db,
        **kw,
    )


@pytest.fixture(params=["stream", "redis"])
def any_publisher(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProcessSide]:
    """The hub's bus over either transport: its stream, or Redis (the real one)."""
    url = request.getfixturevalue("redis_server_url") if request.param == "redis" else None
    side = ProcessSide(request.param, tmp_path, url)
    try:
        yield side
    finally:
        side.close()


def following(srv: BackendServer) -> bool:
    return bool(srv.app.state.live.follower.stats()["connected"])


async def publish(side: ProcessSide, **body: Any) -> dict[str, Any]:
    return await asyncio.to_thread(side.publish, **body)


async def subscribed(b: Browser, *codes: str, channels: list[str] | None = None) -> None:
    msg: dict[str, Any] = {"op": "subscribe", "codes": list(codes)}
    if channels is not None:
        msg["channels"] = channels
    n = len(b.of("subscribed"))
    await b.send(**msg)
    assert await b.wait(lambda b: len(b.of("subscribed")) > n), b.received[-5:]


def test_subscribe_gives_the_snapshot_then_live_trades_books_and_candles(
    any_publisher: ProcessSide, backend_db: str
) -> None:
    publisher = any_publisher
    before = publisher.publish(stocks=[CODE, OTHER], batches=2, ticks=3)
    last_cum = before["cums"][CODE][1]
    with serve(settings_for(publisher, backend_db)) as srv:
        assert wait_for(lambda: following(srv))

        async def scenario() -> None:
            b = await browser(srv.ws_url, auth(1))
            assert await b.wait(lambda b: bool(b.of("hello")))
            assert b.of("hello")[0]["user"] == {"id": 1, "username": "user1", "role": "viewer"}
            await subscribed(b, CODE)
            snap = b.of("snapshot", CODE)
            assert len(snap) == 1
            assert snap[0]["last"]["cum_volume"] == last_cum
            assert snap[0]["last"]["price"] == before["quotes"][CODE]["price"]
            assert snap[0]["book"]["asks"] == before["books"][CODE]["asks"]

            out = await publish(publisher, stocks=[CODE, OTHER], batches=5, ticks=2)
            first, last = out["cums"][CODE]
            want = list(range(first, last + 1))
            assert await b.wait(lambda b: b.cums(CODE) == want), b.cums(CODE)
            assert b.cums(OTHER) == []  # not subscribed
            types = [m["type"] for m in b.received]
            assert types.index("snapshot") < types.index("trades")
            trades = b.of("trades", CODE)
            assert sum(m["n"] for m in trades) == len(want)
            assert all(len(m["price"]) == m["n"] == len(m["time"]) for m in trades)
            assert await b.wait(lambda b: bool(b.of("book", CODE)))
            assert b.of("book", CODE)[-1]["cum_volume"] == last
            assert await b.wait(lambda b: bool(b.of("candle", CODE)))
            candle = b.of("candle", CODE)[-1]
            assert candle["interval"] == "1m"
            assert candle["closed"] is False
            assert candle["close"] == 70000 + last % 100
            assert candle["low"] <= candle["close"] <= candle["high"]
            assert candle["time"] % 60 == 0
            # the charts API's time convention: the KST wall-clock start as if it were UTC
            start = datetime.fromisoformat(candle["start"])
            assert candle["time"] == int(start.replace(tzinfo=UTC).timestamp())
            assert start.utcoffset() == timedelta(hours=9)
            await b.close()

        asyncio.run(scenario())


def test_order_events_reach_only_their_user_and_balance_everyone(
    publisher: ProcessSide, backend_db: str
) -> None:
    with serve(settings_for(publisher, backend_db)) as srv:
        events = srv.app.state.services.events

        async def scenario() -> None:
            b1 = await browser(srv.ws_url, auth(1))
            b2 = await browser(srv.ws_url, auth(2, "trader"))
            for b in (b1, b2):
                assert await b.wait(lambda b: bool(b.of("hello")))
            events.publish("order", 1, {"order_id": 11, "status": "accepted"})
            events.publish("order", 2, {"order_id": 22, "status": "filled"})
            events.publish("balance", None, {"cash": 5})
            assert await b1.wait(lambda b: bool(b.of("balance")))
            assert await b2.wait(lambda b: bool(b.of("balance")))
            assert [m["order_id"] for m in b1.of("order")] == [11]
            assert [m["order_id"] for m in b2.of("order")] == [22]
            assert b1.of("order")[0]["status"] == "accepted"
            assert b1.of("balance")[0]["cash"] == b2.of("balance")[0]["cash"] == 5
            await b1.close()
            await b2.close()

        asyncio.run(scenario())


def _small_socket(port: int) -> socket.socket:
    """A client socket with a tiny receive buffer: once it stops reading, the server's
    sends back up at once."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


def test_a_browser_that_stops_reading_is_dropped_and_the_others_keep_receiving(
    publisher: ProcessSide, backend_db: str
) -> None:
    settings = settings_for(publisher, backend_db, ws_max_pending_trades=5000)
    with serve(settings, sndbuf=8192) as srv:
        assert wait_for(lambda: following(srv))

        async def scenario() -> None:
            fast = await browser(srv.ws_url, auth(1))
            slow = await browser(srv.ws_url, auth(2), reading=False, sock=_small_socket(srv.port))
            await subscribed(fast, CODE, channels=["trades"])
            await slow.send(op="subscribe", codes=[CODE], channels=["trades"])
            assert await fast.wait(lambda _: len(srv.hub.connections) == 2)
            assert await fast.wait(lambda _: all(CODE in c.codes for c in srv.hub.connections))
            first = None
            last = 0
            for _ in range(2000):
                out = await publish(publisher, stocks=[CODE], batches=10, ticks=20, books=False)
                first = first or out["cums"][CODE][0]
                last = out["cums"][CODE][1]
                if srv.hub.dropped_slow:
                    break
            assert srv.hub.dropped_slow == 1, srv.hub.stats()
            assert len(srv.hub.connections) == 1
            # the fast browser got every trade, in order, while the slow one was dropped
            want = list(range(first, last + 1))
            assert await fast.wait(lambda b: b.cums(CODE) == want, 90), (
                len(fast.cums(CODE)),
                len(want),
            )
            out = await publish(publisher, stocks=[CODE], batches=1, ticks=1, books=False)
            assert await fast.wait(lambda b: b.cums(CODE)[-1:] == [out["cums"][CODE][1]])
            # the slow one, reading again, finds the close with the reason
            slow.reader = asyncio.get_running_loop().create_task(slow.read())
            assert await slow.wait(lambda b: b.closed_code is not None, 90)
            assert (slow.closed_code, slow.closed_reason) == (4008, "slow consumer")
            await fast.close()

        asyncio.run(scenario())


def test_a_reconnecting_browser_gets_the_latest_state(
    any_publisher: ProcessSide, backend_db: str
) -> None:
    publisher = any_publisher
    with serve(settings_for(publisher, backend_db)) as srv:
        assert wait_for(lambda: following(srv))

        async def scenario() -> None:
            b = await browser(srv.ws_url, auth(1))
            await subscribed(b, CODE)
            out = await publish(publisher, stocks=[CODE], batches=2, ticks=2)
            assert await b.wait(lambda b: b.cums(CODE)[-1:] == [out["cums"][CODE][1]])
            await b.close()
            # while it is away the market moves on
            out = await publish(publisher, stocks=[CODE], batches=3, ticks=2)
            latest = out["cums"][CODE][1]
            assert await b.wait(lambda _: srv.hub.last.get(CODE, {}).get("cum_volume") == latest)
            again = await browser(srv.ws_url, auth(1))
            await subscribed(again, CODE)
            snap = again.of("snapshot", CODE)[0]
            assert snap["last"]["cum_volume"] == latest
            assert snap["book"]["cum_volume"] == latest
            assert snap["candle"]["close"] == 70000 + latest % 100
            await again.close()

        asyncio.run(scenario())


def test_refusals_are_clear_and_bad_ops_do_not_close_the_socket(
    publisher: ProcessSide, backend_db: str
) -> None:
    settings = settings_for(publisher, backend_db, ws_max_codes=2, ws_max_connections=2)
    with serve(settings) as srv:

        async def closed_with(b: Browser) -> tuple[int | None, str | None]:
            assert await b.wait(lambda b: b.closed_code is not None)
            return b.closed_code, b.closed_reason

        async def scenario() -> None:
            # a page of another site, even with a session: 4403
            b = await browser(srv.ws_url, auth(1), origin="http://evil.example")
            code, _ = await closed_with(b)
            assert code == 4403
            # no session: 4401 (the real authentication path)
            b = await browser(srv.ws_url)
            code, reason = await closed_with(b)
            assert code == 4401
            assert reason
            # the page's own origin is fine
            b = await browser(srv.ws_url, auth(1), origin=f"http://127.0.0.1:{srv.port}")
            assert await b.wait(lambda b: bool(b.of("hello")))

            async def error_for(**msg: Any) -> dict[str, Any]:
                n = len(b.of("error"))
                await b.send(**msg)
                assert await b.wait(lambda b: len(b.of("error")) > n)
                return b.of("error")[-1]

            n = len(b.of("error"))
            await b.conn.send("not json")
            assert await b.wait(lambda b: len(b.of("error")) > n)
            assert "not JSON" in b.of("error")[-1]["detail"]
            n = len(b.of("error"))
            await b.conn.send(b"\x00\x01")
            assert await b.wait(lambda b: len(b.of("error")) > n)
            assert "binary" in b.of("error")[-1]["detail"]
            e = await error_for(op="dance")
            assert e["error"] == "BadInput"
            assert "unknown op" in e["detail"]
            e = await error_for(op="subscribe", codes=["12"])
            assert e["field"] == "codes"
            e = await error_for(op="subscribe", codes=[CODE], channels=["gossip"])
            assert e["field"] == "channels"
            e = await error_for(op="subscribe", codes=[CODE, OTHER, "035420"], id=7)
            assert e["error"] == "Conflict"
            assert "at most 2 stocks" in e["detail"]
            assert e["id"] == 7
            await b.send(op="ping", id="p1")
            assert await b.wait(lambda b: bool(b.of("pong")))
            assert b.of("pong")[0]["id"] == "p1"
            await subscribed(b, CODE, OTHER)
            await b.send(op="unsubscribe", codes=[OTHER])
            assert await b.wait(lambda b: bool(b.of("unsubscribed")))
            assert b.of("unsubscribed")[0]["subscribed"] == [CODE]
            # the connection cap: the third is told to come back later
            b2 = await browser(srv.ws_url, auth(2))
            assert await b2.wait(lambda b: bool(b.of("hello")))
            b3 = await browser(srv.ws_url, auth(3))
            code, reason = await closed_with(b3)
            assert code == 1013
            assert reason is not None
            assert "too many connections" in reason
            await b.close()
            await b2.close()

        asyncio.run(scenario())
