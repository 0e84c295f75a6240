"""The hub's bus as a WebSocket stream: live data for other processes with no Redis.

The server wraps a bus (:class:`~gslts_common.bus.InProcessBus`, or a RedisBus, which is
one too) and serves every event it publishes at ``/bus/stream``; another process follows it
with :class:`gslts_common.bus_follow.StreamFollower`. A service mounts it with one line::

    app.include_router(bus_stream_router(lambda app: app.state.hub.bus, origin_hosts=...))

(the router's lifespan subscribes after the app's own lifespan built the bus, and stops
before it closes it). ``docs/bus.md`` explains the design; the event payloads are
documented in :mod:`gslts_common.bus`.

The cost on the publishing thread (the hub's socket thread) is one bounded append per
published message (and a wake-up of the loop when it was idle); everything else — the
sequence number, the JSON, the ring buffer, the sends — happens on the asyncio loop. The
intake is bounded too: if the loop falls behind by ``inbox_max`` messages, newer ones are
dropped, counted, and announced in the stream as a ``gap`` in their place.

Wire format
-----------

Connect: ``ws://<hub>/bus/stream?epoch=<e>&since=<seq>&channels=tick,book&stocks=005930``
(all optional: ``epoch``/``since`` = the position to resume after, the last ``seq`` the
subscriber processed in that epoch; ``channels`` ⊆ ``tick,book,candle,order``; ``stocks``
limits ``tick``/``book``/``candle`` to those codes). No ``since``: live from now on.

Each WebSocket message is a binary frame of one or more JSON lines (``\\n``-separated,
UTF-8). Every line has a ``type``:

* ``hello`` (first) — ``{"epoch", "position", "head", "first"}``: the subscriber is
  placed after ``position`` (it receives seqs above it); ``head`` is the newest seq,
  ``first`` the oldest still held.
* ``gap`` (after ``hello``, when it applies; or in the stream, with its own ``seq``, when
  the intake overflowed) — what the subscriber may have missed: the shape in
  :mod:`gslts_common.bus` ("What a follower delivers").
* ``event`` — ``{"seq", "channel", "data"}``: one published message; ``seq`` rises by one
  per message of the epoch (a filtered subscriber sees some of them).
* ``snapshot`` — after the replay of a resume (or at once, for a fresh subscriber): the
  latest quote and book of every stock it asked for, as of ``seq``.
* ``heartbeat`` — ``{"seq"}`` after a second with nothing to send: the subscriber's
  position (so its resume point moves on even when its filter passes nothing) and a sign
  of life.

Close codes: 4000 ``slow subscriber`` (its socket took no more while it was ``max_lag``
messages behind, or it fell out of the buffer: dropped, never waited for; it may
reconnect and resume), 1008 (origin not allowed, bad query), 1001 (the hub is stopping,
or an operator closed the subscribers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect

from gslts_common.bus import GAP_STOCKS_MAX, KINDS, PREFIX, Event, InProcessBus, split_channel
from gslts_kiwoom.krx import STOCK_CODE_PATTERN

log = logging.getLogger(__name__)

STREAM_PATH = "/bus/stream"
CLOSE_SLOW = 4000
CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
_CODE_RE = re.compile(STOCK_CODE_PATTERN)
#: at most this many stocks in one subscription's filter
MAX_FILTER_STOCKS = 5000


@dataclass(slots=True)
class _Entry:
    seq: int
    kind: str  # tick | book | candle | order | gap
    code: str | None
    frame: bytes


@dataclass(eq=False)
class _Subscriber:
    ws: WebSocket
    peer: str
    kinds: frozenset[str]
    stocks: frozenset[str] | None
    #: the next seq to send
    cursor: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: why it was dropped, and the close code (the sender is cancelled, the socket closed)
    drop_reason: str | None = None
    close_code: int = CLOSE_SLOW
    task: asyncio.Task[None] | None = None
    sent: int = 0
    #: True while a send waits: the socket takes no more (the peer is not reading)
    blocked: bool = False

    def wants(self, kind: str, code: str | None) -> bool:
        if kind == "gap":
            return True
        if kind not in self.kinds:
            return False
        return code is None or self.stocks is None or code in self.stocks


class BusStream:
    """Serves a bus's events to WebSocket subscribers with resume, gaps and snapshots.

    Args:
        buffer_events: the ring buffer holds the newest this many messages (a subscriber
            that reconnects within them resumes with nothing lost) …
        buffer_bytes: … and at most this many bytes of them.
        max_lag: a subscriber whose socket takes no more (its peer does not read) while
            it is this many messages behind the newest is dropped (close 4000); at most
            ``buffer_events``.
        inbox_max: messages published but not yet taken in by the loop before newer ones
            are dropped (and announced as a ``gap``).
        heartbeat_s: a subscriber with nothing to receive gets a heartbeat this often.
        batch_bytes: at most about this many bytes per WebSocket message.
        close_timeout_s: how long a dropped subscriber's close frame may wait to be sent.
        origin_hosts: host names a browser page may connect from (``Origin``); a client
            sending no ``Origin`` (a service) is always accepted. None = any origin.
    """

    def __init__(
        self,
        *,
        buffer_events: int = 20_000,
        buffer_bytes: int = 32 * 2**20,
        max_lag: int = 10_000,
        inbox_max: int = 100_000,
        heartbeat_s: float = 1.0,
        batch_bytes: int = 256 * 1024,
        close_timeout_s: float = 10.0,
        origin_hosts: Iterable[str] | None = None,
    ) -> None:
        self.capacity = max(1, buffer_events)
        self.buffer_bytes = buffer_bytes
        self.max_lag = max(1, min(max_lag, self.capacity))
        self.inbox_max = inbox_max
        self.heartbeat_s = heartbeat_s
        self.batch_bytes = batch_bytes
        self.close_timeout_s = close_timeout_s
        self.origin_hosts = None if origin_hosts is None else frozenset(origin_hosts)
        self.epoch = ""
        #: the newest seq given out and the oldest still in the ring
        self.head = 0
        self.first = 1
        self._ring: list[_Entry | None] = [None] * self.capacity
        self._ring_bytes = 0
        self._inbox: deque[tuple[str, Event]] = deque()
        self._sleeping = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._overflow_lock = threading.Lock()
        self._overflow_n = 0
        self._overflow_channels: set[str] = set()
        self._subs: set[_Subscriber] = set()
        self._books: dict[str, tuple[int, bytes]] = {}
        self._stocks_seen: set[str] = set()
        #: stocks with trades in this epoch: the ones that have a quote
        self._quoted: set[str] = set()
        self._kinds_seen: set[str] = set()
        self._bus: InProcessBus | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._drainer: asyncio.Task[None] | None = None
        #: counters for status and tests
        self.intake_dropped = 0
        self.subscribers_dropped = 0
        self.drops: deque[dict[str, Any]] = deque(maxlen=20)
        self.connects = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self, bus: InProcessBus) -> None:
        """Follow ``bus`` from now on (call on the loop that serves the WebSockets)."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._bus = bus
        self.epoch = bus.epoch
        self._drainer = asyncio.create_task(self._drain(self._wake), name="bus-stream-drain")
        self._unsubscribe = bus.subscribe(self._on_event)

    async def stop(self) -> None:
        """Unsubscribe and close every subscriber (1001)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for sub in list(self._subs):
            self._drop(sub, "the hub is stopping", code=CLOSE_GOING_AWAY)
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
            self._drainer = None

    # ------------------------------------------------------------------ publishing side
    def _on_event(self, channel: str, event: Event) -> None:
        """The bus subscriber: runs on the publishing thread, so it only appends."""
        inbox = self._inbox
        if len(inbox) < self.inbox_max:
            inbox.append((channel, event))
            if self._sleeping:
                self._sleeping = False
                loop, wake = self._loop, self._wake
                if loop is not None and wake is not None:
                    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                        loop.call_soon_threadsafe(wake.set)
            return
        with self._overflow_lock:
            self.intake_dropped += 1
            self._overflow_n += 1
            if len(self._overflow_channels) < GAP_STOCKS_MAX:
                self._overflow_channels.add(channel)

    # ------------------------------------------------------------------ the loop side
    async def _drain(self, wake: asyncio.Event) -> None:
        while True:
            if not self._inbox and not self._overflow_n:
                wake.clear()
                self._sleeping = True
                if not self._inbox:
                    await wake.wait()
                self._sleeping = False
            try:
                self._absorb()
            except Exception:  # a bad event must not stop the stream
                log.exception("bus_stream_absorb_failed")
            await asyncio.sleep(0)

    def _absorb(self, limit: int = 1000) -> None:
        """Take published messages into the ring (seq, JSON) and wake the subscribers."""
        inbox = self._inbox
        n = 0
        while inbox and n < limit:
            channel, event = inbox.popleft()
            n += 1
            kind, code = split_channel(channel)
            seq = self.head + 1
            frame = orjson.dumps({"type": "event", "seq": seq, "channel": channel, "data": event})
            self._append(_Entry(seq, kind, code, frame))
            self._kinds_seen.add(kind)
            if code is not None:
                self._stocks_seen.add(code)
                if kind == "book":
                    self._books[code] = (seq, orjson.dumps(event))
                elif kind == "tick":
                    self._quoted.add(code)
        if self._overflow_n:
            self._append_overflow_gap()
        if n or self._subs:
            for sub in list(self._subs):
                # slow = its socket takes no more while it is max_lag behind (a sender that
                # merely has not had its turn yet is not slow), or it fell out of the ring
                lag = self.head - sub.cursor + 1
                if (sub.blocked and lag > self.max_lag) or sub.cursor < self.first:
                    self._drop(sub, f"slow subscriber: {lag} messages behind (max {self.max_lag})")
                else:
                    sub.wake.set()

    def _append(self, entry: _Entry) -> None:
        cap = self.capacity
        ring = self._ring
        self.head = entry.seq
        old = ring[entry.seq % cap]
        if old is not None:
            self._ring_bytes -= len(old.frame)
        ring[entry.seq % cap] = entry
        self._ring_bytes += len(entry.frame)
        self.first = max(self.first, entry.seq - cap + 1)
        while self._ring_bytes > self.buffer_bytes and self.first < entry.seq:
            gone = ring[self.first % cap]
            if gone is not None:
                self._ring_bytes -= len(gone.frame)
                ring[self.first % cap] = None
            self.first += 1

    def _append_overflow_gap(self) -> None:
        with self._overflow_lock:
            n, channels = self._overflow_n, self._overflow_channels
            self._overflow_n, self._overflow_channels = 0, set()
        kinds: set[str] = set()
        stocks: set[str] = set()
        for ch in channels:
            kind, code = split_channel(ch)
            kinds.add(kind)
            if code is not None:
                stocks.add(code)
        seq = self.head + 1
        gap = {
            "type": "gap",
            "reason": "overflow",
            "seq": seq,
            "epoch": self.epoch,
            "from_seq": None,
            "to_seq": None,
            "count": n,
            "channels": sorted(kinds),
            "stocks": sorted(stocks) if len(channels) < GAP_STOCKS_MAX else None,
        }
        log.warning("bus_stream_intake_overflow dropped=%d", n)
        self._append(_Entry(seq, "gap", None, orjson.dumps(gap)))

    def _drop(self, sub: _Subscriber, reason: str, *, code: int = CLOSE_SLOW) -> None:
        """Stop serving ``sub`` (on the loop): its sender is cancelled wherever it waits
        (a send blocked on a full socket included) and the socket closed with ``code``."""
        if sub.drop_reason is not None:
            return
        sub.drop_reason = reason
        sub.close_code = code
        self._subs.discard(sub)
        sub.wake.set()
        if sub.task is not None:
            sub.task.cancel()
        if code == CLOSE_SLOW:
            self.subscribers_dropped += 1
            self.drops.append({"time": time.time(), "peer": sub.peer, "reason": reason})
            log.warning("bus_stream_subscriber_dropped peer=%s reason=%s", sub.peer, reason)

    # ------------------------------------------------------------------ subscribers
    def _placement(
        self, sub_epoch: str | None, since: int | None, kinds: frozenset[str], stocks: Any
    ) -> tuple[int, dict[str, Any] | None]:
        """Where a new subscriber starts and the gap it is told about (None: no loss)."""
        head = self.head
        # resume no further back than half the allowed lag: a replaying subscriber must
        # not be dropped as slow by the next message
        first = max(self.first, head - self.max_lag // 2 + 1)
        if since is None:
            return head + 1, None  # a fresh subscriber: the snapshot, then live
        may = {
            "type": "gap",
            "epoch": self.epoch,
            "count": None,
            "channels": sorted(k for k in kinds if k in self._kinds_seen),
            "stocks": self._stocks_affected(stocks),
            "prev_epoch": None,
            "prev_seq": None,
        }
        if sub_epoch is not None and sub_epoch != self.epoch:
            # the hub restarted: the old epoch's tail is lost; of this one, whatever the
            # ring no longer holds
            lost_here = first > 1
            return first, {
                **may,
                "reason": "epoch_changed",
                "prev_epoch": sub_epoch,
                "prev_seq": since,
                "from_seq": 1 if lost_here else None,
                "to_seq": first - 1 if lost_here else None,
                "count": first - 1 if lost_here else None,
            }
        if since > head:  # a position this epoch never reached: start afresh
            return head + 1, {**may, "reason": "expired", "from_seq": None, "to_seq": None}
        if since + 1 >= first:
            return since + 1, None  # everything after it is still here
        return first, {
            **may,
            "reason": "expired",
            "from_seq": since + 1,
            "to_seq": first - 1,
            "count": first - 1 - since,
        }

    def _stocks_affected(self, stocks: frozenset[str] | None) -> list[str] | None:
        seen = self._stocks_seen if stocks is None else self._stocks_seen & stocks
        return sorted(seen) if len(seen) <= GAP_STOCKS_MAX else None

    def _snapshot(self, sub: _Subscriber) -> bytes:
        """The latest quote and book per stock for ``sub``, as of its position."""
        pos = sub.cursor - 1
        books: dict[str, Any] = {}
        if "book" in sub.kinds:
            for code, (seq, raw) in self._books.items():
                # a newer book than the position follows in the stream anyway
                if seq <= pos and (sub.stocks is None or code in sub.stocks):
                    books[code] = orjson.Fragment(raw)
        quotes: dict[str, Any] = {}
        bus = self._bus
        if bus is not None and "tick" in sub.kinds:
            codes = self._quoted if sub.stocks is None else self._quoted & sub.stocks
            for code in sorted(codes):
                # this process's own quotes: never a Redis round trip on the loop (a
                # RedisBus's get_quote falls back to Redis for a stock it does not have)
                q = InProcessBus.get_quote(bus, code)
                if q is not None:
                    quotes[code] = q
        doc = {"type": "snapshot", "epoch": self.epoch, "seq": pos, "quotes": quotes}
        doc["books"] = books
        return orjson.dumps(doc)

    async def serve(self, ws: WebSocket) -> None:
        """The ``/bus/stream`` endpoint."""
        origin = ws.headers.get("origin")
        if (
            origin is not None
            and self.origin_hosts is not None
            and urlsplit(origin).hostname not in self.origin_hosts
        ):
            # a page on another site must not read the hub (browsers send Origin on WS)
            await ws.close(code=CLOSE_POLICY, reason="origin not allowed")
            return
        try:
            sub_epoch, since, kinds, stocks = _parse_query(ws.query_params)
        except ValueError as exc:
            await ws.close(code=CLOSE_POLICY, reason=str(exc)[:120])
            return
        if self._loop is None:
            await ws.close(code=CLOSE_GOING_AWAY, reason="the stream is not running")
            return
        await ws.accept()
        client = ws.client
        peer = f"{client.host}:{client.port}" if client else "?"
        cursor, gap = self._placement(sub_epoch, since, kinds, stocks)
        sub = _Subscriber(ws, peer, kinds, stocks, cursor)
        self.connects += 1
        hello = {
            "type": "hello",
            "epoch": self.epoch,
            "position": cursor - 1,
            "head": self.head,
            "first": self.first,
        }
        lines = [orjson.dumps(hello)]
        if gap is not None:
            lines.append(orjson.dumps(gap))
            log.info("bus_stream_resume_gap peer=%s reason=%s since=%s", peer, gap["reason"], since)
        replay_to = self.head  # the snapshot follows the replay up to here
        if cursor > replay_to:
            lines.append(self._snapshot(sub))
        self._subs.add(sub)
        sender = asyncio.create_task(self._send(sub, b"\n".join(lines), replay_to))
        sub.task = sender
        reader = asyncio.create_task(_until_disconnect(ws))
        try:
            await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._subs.discard(sub)
            for t in (sender, reader):
                t.cancel()
            for t in (sender, reader):
                with contextlib.suppress(BaseException):
                    await t
        if sub.drop_reason is not None:
            # the close frame queues behind what the socket still holds; a peer that never
            # reads again does not get it, and its connection ends with the transport
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    ws.close(code=sub.close_code, reason=sub.drop_reason[:120]),
                    self.close_timeout_s,
                )

    async def _send(self, sub: _Subscriber, opening: bytes, replay_to: int) -> None:
        """Sends ``sub`` its opening lines, the replay up to ``replay_to`` and the snapshot
        after it, then every new message it wants; a heartbeat after a quiet second."""
        ws = sub.ws
        await ws.send_bytes(opening)
        snapshot_due = sub.cursor <= replay_to
        last_sent = time.monotonic()
        cap = self.capacity
        ring = self._ring
        while sub.drop_reason is None:
            if sub.cursor > self.head:  # caught up: wait for news or the heartbeat
                sub.wake.clear()
                quiet = self.heartbeat_s - (time.monotonic() - last_sent)
                if quiet > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(sub.wake.wait(), quiet)
                    continue
                await ws.send_bytes(orjson.dumps({"type": "heartbeat", "seq": sub.cursor - 1}))
                last_sent = time.monotonic()
                continue
            if sub.cursor < self.first:
                return  # fell out of the ring: _absorb drops it
            frames: list[bytes] = []
            size = 0
            while sub.cursor <= self.head and size < self.batch_bytes:
                e = ring[sub.cursor % cap]
                sub.cursor += 1
                if e is not None and sub.wants(e.kind, e.code):
                    frames.append(e.frame)
                    size += len(e.frame)
                if snapshot_due and sub.cursor > replay_to:
                    frames.append(self._snapshot(sub))
                    snapshot_due = False
                    break
            if frames:
                sub.blocked = True  # (a send to a socket that takes it does not suspend)
                await ws.send_bytes(b"\n".join(frames))
                sub.blocked = False
                sub.sent += len(frames)
                last_sent = time.monotonic()
            else:
                await asyncio.sleep(0)  # all filtered out: let the loop breathe

    def close_subscribers(self, reason: str = "closed by the hub") -> int:
        """Close every subscriber's connection (they reconnect and resume); for tests and
        operators. Returns how many."""
        subs = list(self._subs)
        for sub in subs:
            self._drop(sub, reason, code=CLOSE_GOING_AWAY)
        return len(subs)

    def stats(self) -> dict[str, Any]:
        """The stream's state for ``/api/status``."""
        return {
            "epoch": self.epoch,
            "head": self.head,
            "first": self.first,
            "buffer_bytes": self._ring_bytes,
            "subscribers": [
                {"peer": s.peer, "position": s.cursor - 1, "lag": self.head - s.cursor + 1}
                for s in list(self._subs)
            ],
            "connects": self.connects,
            "subscribers_dropped": self.subscribers_dropped,
            "recent_drops": list(self.drops),
            "intake_dropped": self.intake_dropped,
            "inbox": len(self._inbox),
        }


async def _until_disconnect(ws: WebSocket) -> None:
    """Reads until the client goes (it sends nothing; the server answers its pings)."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return


def _parse_query(
    q: Any,
) -> tuple[str | None, int | None, frozenset[str], frozenset[str] | None]:
    epoch = q.get("epoch") or None
    if epoch is not None and len(epoch) > 64:
        raise ValueError("epoch: too long")
    since_raw = q.get("since")
    since: int | None = None
    if since_raw not in (None, ""):
        if not since_raw.isdigit() or len(since_raw) > 18:
            raise ValueError("since: not a sequence number")
        since = int(since_raw)
    channels_raw = q.get("channels")
    kinds = frozenset(KINDS)
    if channels_raw:
        kinds = frozenset(c.strip() for c in channels_raw.split(",") if c.strip())
        unknown = kinds - set(KINDS)
        if unknown:
            raise ValueError(f"channels: unknown {sorted(unknown)[:3]}; known {list(KINDS)}")
    stocks_raw = q.get("stocks")
    stocks: frozenset[str] | None = None
    if stocks_raw:
        stocks = frozenset(c.strip() for c in stocks_raw.split(",") if c.strip())
        if len(stocks) > MAX_FILTER_STOCKS:
            raise ValueError(f"stocks: at most {MAX_FILTER_STOCKS}")
        bad = [c for c in stocks if not _CODE_RE.match(c)]
        if bad:
            raise ValueError(f"stocks: not a stock code: {bad[0][:10]!r}")
    return epoch, since, kinds, stocks


def bus_stream_router(
    get_bus: Callable[[FastAPI], InProcessBus],
    *,
    origin_hosts: Iterable[str] | None = None,
    path: str = STREAM_PATH,
    **options: Any,
) -> APIRouter:
    """An APIRouter serving ``get_bus(app)`` at ``path``; its lifespan (run inside the
    app's, after the bus exists) starts the :class:`BusStream` and keeps it in
    ``app.state.bus_stream``. ``options`` go to :class:`BusStream`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stream = BusStream(origin_hosts=origin_hosts, **options)
        await stream.start(get_bus(app))
        app.state.bus_stream = stream
        try:
            yield
        finally:
            await stream.stop()

    router = APIRouter(lifespan=lifespan)

    @router.websocket(path)
    async def bus_stream(websocket: WebSocket) -> None:
        """Every event of the bus, with resume, gaps and snapshots (module docstring)."""
        stream: BusStream = websocket.app.state.bus_stream
        await stream.serve(websocket)

    return router


__all__ = ["CLOSE_SLOW", "PREFIX", "STREAM_PATH", "BusStream", "bus_stream_router"]
