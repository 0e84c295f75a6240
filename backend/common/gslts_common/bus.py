"""Fan-out of live market data from the hub to the backend and the monitoring page.

Two implementations of one publishing interface (:class:`Bus`), each with a way for
*another process* to follow it (``docs/bus.md`` tells the whole story):

* :class:`RedisBus` (``REDIS_URL`` set): Redis pub/sub channels and latest-quote keys (below).
  Publishing never blocks the socket thread: messages go into a bounded queue drained by
  one publisher thread; when Redis is slow or down the queue fills and messages are
  **dropped and counted** (``dropped``) — the journal, not the bus, is the durable path;
  the drop is announced on the control channel once Redis answers again. Another process
  follows it with :class:`gslts_common.bus_follow.RedisFollower`.
* :class:`InProcessBus` (no Redis): subscribers registered in-process receive every event
  ``fn(channel, event)`` synchronously (they must be quick, e.g. put into an asyncio
  queue; an event must not be changed after it is published). The channel names and event
  dicts are exactly what Redis carries (as JSON). The hub serves it to other processes as
  a WebSocket stream (:mod:`gslts_common.bus_stream`, ``/bus/stream``), followed with
  :class:`gslts_common.bus_follow.StreamFollower`.

Payloads are small JSON objects (orjson) with domain field names, never Kiwoom's. Every
bus has an ``epoch``: an id that is new each time the publishing process starts.

Message format (``<prefix>`` is ``HUB_BUS_PREFIX``, default ``gslts:``)
-----------------------------------------------------------------------

``<prefix>tick:<code>`` (pub/sub) — **every** trade of the stock, batched: one message per
stock per received batch (the WebSocket frames of one socket read; one per stock per gap
backfill), never one per trade. Columnar: the arrays are parallel, index *i* of each is
trade *i*, oldest first::

    {"code": "005930",            # stock code
     "source": "live",            # "live" (0B 주식체결) or "backfill" (ka10079 gap fill)
     "n": 3,                      # number of trades = length of every array
     "venue": ["KRX", ...],       # "KRX" / "NXT"
     "trade_date": ["2026-03-03", ...],  # KST trading day (ISO date)
     "time": [1772496000.0, ...],  # trade time, epoch seconds (0B carries whole seconds)
     "price": [70000, ...],       # KRW
     "volume": [12, -3, ...],     # signed: + buy-initiated, - sell-initiated (backfill: +)
     "cum_volume": [...],         # day's cumulative volume after the trade (per venue)
     "cum_value": [...],          # day's cumulative value, KRW million (백만원)
     "best_ask": [...],           # best ask/bid after the trade (null for backfill)
     "best_bid": [...]}

A trade is identified by ``(code, venue, trade_date, cum_volume)`` — the same key as the
``tick_data`` table — so a consumer can de-duplicate against stored history. Live batches
of one stock arrive in order; a backfill batch arrives later and holds older trades.

``<prefix>quote:<code>`` (string key, TTL 1 day) — the stock's latest live trade, updated
once per batch: ``{"code", "venue", "price", "volume", "cum_volume", "cum_value",
"time", "base_price", "open", "high", "low"}`` with ``time`` an ISO-8601 KST timestamp and
``base_price`` the 기준가 (the trade's price less its change versus the previous close,
FID 11); the last four are absent from hubs before 2026-12-04.

``<prefix>book:<code>`` (pub/sub) — the stock's newest 10-level book (0D 주식호가잔량),
at most every ``HUB_BOOK_PUBLISH_S`` (0.1 s; the newest always follows): ``{"code",
"venue", "time" (ISO), "asks": [[price, qty] × 10], "bids": [...], "total_ask",
"total_bid", "expected_price", "expected_qty"}``; ``asks[0]``/``bids[0]`` are the best
levels; the expected crossing price / quantity (FID 23/24) are set while a call auction
collects orders (동시호가) and ``null`` otherwise.

``<prefix>candle:<code>`` (pub/sub) — each closed 1-minute candle: ``{"code", "interval",
"start" (ISO), "open", "high", "low", "close", "volume", "closed": true}``.

``<prefix>vi:<code>`` (pub/sub) — a volatility interruption of the stock triggered or
released (1h VI발동/해제), the hub's state after it: ``{"code", "active", "kind" (정적 /
동적 / 정적+동적), "trigger_price", "triggered_at", "release_at" (ISO KST; announced while
active), "count", "direction" ("up" / "down" / "")}``. Not in a follower's snapshot.

``<prefix>order`` (pub/sub) — order/fill (00 주문체결) and balance (04 잔고) events of the
account: the event's fields plus ``"kind": "order" | "balance"``.

Redis only: ``<prefix>lastbook:<code>`` (string key, TTL as quotes) — the newest published
book, for a follower's snapshot; ``<prefix>epoch`` (string key) — the publisher's epoch;
``<prefix>control`` (pub/sub) — ``{"type": "hello", "epoch"}`` when a publisher starts
and ``{"type": "gap", "reason": "publisher_dropped", "epoch", "count", "channels",
"stocks"}`` after it had to drop messages (queue full, Redis away).

What a follower delivers
------------------------

A follower (:mod:`gslts_common.bus_follow`, either transport) calls ``fn(channel, event)``
with the channel names above (always with the ``gslts:`` prefix, whatever
``HUB_BUS_PREFIX`` is) and the same event dicts, in publish order, plus two channels of
its own:

``gslts:gap`` — it may have missed events::

    {"type": "gap",
     "reason": "expired",        # stream: the resume point left the server's buffer
                                 # "epoch_changed": the hub restarted (stream)
                                 # "overflow": the hub's stream intake overflowed
                                 # "reconnected": Redis connection lost (cannot resume)
                                 # "publisher_restarted": new epoch seen on Redis
                                 # "publisher_dropped": the hub's RedisBus dropped some
                                 # "slow": this subscriber was dropped for lagging
     "epoch": "…",               # the epoch the range below is in
     "from_seq": 1201, "to_seq": 1799,   # missed seqs, inclusive (null: unknown/none)
     "prev_epoch": "…", "prev_seq": 1200, # epoch_changed: the old epoch's tail after
                                          # prev_seq is lost
     "count": 599,               # how many, when known (else null)
     "channels": ["tick", "book"],        # kinds that may be affected
     "stocks": ["005930", …]}             # stocks that may be affected (null: any)

``gslts:snapshot`` — right after (re)subscribing (after any gap and the replay)::

    {"type": "snapshot", "epoch": "…", "seq": 1800,   # stream: state as of this seq
     "quotes": {"005930": <quote as above>, …},
     "books": {"005930": <book event as above>, …}}

The stream's own wire format (``hello``, ``event`` with its ``seq``, ``heartbeat``, close
codes) is in :mod:`gslts_common.bus_stream`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)

Event = dict[str, Any]
Subscriber = Callable[[str, Event], None]

PREFIX = "gslts:"
TICK_CHANNEL = PREFIX + "tick:"
BOOK_CHANNEL = PREFIX + "book:"
ORDER_CHANNEL = PREFIX + "order"
CANDLE_CHANNEL = PREFIX + "candle:"
VI_CHANNEL = PREFIX + "vi:"
QUOTE_KEY = PREFIX + "quote:"
#: Redis only: the newest book per stock, the publisher's epoch, control messages
LASTBOOK_KEY = PREFIX + "lastbook:"
EPOCH_KEY = PREFIX + "epoch"
CONTROL_CHANNEL = PREFIX + "control"
#: what a follower adds to the published channels (see "What a follower delivers")
GAP_CHANNEL = PREFIX + "gap"
SNAPSHOT_CHANNEL = PREFIX + "snapshot"
#: the kinds of channel a subscriber can filter on (``tick`` = ``<prefix>tick:<code>`` …)
KINDS = ("tick", "book", "candle", "order", "vi")
#: at most this many stock codes are listed in a gap notice (more: ``"stocks": null``)
GAP_STOCKS_MAX = 2000


def new_epoch() -> str:
    """An id for one run of a publisher: its start time (hex seconds) and a random part."""
    return f"{int(time.time()):x}-{secrets.token_hex(3)}"


def split_channel(channel: str, prefix: str = PREFIX) -> tuple[str, str | None]:
    """``gslts:tick:005930`` → ``("tick", "005930")``, ``gslts:order`` → ``("order", None)``."""
    kind, _, code = channel[len(prefix) :].partition(":")
    return kind, code or None


_iso_days: dict[int, str] = {}


def _iso_day(ordinal: int) -> str:
    day = _iso_days.get(ordinal)
    if day is None:
        if len(_iso_days) > 1000:
            _iso_days.clear()
        day = _iso_days[ordinal] = date.fromordinal(ordinal).isoformat()
    return day


def tick_batches(arrays: Sequence[Sequence[Any]], source: str = "live") -> dict[str, Event]:
    """Journal tick arrays (:mod:`gslts_hub.rows`) → one ``tick:<code>`` message per stock.

    Every array becomes one entry of its stock's message (order kept), so publishing the
    result publishes every trade exactly once; see the module docstring for the format.
    """
    grouped: dict[str, list[Sequence[Any]]] = {}
    for a in arrays:
        rows = grouped.get(a[0])
        if rows is None:
            grouped[a[0]] = [a]
        else:
            rows.append(a)
    return {code: tick_batch(code, rows, source) for code, rows in grouped.items()}


def tick_batch(code: str, rows: Sequence[Sequence[Any]], source: str = "live") -> Event:
    """One stock's ``tick:<code>`` message from its journal tick arrays (order kept).

    The hub calls this with the rows it already grouped per stock; the common single-row
    case skips the per-column comprehensions (their fixed cost dominates one row).
    """
    # indexes as in gslts_hub.rows: 1 venue 2 date 3 cum 4 time 5 price 6 volume
    # 7 cum_value 8 best_ask 9 best_bid
    if len(rows) == 1:
        a = rows[0]
        return {
            "code": code,
            "source": source,
            "n": 1,
            "venue": [a[1]],
            "trade_date": [_iso_day(a[2])],
            "time": [a[4]],
            "price": [a[5]],
            "volume": [a[6]],
            "cum_volume": [a[3]],
            "cum_value": [a[7]],
            "best_ask": [a[8]],
            "best_bid": [a[9]],
        }
    cols = list(zip(*rows, strict=True))
    return {
        "code": code,
        "source": source,
        "n": len(rows),
        "venue": list(cols[1]),
        "trade_date": [_iso_day(d) for d in cols[2]],
        "time": list(cols[4]),
        "price": list(cols[5]),
        "volume": list(cols[6]),
        "cum_volume": list(cols[3]),
        "cum_value": list(cols[7]),
        "best_ask": list(cols[8]),
        "best_bid": list(cols[9]),
    }


class Bus(Protocol):
    """What the hub publishes to; all methods are non-blocking."""

    dropped: int
    published: int
    epoch: str

    def publish_ticks(self, code: str, event: Event) -> None: ...
    def publish_book(self, code: str, event: Event) -> None: ...
    def publish_order_event(self, event: Event) -> None: ...
    def publish_candle(self, code: str, event: Event) -> None: ...
    def publish_vi(self, code: str, event: Event) -> None: ...
    def set_quote(self, code: str, quote: Event) -> None: ...
    def get_quote(self, code: str) -> Event | None: ...
    def subscribe(self, fn: Subscriber) -> Callable[[], None]: ...
    def close(self) -> None: ...


class InProcessBus:
    """The bus without Redis: in-process subscribers, latest quotes in a dict."""

    def __init__(self) -> None:
        self.dropped = 0
        self.published = 0
        #: new each time the publishing process starts (followers tell a restart by it)
        self.epoch = new_epoch()
        self._subs: list[Subscriber] = []
        self._quotes: dict[str, Event] = {}
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(channel, event)`` for every published event; returns the unsubscriber."""
        with self._lock:
            self._subs = [*self._subs, fn]

        def remove() -> None:
            with self._lock:
                self._subs = [s for s in self._subs if s is not fn]

        return remove

    def _emit(self, channel: str, event: Event) -> None:
        self.published += 1
        for fn in self._subs:
            try:
                fn(channel, event)
            except Exception:
                self.dropped += 1
                log.exception("bus_subscriber_failed channel=%s", channel)

    def publish_ticks(self, code: str, event: Event) -> None:
        """One stock's trades of one batch (see :func:`tick_batches` and the module doc)."""
        self._emit(TICK_CHANNEL + code, event)

    def publish_book(self, code: str, event: Event) -> None:
        self._emit(BOOK_CHANNEL + code, event)

    def publish_order_event(self, event: Event) -> None:
        self._emit(ORDER_CHANNEL, event)

    def publish_candle(self, code: str, event: Event) -> None:
        self._emit(CANDLE_CHANNEL + code, event)

    def publish_vi(self, code: str, event: Event) -> None:
        self._emit(VI_CHANNEL + code, event)

    def set_quote(self, code: str, quote: Event) -> None:
        self._quotes[code] = quote

    def get_quote(self, code: str) -> Event | None:
        return self._quotes.get(code)

    def close(self) -> None:
        self._subs = []


class RedisBus(InProcessBus):
    """Redis pub/sub + latest-quote keys, published from one background thread.

    At start it sets ``<prefix>epoch`` and says ``hello`` on ``<prefix>control`` (a
    follower tells a restarted hub by the new epoch). Messages it has to drop (queue
    full, Redis failing) are announced there as one ``gap`` once Redis takes messages
    again, naming the kinds and stocks affected.

    Args:
        url: ``redis://…``.
        queue_max: messages waiting for Redis before new ones are dropped …
        queue_max_bytes: … or bytes (a slow Redis must not grow the hub by gigabytes:
            100,000 tick batches can be hundreds of MB).
        quote_ttl_s: latest-quote (and latest-book) keys expire (a dead hub must not look
            live).
        prefix: replaces ``gslts:`` in Redis channel and key names (several installations
            or test runs on one Redis; pub/sub channels ignore the database number).
        timeout_s: Redis connect/read timeout: a slow Redis costs the publisher thread at
            most this per batch (the batch is then dropped and counted).
    """

    def __init__(
        self,
        url: str,
        *,
        queue_max: int = 100_000,
        queue_max_bytes: int = 32 * 2**20,
        quote_ttl_s: int = 86_400,
        prefix: str = PREFIX,
        timeout_s: float = 2.0,
    ) -> None:
        super().__init__()
        import redis

        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._queue: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue(queue_max)
        self._max_bytes = queue_max_bytes
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        #: latest-state keys (quotes, last books) waiting for Redis: conflated, one per
        #: key, never dropped — a snapshot must not read a stale quote because the event
        #: queue was full when the newest one came (bounded by the number of stocks)
        self._latest: dict[str, bytes] = {}
        self._ttl = quote_ttl_s
        self._prefix = prefix
        self.errors = 0
        #: False from a failed publish until one succeeds again (Redis down or slow)
        self.ok = True
        self.last_error: str | None = None
        #: messages Redis accepted (pub/sub + quote keys)
        self.redis_sent = 0
        self._in_flight = 0
        #: dropped since the last gap notice (see _lost): the count, the channels (at most
        #: GAP_STOCKS_MAX) and the kinds of those beyond (their stocks go unnamed)
        self._lost_lock = threading.Lock()
        self._lost_n = 0
        self._lost_channels: set[str] = set()
        self._lost_beyond: set[str] = set()
        self._own = self._key(PREFIX)
        self._lastbook_key = self._key(LASTBOOK_KEY)
        self._control = self._key(CONTROL_CHANNEL)
        # first in the queue: whoever reads the stream after these knows this run
        hello = orjson.dumps({"type": "hello", "epoch": self.epoch})
        with contextlib.suppress(queue.Full):  # (a tiny test queue: said again on recovery)
            for item in (
                ("set", self._key(EPOCH_KEY), self.epoch.encode()),
                ("pub", self._control, hello),
            ):
                self._queue.put_nowait(item)
                self._queued_bytes += len(item[2])
        self._thread = threading.Thread(target=self._run, name="hub-bus", daemon=True)
        self._thread.start()

    def _key(self, key: str) -> str:
        return key if self._prefix == PREFIX else self._prefix + key[len(PREFIX) :]

    def _put(self, kind: str, key: str, event: Event) -> None:
        self._put_data(kind, self._key(key), orjson.dumps(event))

    def _put_data(self, kind: str, key: str, data: bytes) -> None:
        n = len(data)
        with self._bytes_lock:
            room = self._queued_bytes + n <= self._max_bytes
            if room:
                self._queued_bytes += n
        if room:
            try:
                self._queue.put_nowait((kind, key, data))
                return
            except queue.Full:
                self._took(n)
        self._lost([(kind, key)])

    def _took(self, n: int) -> None:
        with self._bytes_lock:
            self._queued_bytes -= n

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting for Redis (bounded by ``queue_max_bytes``)."""
        return self._queued_bytes

    def _lost(self, items: Sequence[tuple[str, str]]) -> None:
        """Count dropped messages and remember the pub/sub ones for the next gap notice
        (the drop path only; from the publishing thread and the bus thread alike)."""
        with self._lost_lock:
            self.dropped += len(items)
            for kind, key in items:
                if kind != "set":  # a quote key is state, not an event: the next one heals it
                    self._lost_n += 1
                    self._note_channel(key)

    def _note_channel(self, key: str) -> None:
        """(under ``_lost_lock``) ``key`` lost a message: its channel, or past the bound
        its kind."""
        if key not in self._lost_channels:
            if len(self._lost_channels) < GAP_STOCKS_MAX:
                self._lost_channels.add(key)
            else:
                self._lost_beyond.add(split_channel(key, self._own)[0])

    def _emit(self, channel: str, event: Event) -> None:
        super()._emit(channel, event)  # in-process subscribers (monitoring page) too
        self._put("pub", channel, event)

    def publish_book(self, code: str, event: Event) -> None:
        InProcessBus._emit(self, BOOK_CHANNEL + code, event)
        # published (an event: may be dropped and told) and kept as the stock's latest
        # book (state, for a follower's snapshot: conflated, never dropped); one dump
        data = orjson.dumps(event)
        self._put_data("pub", self._key(BOOK_CHANNEL + code), data)
        self._set_latest(self._lastbook_key + code, data)

    def set_quote(self, code: str, quote: Event) -> None:
        super().set_quote(code, quote)
        self._set_latest(self._key(QUOTE_KEY + code), orjson.dumps(quote))

    def _set_latest(self, key: str, data: bytes) -> None:
        with self._bytes_lock:
            self._latest[key] = data

    def get_quote(self, code: str) -> Event | None:
        local = super().get_quote(code)
        if local is not None:
            return local
        try:
            raw = self._redis.get(self._key(QUOTE_KEY + code))
        except Exception:
            return None
        return None if raw is None else orjson.loads(raw)

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._latest:
                    self._flush([])
                if self._lost_n:  # drops after the last flush: announce them anyway
                    self._announce_drops()
                continue
            if item is None:
                return
            batch = [item]
            while len(batch) < 500:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._took(sum(len(b[2]) for b in batch))
                    self._flush(batch)
                    return
                batch.append(nxt)
            self._took(sum(len(b[2]) for b in batch))
            self._flush(batch)

    def _say_hello(self) -> None:
        with contextlib.suppress(Exception):
            self._redis.set(self._key(EPOCH_KEY), self.epoch)
            self._redis.publish(self._control, orjson.dumps({"type": "hello", "epoch": self.epoch}))

    def _announce_drops(self) -> None:
        """Publish the drops not yet announced as one ``gap`` on the control channel (kept
        for the next try when this one fails)."""
        # taken whole under the lock: a drop made while the notice is on its way belongs to
        # the next one (its count *and* its channel, even one this notice names too)
        with self._lost_lock:
            n, channels, beyond = self._lost_n, self._lost_channels, self._lost_beyond
            self._lost_n, self._lost_channels, self._lost_beyond = 0, set(), set()
        if not n:
            return
        kinds, stocks = set(beyond), set()
        for ch in channels:
            kind, code = split_channel(ch, self._own)
            kinds.add(kind)
            if code is not None:
                stocks.add(code)
        notice = {
            "type": "gap",
            "reason": "publisher_dropped",
            "epoch": self.epoch,
            "from_seq": None,
            "to_seq": None,
            "count": n,
            "channels": sorted(kinds),
            "stocks": None if beyond else sorted(stocks),
        }
        try:
            self._redis.publish(self._control, orjson.dumps(notice))
        except Exception:
            with self._lost_lock:  # back for the next try, with what was dropped meanwhile
                self._lost_n += n
                for ch in channels:
                    self._note_channel(ch)
                self._lost_beyond |= beyond
            return
        log.info("bus_redis_gap_announced count=%d", n)

    @property
    def backlog(self) -> int:
        """Messages not yet through to Redis (queued, or in the pipeline being sent)."""
        return self._queue.qsize() + self._in_flight

    def _flush(self, batch: list[tuple[str, str, bytes]]) -> None:
        self._in_flight = len(batch)
        with self._bytes_lock:
            latest, self._latest = self._latest, {}
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, data in latest.items():
                pipe.set(key, data, ex=self._ttl)
            for kind, key, data in batch:
                if kind == "pub":
                    pipe.publish(key, data)
                else:  # "set": the epoch key
                    pipe.set(key, data, ex=self._ttl)
            pipe.execute()
            self.redis_sent += len(batch) + len(latest)
            self._in_flight = 0
            if not self.ok:
                self.ok = True
                log.info("bus_redis_recovered dropped_meanwhile=%d", self.dropped)
                self._say_hello()  # in case the first one was among the dropped
        except Exception as exc:
            self._in_flight = 0
            self.errors += 1
            with self._bytes_lock:  # the state not yet replaced goes with the next flush
                for key, data in latest.items():
                    self._latest.setdefault(key, data)
            self._lost([(kind, key) for kind, key, _ in batch])
            self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            if self.ok:  # one line per state change, not one per batch
                self.ok = False
                log.warning(
                    "bus_redis_unavailable dropped=%d error=%s; live data is not published "
                    "until Redis answers (the journal and the database are unaffected)",
                    len(batch),
                    self.last_error,
                )
            return
        if self._lost_n:
            self._announce_drops()

    def close(self) -> None:
        super().close()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=3)
        self._redis.close()


def make_bus(redis_url: str | None, prefix: str = PREFIX) -> InProcessBus:
    """RedisBus (channels and keys under ``prefix``) when ``redis_url`` is set, else
    InProcessBus."""
    return RedisBus(redis_url, prefix=prefix) if redis_url else InProcessBus()
