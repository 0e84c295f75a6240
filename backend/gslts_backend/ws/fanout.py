"""The browser stream's fan-out: the hub's live data and the backend's own events, handed
to each browser connection without ever making the bus follower (or another browser) wait.

Threads: the bus follower and the event publishers call :meth:`StreamHub.on_bus` /
:meth:`StreamHub.on_backend_event` on their own threads; those do one bounded append and,
when the loop is not already woken, one ``call_soon_threadsafe``. Everything else runs on
the asyncio loop: the latest state per stock (last trade, book, forming candle), the
subscriptions, and per connection a pending set that its own sender task drains:

* trades: every trade, batched — the pending batches of a stock go out as one message;
* books and forming candles: conflated — only the newest per stock is pending;
* everything else (snapshots, VI changes, order and balance events, replies): a queue.

A connection whose pending trades or queue pass their bound (``WS_MAX_PENDING_TRADES``,
``WS_MAX_PENDING_MESSAGES``) is a slow consumer: it is detached at once (nothing more is
queued for it), its sender cancelled, and it is closed with 4008 ``slow consumer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import orjson
from starlette.websockets import WebSocket

from gslts_backend.deps import Principal
from gslts_backend.events import Kind
from gslts_backend.ws.candles import CandleBuilder, chart_time
from gslts_common.bus import (
    CANDLE_CHANNEL,
    GAP_CHANNEL,
    ORDER_CHANNEL,
    PREFIX,
    SNAPSHOT_CHANNEL,
    TICK_CHANNEL,
    Event,
    split_channel,
)
from gslts_kiwoom.krx import KST

log = logging.getLogger(__name__)

CHANNELS = ("trades", "book", "candle")
#: close code and reason of a dropped slow browser
SLOW_CODE = 4008
SLOW_REASON = "slow consumer"
#: the bus follower's intake (messages not yet handled by the loop); past it the oldest go
INTAKE_MAX = 200_000
#: seconds a close handshake may take before the connection is cut
CLOSE_TIMEOUT_S = 5.0


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(type(obj).__name__)


def dumps(msg: dict[str, Any]) -> str:
    return orjson.dumps(msg, default=_default).decode()


class Out:
    """One outgoing message, encoded at most once however many connections send it."""

    __slots__ = ("_text", "msg")

    def __init__(self, msg: dict[str, Any]) -> None:
        self.msg = msg
        self._text: str | None = None

    def text(self) -> str:
        if self._text is None:
            self._text = dumps(self.msg)
        return self._text


@dataclass(eq=False)
class Connection:
    """One browser socket: who it is, what it watches, what waits to be sent."""

    ws: WebSocket
    principal: Principal
    #: code → subscribed channels
    codes: dict[str, set[str]] = field(default_factory=dict)
    #: per stock the pending ``trades`` messages (one per bus batch)
    trades: dict[str, list[Out]] = field(default_factory=dict)
    n_trades: int = 0
    books: dict[str, Out] = field(default_factory=dict)
    candles: dict[str, Out] = field(default_factory=dict)
    queue: deque[Out] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sender: asyncio.Task[None] | None = None
    #: why it was dropped (then nothing more is queued)
    dropped: str | None = None
    sent: int = 0

    def pending(self) -> bool:
        return bool(self.queue or self.trades or self.books or self.candles)

    def take(self) -> list[Out]:
        """Everything pending: the queue first, then trades (a stock's batches merged into
        one message), books, candles."""
        out = list(self.queue)
        self.queue.clear()
        trades, self.trades, self.n_trades = self.trades, {}, 0
        for code, batches in trades.items():
            out.append(batches[0] if len(batches) == 1 else _merged(code, batches))
        books, self.books = self.books, {}
        out.extend(books.values())
        candles, self.candles = self.candles, {}
        out.extend(candles.values())
        return out


_TRADE_COLUMNS = ("time", "price", "volume", "cum_volume", "venue")


def _trades_message(code: str, batch: Event) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "trades", "code": code, "n": batch["n"]}
    msg.update({c: batch[c] for c in _TRADE_COLUMNS})
    return msg


def _merged(code: str, batches: list[Out]) -> Out:
    merged: dict[str, list[Any]] = {c: [] for c in _TRADE_COLUMNS}
    for b in batches:
        for c in _TRADE_COLUMNS:
            merged[c].extend(b.msg[c])
    return Out({"type": "trades", "code": code, "n": len(merged["price"]), **merged})


def _concat(batches: list[Event]) -> Event:
    """One stock's tick batches as one (the columns the stream uses)."""
    cols = (*_TRADE_COLUMNS, "cum_value")
    out: Event = {c: [] for c in cols}
    for b in batches:
        for c in cols:
            out[c].extend(b[c])
    out.update(code=batches[0]["code"], source="live", n=len(out["price"]))
    return out


def _last_of(code: str, batch: Event) -> dict[str, Any]:
    """A tick batch's last trade in the bus's quote shape."""
    return {
        "code": code,
        "venue": batch["venue"][-1],
        "price": batch["price"][-1],
        "volume": batch["volume"][-1],
        "cum_volume": batch["cum_volume"][-1],
        "cum_value": batch["cum_value"][-1],
        "time": datetime.fromtimestamp(batch["time"][-1], KST).isoformat(),
    }


class StreamHub:
    """See the module docstring. ``fallback`` gives the state the bus had before this hub
    subscribed (``LiveData``'s quotes and books)."""

    def __init__(
        self,
        *,
        max_codes: int,
        max_connections: int,
        max_pending_trades: int,
        max_pending_messages: int,
        fallback_quote: Callable[[str], Event | None] = lambda code: None,
        fallback_book: Callable[[str], Event | None] = lambda code: None,
        fallback_vi: Callable[[str], Event | None] = lambda code: None,
        on_watch: Callable[[str], None] = lambda code: None,
        on_unwatch: Callable[[str], None] = lambda code: None,
    ) -> None:
        self.max_codes = max_codes
        self.max_connections = max_connections
        self.max_pending_trades = max_pending_trades
        self.max_pending_messages = max_pending_messages
        self._fallback_quote = fallback_quote
        self._fallback_book = fallback_book
        self._fallback_vi = fallback_vi
        self._on_watch = on_watch
        self._on_unwatch = on_unwatch
        self.connections: set[Connection] = set()
        #: code → channel → connections
        self._subs: dict[str, dict[str, set[Connection]]] = {}
        self.last: dict[str, dict[str, Any]] = {}
        self.books: dict[str, Event] = {}
        #: each stock's latest VI state (``vi:<code>``), sent with the book channel
        self.vi: dict[str, Event] = {}
        self.candles = CandleBuilder()
        self._intake: deque[tuple[str, Any, Any]] = deque()
        self._intake_lock = threading.Lock()
        self._woken = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self.dropped_slow = 0
        self.intake_overflow = 0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # ------------------------------------------------------------------ other threads
    def on_bus(self, channel: str, event: Event) -> None:
        """The bus follower's callback (its thread): one append, maybe one wake-up."""
        self._put(("bus", channel, event))

    def on_backend_event(self, kind: Kind, user_id: int | None, payload: dict[str, Any]) -> None:
        """:class:`~gslts_backend.events.BackendEvents` subscriber (any thread)."""
        self._put((kind, user_id, payload))

    def _put(self, item: tuple[str, Any, Any]) -> None:
        loop = self._loop
        if loop is None:
            return
        with self._intake_lock:
            if len(self._intake) >= INTAKE_MAX:
                self._intake.popleft()
                self.intake_overflow += 1
            self._intake.append(item)
            if self._woken:
                return
            self._woken = True
        with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
            loop.call_soon_threadsafe(self._drain)

    # ------------------------------------------------------------------ the loop
    def _drain(self) -> None:
        with self._intake_lock:
            items = list(self._intake)
            self._intake.clear()
            self._woken = False
        # A stock's live tick batches of one drain go out as one message (shared by every
        # connection); they are handed on before any snapshot or gap that followed them.
        ticks: dict[str, list[Event]] = {}
        for src, a, b in items:
            try:
                if src != "bus":
                    self._backend_event(src, a, b)
                elif a.startswith(TICK_CHANNEL):
                    if b.get("source") == "live" and b.get("n"):
                        ticks.setdefault(a, []).append(b)
                else:
                    if ticks and a in (SNAPSHOT_CHANNEL, GAP_CHANNEL):
                        self._flush_ticks(ticks)
                    self._bus_event(a, b)
            except Exception:
                log.exception("ws_fanout_event_failed source=%s", src)
        self._flush_ticks(ticks)

    def _flush_ticks(self, ticks: dict[str, list[Event]]) -> None:
        for channel, batches in ticks.items():
            try:
                self._bus_event(channel, batches[0] if len(batches) == 1 else _concat(batches))
            except Exception:
                log.exception("ws_fanout_event_failed source=bus")
        ticks.clear()

    def _bus_event(self, channel: str, event: Event) -> None:
        if channel == SNAPSHOT_CHANNEL:
            for code, q in (event.get("quotes") or {}).items():
                self.last[code] = q
            self.books.update(event.get("books") or {})
            return
        if channel == GAP_CHANNEL:
            self.candles.gap()
            return
        if channel == ORDER_CHANNEL:
            return  # the account service and the order service turn these into events
        kind, code = split_channel(channel, PREFIX)
        if code is None:
            return
        if kind == "tick":
            if event.get("source") != "live" or not event.get("n"):
                return  # a backfill holds older trades: not live data for a browser
            self.last[code] = _last_of(code, event)
            changed = self.candles.add(code, event)
            subs = self._subs.get(code)
            if not subs:
                return
            trades = subs.get("trades")
            out = Out(_trades_message(code, event)) if trades else None
            for conn in list(trades or ()):
                conn.trades.setdefault(code, []).append(cast(Out, out))
                conn.n_trades += event["n"]
                if conn.n_trades > self.max_pending_trades:
                    self.drop(conn, SLOW_REASON)
                else:
                    conn.wake.set()
            candles = subs.get("candle")
            if changed and candles:
                forming = Out(self.candles.forming[code].message(code))
                for conn in candles:
                    conn.candles[code] = forming
                    conn.wake.set()
        elif kind == "book":
            self.books[code] = event
            books = self._subs.get(code, {}).get("book")
            if books:
                book = Out({"type": "book", **event, "code": code})
                for conn in books:
                    conn.books[code] = book
                    conn.wake.set()
        elif kind == "vi":
            # rare and a state change: queued (never conflated) to the book's subscribers
            self.vi[code] = event
            vi = Out({**event, "type": "vi", "code": code})
            for conn in list(self._subs.get(code, {}).get("book", ())):
                self.send(conn, vi)
        elif kind == "candle" and channel.startswith(CANDLE_CHANNEL):
            closed = Out({**event, "type": "candle", "code": code, "partial": False})
            closed.msg["time"] = chart_time(int(datetime.fromisoformat(event["start"]).timestamp()))
            for conn in list(self._subs.get(code, {}).get("candle", ())):
                self.send(conn, closed)

    def _backend_event(self, kind: str, user_id: int | None, payload: dict[str, Any]) -> None:
        msg = Out({**payload, "type": kind})
        for conn in list(self.connections):
            if user_id is None or conn.principal.user_id == user_id:
                self.send(conn, msg)

    # ------------------------------------------------------------------ connections
    def send(self, conn: Connection, msg: dict[str, Any] | Out) -> None:
        """Queue one message for ``conn`` (dropping ``conn`` when its queue is full)."""
        if conn.dropped is not None:
            return
        if len(conn.queue) >= self.max_pending_messages:
            self.drop(conn, SLOW_REASON)
            return
        conn.queue.append(msg if isinstance(msg, Out) else Out(msg))
        conn.wake.set()

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
        conn.sender = asyncio.get_running_loop().create_task(self._sender(conn), name="ws-send")

    async def _sender(self, conn: Connection) -> None:
        ws = conn.ws
        while True:
            await conn.wake.wait()
            conn.wake.clear()
            while conn.pending():
                for out in conn.take():
                    await ws.send_text(out.text())
                    conn.sent += 1

    def remove(self, conn: Connection) -> None:
        """Forget ``conn`` (its socket is gone or going): subscriptions, sender."""
        self.connections.discard(conn)
        for code in list(conn.codes):
            self._unsubscribe(conn, code, set(CHANNELS))
        if conn.sender is not None and conn.sender is not asyncio.current_task():
            conn.sender.cancel()

    def drop(self, conn: Connection, reason: str) -> None:
        """Detach a slow ``conn`` now and close it (4008) in the background."""
        if conn.dropped is not None:
            return
        conn.dropped = reason
        self.dropped_slow += 1
        log.warning(
            "ws_slow_consumer_dropped user=%s codes=%d pending_trades=%d queued=%d",
            conn.principal.username,
            len(conn.codes),
            conn.n_trades,
            len(conn.queue),
        )
        self.remove(conn)
        conn.trades.clear()
        conn.queue.clear()
        conn.books.clear()
        conn.candles.clear()
        task = asyncio.get_running_loop().create_task(self._close(conn, SLOW_CODE, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, conn: Connection, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(code, reason), CLOSE_TIMEOUT_S)

    # ------------------------------------------------------------------ subscriptions
    def snapshot(self, code: str, channels: set[str]) -> dict[str, Any]:
        """The latest state of ``code`` for ``channels`` (what a (re)subscriber gets first)."""
        msg: dict[str, Any] = {"type": "snapshot", "code": code}
        if "trades" in channels:
            msg["last"] = self.last.get(code) or self._fallback_quote(code)
        if "book" in channels:
            msg["book"] = self.books.get(code) or self._fallback_book(code)
            msg["vi"] = self.vi.get(code) or self._fallback_vi(code)
        if "candle" in channels:
            f = self.candles.forming.get(code)
            msg["candle"] = None if f is None else f.message(code)
        return msg

    def subscribe(self, conn: Connection, codes: list[str], channels: set[str]) -> None:
        """Subscribe (caps checked by the caller); queues each stock's snapshot first."""
        for code in codes:
            self.send(conn, self.snapshot(code, channels))
            have = conn.codes.setdefault(code, set())
            subs = self._subs.setdefault(code, {})
            if not subs:
                self._on_watch(code)
            for ch in channels:
                subs.setdefault(ch, set()).add(conn)
            have |= channels

    def unsubscribe(self, conn: Connection, codes: list[str], channels: set[str]) -> None:
        for code in codes:
            self._unsubscribe(conn, code, channels)

    def _unsubscribe(self, conn: Connection, code: str, channels: set[str]) -> None:
        have = conn.codes.get(code)
        if have is None:
            return
        subs = self._subs.get(code, {})
        for ch in channels & have:
            conns = subs.get(ch)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del subs[ch]
        have -= channels
        if not have:
            del conn.codes[code]
            conn.trades.pop(code, None)
            conn.books.pop(code, None)
            conn.candles.pop(code, None)
        if not subs and code in self._subs:
            del self._subs[code]
            self._on_unwatch(code)

    def watched(self) -> list[str]:
        return sorted(self._subs)

    def stats(self) -> dict[str, Any]:
        return {
            "connections": len(self.connections),
            "watched": self.watched(),
            "dropped_slow": self.dropped_slow,
            "intake_overflow": self.intake_overflow,
        }
