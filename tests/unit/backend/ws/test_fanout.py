"""The browser stream's fan-out and protocol without sockets: ops answered (errors as
messages), subscriptions reference-counted per stock across connections, trades batched,
books conflated, forming candles from ticks, a connection past its bound detached."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from starlette.websockets import WebSocket

from gslts_backend.deps import Principal
from gslts_backend.ws import BrowserStream, handle
from gslts_backend.ws.fanout import SLOW_CODE, Connection
from gslts_common.bus import BOOK_CHANNEL, CANDLE_CHANNEL, GAP_CHANNEL, TICK_CHANNEL


class _Socket:
    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def _conn(user_id: int = 1) -> Connection:
    p = Principal(user_id, f"u{user_id}", "viewer", None, user_id)
    return Connection(cast(WebSocket, _Socket()), p)


def _hub(**kw: Any) -> tuple[BrowserStream, list[str]]:
    calls: list[str] = []
    args: dict[str, Any] = {
        "max_codes": 3,
        "max_connections": 10,
        "max_pending_trades": 100,
        "max_pending_messages": 50,
        "on_watch": lambda c: calls.append(f"+{c}"),
        "on_unwatch": lambda c: calls.append(f"-{c}"),
    }
    args.update(kw)
    return BrowserStream(**args), calls


def _ticks(code: str, start: int, n: int, t0: float = 1772500500.0) -> dict[str, Any]:
    return {
        "code": code,
        "source": "live",
        "n": n,
        "venue": ["KRX"] * n,
        "trade_date": ["2026-03-03"] * n,
        "time": [t0 + i for i in range(n)],
        "price": [70_000 + i for i in range(n)],
        "volume": [1 if i % 2 else -2 for i in range(n)],
        "cum_volume": list(range(start, start + n)),
        "cum_value": list(range(start, start + n)),
        "best_ask": [0] * n,
        "best_bid": [0] * n,
    }


def test_bad_ops_are_answered_with_errors() -> None:
    hub, _ = _hub()
    conn = _conn()
    for text in ("nope", "[1]", '{"op": "x"}', '{"op": "subscribe"}',
                 '{"op": "subscribe", "codes": ["00593"]}',
                 '{"op": "subscribe", "codes": ["005930"], "channels": []}'):  # fmt: skip
        handle(hub, conn, text)
    errors = [o.msg for o in conn.queue]
    assert [m["type"] for m in errors] == ["error"] * 6
    assert all(m["error"] == "BadInput" for m in errors)
    assert errors[4]["field"] == "codes"
    assert conn.codes == {}
    handle(hub, conn, '{"op": "subscribe", "codes": ["005930", "000660", "035420", "035720"]}')
    assert conn.queue[-1].msg["error"] == "Conflict"
    assert conn.codes == {}


def test_subscriptions_are_counted_per_stock_across_connections() -> None:
    hub, calls = _hub()
    a, b = _conn(1), _conn(2)
    hub.connections |= {a, b}
    handle(hub, a, '{"op": "subscribe", "codes": ["005930"]}')
    handle(hub, b, '{"op": "subscribe", "codes": ["005930"], "channels": ["trades"]}')
    assert calls == ["+005930"]
    assert a.queue[0].msg["type"] == "snapshot"
    handle(hub, a, '{"op": "unsubscribe", "codes": ["005930"]}')
    assert calls == ["+005930"]
    hub.remove(b)
    assert calls == ["+005930", "-005930"]
    assert hub.watched() == []


def test_trades_batch_books_conflate_candles_form() -> None:
    hub, _ = _hub()
    conn = _conn()
    hub.subscribe(conn, ["005930"], {"trades", "book", "candle"})
    conn.queue.clear()
    hub._bus_event(TICK_CHANNEL + "005930", _ticks("005930", 1, 3))
    hub._bus_event(TICK_CHANNEL + "005930", _ticks("005930", 4, 2, t0=1772500560.0))
    for n in (1, 2):
        hub._bus_event(BOOK_CHANNEL + "005930", {"code": "005930", "asks": [[n, n]], "bids": []})
    msgs = [o.msg for o in conn.take()]
    trades = [m for m in msgs if m["type"] == "trades"]
    assert len(trades) == 1
    assert trades[0]["cum_volume"] == [1, 2, 3, 4, 5]
    assert [m["asks"] for m in msgs if m["type"] == "book"] == [[[2, 2]]]
    (candle,) = [m for m in msgs if m["type"] == "candle"]
    assert candle["time"] == 1772500560 + 32400  # the new minute's bar, chart time (KST)
    assert (candle["open"], candle["close"], candle["volume"]) == (70_000, 70_001, 3)
    assert candle["partial"] is False  # the first minute seen was partial, this one is whole
    snap = hub.snapshot("005930", {"trades", "candle"})
    assert snap["last"]["cum_volume"] == 5
    assert snap["candle"]["time"] == 1772500560 + 32400


def test_a_connection_past_its_bound_is_detached_and_closed_as_slow() -> None:
    async def run() -> None:
        hub, calls = _hub(max_pending_trades=10)
        slow, fast = _conn(1), _conn(2)
        hub.connections |= {slow, fast}
        hub.subscribe(slow, ["005930"], {"trades"})
        hub.subscribe(fast, ["005930"], {"trades"})
        for i in range(4):
            hub._bus_event(TICK_CHANNEL + "005930", _ticks("005930", 1 + 4 * i, 4))
            if i < 3:
                fast.take()  # the fast one keeps up
        assert slow.dropped == "slow consumer"
        assert fast.dropped is None
        assert hub.connections == {fast}
        assert calls == ["+005930"]  # the fast one still watches
        for _ in range(500):  # the close runs as a task of its own
            if cast(Any, slow.ws).closed:
                break
            await asyncio.sleep(0.01)
        assert cast(Any, slow.ws).closed == (SLOW_CODE, "slow consumer")
        hub._bus_event(TICK_CHANNEL + "005930", _ticks("005930", 100, 1))
        assert not slow.trades  # nothing more queued for it

    asyncio.run(run())


def test_the_hub_s_closed_candle_is_relayed_and_a_gap_marks_candles_partial() -> None:
    hub, _ = _hub()
    conn = _conn()
    hub.subscribe(conn, ["005930"], {"candle"})
    hub._bus_event(TICK_CHANNEL + "005930", _ticks("005930", 1, 2, t0=1772500560.0))
    hub._bus_event(TICK_CHANNEL + "005930", _ticks("005930", 3, 1, t0=1772500620.0))
    conn.take()
    closed = {"code": "005930", "interval": "1m", "start": "2026-03-03T10:16:00+09:00",
              "open": 1, "high": 2, "low": 1, "close": 2, "volume": 9, "closed": True}  # fmt: skip
    hub._bus_event(CANDLE_CHANNEL + "005930", closed)
    (msg,) = [o.msg for o in conn.take()]
    assert (msg["type"], msg["closed"], msg["time"], msg["volume"]) == (
        "candle",
        True,
        1772500560 + 32400,
        9,
    )
    assert hub.snapshot("005930", {"candle"})["candle"]["partial"] is False
    hub._bus_event(GAP_CHANNEL, {"type": "gap", "reason": "expired"})
    assert hub.snapshot("005930", {"candle"})["candle"]["partial"] is True


def test_a_drain_sends_a_stock_s_batches_as_one_shared_message() -> None:
    async def run() -> None:
        hub, _ = _hub()
        hub.attach(asyncio.get_running_loop())
        a, b = _conn(1), _conn(2)
        for c in (a, b):
            hub.subscribe(c, ["005930"], {"trades"})
            c.take()
        for i in range(3):  # three batches before the loop runs its drain
            hub.on_bus(TICK_CHANNEL + "005930", _ticks("005930", 1 + 2 * i, 2))
        assert not a.trades
        for _ in range(500):
            if a.trades:
                break
            await asyncio.sleep(0.01)
        (out_a,) = a.take()
        (out_b,) = b.take()
        assert out_a is out_b  # one message, encoded once
        assert out_a.msg["cum_volume"] == [1, 2, 3, 4, 5, 6]

    asyncio.run(run())


def _vi(active: bool) -> dict[str, Any]:
    return {
        "code": "005930",
        "active": active,
        "kind": "정적",
        "trigger_price": 73_700,
        "triggered_at": "2026-03-03T10:00:05+09:00",
        "release_at": "2026-03-03T10:02:05+09:00",
        "count": 1,
        "direction": "up",
    }


def test_vi_changes_reach_the_book_s_subscribers_and_its_snapshot() -> None:
    vi_channel = BOOK_CHANNEL.replace("book:", "vi:")
    seen_before: dict[str, Any] = {"000660": {**_vi(True), "code": "000660"}}
    hub, _ = _hub(fallback_vi=seen_before.get)
    book, trades = _conn(1), _conn(2)
    hub.subscribe(book, ["005930"], {"book"})
    hub.subscribe(trades, ["005930"], {"trades"})
    assert book.queue[-1].msg["vi"] is None  # none seen yet
    assert "vi" not in trades.queue[-1].msg
    book.take()
    trades.take()
    hub._bus_event(vi_channel + "005930", _vi(True))
    hub._bus_event(vi_channel + "005930", _vi(False))
    # queued in order (a release never conflates away its trigger), only for the book
    msgs = [o.msg for o in book.take()]
    assert [(m["type"], m["active"]) for m in msgs] == [("vi", True), ("vi", False)]
    assert msgs[0]["trigger_price"] == 73_700
    assert trades.take() == []
    assert hub.snapshot("005930", {"book"})["vi"]["active"] is False
    # a VI the backend saw before this stream subscribed (LiveData's)
    assert hub.snapshot("000660", {"book"})["vi"]["active"] is True


def test_an_auction_book_carries_its_expected_price() -> None:
    hub, _ = _hub()
    conn = _conn()
    hub.subscribe(conn, ["005930"], {"book"})
    conn.take()
    auction = {"code": "005930", "asks": [[70_100, 5]], "bids": [[70_000, 3]],
               "expected_price": 70_000, "expected_qty": 3}  # fmt: skip
    hub._bus_event(BOOK_CHANNEL + "005930", auction)
    (msg,) = [o.msg for o in conn.take()]
    assert (msg["type"], msg["expected_price"], msg["expected_qty"]) == ("book", 70_000, 3)
