"""Following the hub's bus from another process: one interface, two transports.

* :class:`StreamFollower` — the hub's WebSocket stream (:mod:`gslts_common.bus_stream`),
  when there is no Redis: resumes after a reconnect from its last ``seq`` with nothing
  lost while the hub still holds it, else is told the gap.
* :class:`RedisFollower` — Redis pub/sub (the hub's :class:`~gslts_common.bus.RedisBus`):
  pub/sub cannot resume, so after any reconnect it reports a ``gap`` and takes the latest
  quotes and books from the keys; it also tells a restarted hub (new epoch) and the drops
  the hub announces.

Both call every subscriber ``fn(channel, event)`` on their own thread, in the order the hub
published: the bus's channels and events (:mod:`gslts_common.bus`), plus ``gslts:gap``
(what may have been missed) and ``gslts:snapshot`` (latest quote and book per stock) after
every (re)subscribe. A subscriber must be quick (hand the event to a queue): a follower
whose subscribers lag is dropped by the hub (stream) or by Redis (its output buffer
limit), then reconnects and is told what it missed. :func:`make_follower` picks the
transport the way the hub picks its bus (Redis when ``REDIS_URL`` is set).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from gslts_common.bus import (
    BOOK_CHANNEL,
    CANDLE_CHANNEL,
    CONTROL_CHANNEL,
    EPOCH_KEY,
    GAP_CHANNEL,
    KINDS,
    LASTBOOK_KEY,
    ORDER_CHANNEL,
    PREFIX,
    QUOTE_KEY,
    SNAPSHOT_CHANNEL,
    TICK_CHANNEL,
    VI_CHANNEL,
    Event,
    Subscriber,
)
from gslts_common.bus_stream import CLOSE_SLOW, STREAM_PATH

log = logging.getLogger(__name__)

_CHANNEL_OF_KIND = {
    "tick": TICK_CHANNEL,
    "book": BOOK_CHANNEL,
    "candle": CANDLE_CHANNEL,
    "order": ORDER_CHANNEL,
    "vi": VI_CHANNEL,
}


class Follower:
    """What both transports share: subscribers, the filter, state, the thread.

    Args:
        channels: kinds to receive (``tick``, ``book``, ``candle``, ``order``, ``vi``);
            None = all.
        stocks: stock codes to receive ``tick``/``book``/``candle`` of; None = every stock.
        reconnect_max_s: the wait between reconnect attempts doubles up to this.
        name: the thread's name (and the Redis client name).
    """

    transport = "?"

    def __init__(
        self,
        *,
        channels: Iterable[str] | None = None,
        stocks: Iterable[str] | None = None,
        reconnect_max_s: float = 5.0,
        name: str = "bus-follow",
    ) -> None:
        self.kinds = frozenset(KINDS if channels is None else channels)
        unknown = self.kinds - set(KINDS)
        if unknown:
            raise ValueError(f"unknown channels {sorted(unknown)}; known {list(KINDS)}")
        self.stocks = None if stocks is None else frozenset(stocks)
        self.reconnect_max_s = reconnect_max_s
        self.name = name
        self._subs: list[Subscriber] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: True while subscribed (after the hub's hello / Redis's confirmations)
        self.connected = False
        #: the publisher's epoch as last seen
        self.epoch: str | None = None
        self.received = 0
        self.gaps = 0
        self.snapshots = 0
        self.connects = 0
        self.subscriber_errors = 0
        self.last_error: str | None = None
        self.last_gap: Event | None = None
        self.last_event_at: float | None = None

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(channel, event)`` for every event, gap and snapshot; returns the
        unsubscriber."""
        with self._lock:
            self._subs = [*self._subs, fn]

        def remove() -> None:
            with self._lock:
                self._subs = [s for s in self._subs if s is not fn]

        return remove

    def start(self) -> None:
        """Connect (and keep reconnecting) on a thread of its own."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop following (joins the thread)."""
        self._stop.set()
        self._interrupt()
        t, self._thread = self._thread, None
        if t is not None:
            t.join(timeout=10)
        self.connected = False

    def stats(self) -> dict[str, Any]:
        """The follower's state, for a service's ``/api/health``."""
        return {
            "transport": self.transport,
            "connected": self.connected,
            "epoch": self.epoch,
            "received": self.received,
            "gaps": self.gaps,
            "snapshots": self.snapshots,
            "connects": self.connects,
            "last_event_age_s": None
            if self.last_event_at is None
            else round(time.monotonic() - self.last_event_at, 3),
            "last_gap": self.last_gap,
            "last_error": self.last_error,
            "subscriber_errors": self.subscriber_errors,
        }

    # ------------------------------------------------------------------ for subclasses
    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._follow()
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                log.info("bus_follow_disconnected transport=%s error=%s", self.transport,
                         self.last_error)  # fmt: skip
            finally:
                self.connected = False
            if time.monotonic() - started > 10:
                backoff = 0.1  # it was up a while: retry at once
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, self.reconnect_max_s)

    def _follow(self) -> None:
        """Connect, subscribe and deliver until the connection ends (raise) or stop."""
        raise NotImplementedError

    def _interrupt(self) -> None:
        """Make a blocked ``_follow`` return (called by :meth:`close`)."""

    def _deliver(self, channel: str, event: Event) -> None:
        for fn in self._subs:
            try:
                fn(channel, event)
            except Exception:
                self.subscriber_errors += 1
                log.exception("bus_follow_subscriber_failed channel=%s", channel)

    def _event(self, channel: str, event: Event) -> None:
        self.received += 1
        self.last_event_at = time.monotonic()
        self._deliver(channel, event)

    def _gap(self, gap: Event) -> None:
        self.gaps += 1
        self.last_gap = gap
        log.warning(
            "bus_follow_gap transport=%s reason=%s from=%s to=%s count=%s",
            self.transport,
            gap.get("reason"),
            gap.get("from_seq"),
            gap.get("to_seq"),
            gap.get("count"),
        )
        self._deliver(GAP_CHANNEL, gap)

    def _snapshot(self, snap: Event) -> None:
        self.snapshots += 1
        self._deliver(SNAPSHOT_CHANNEL, snap)


class StreamFollower(Follower):
    """Follows the hub's ``/bus/stream`` (no Redis), resuming after every reconnect.

    Args:
        hub_url: the hub's base URL (``http://127.0.0.1:8001``; ``ws://`` works too).
        resume: ``(epoch, seq)`` to start after (a restarted subscriber that saved its
            :attr:`position`); None = live from now on, with a snapshot.
        dead_after_s: a connection silent this long (the hub sends a heartbeat every
            second) is given up and reopened.
        others: see :class:`Follower`.
    """

    transport = "stream"

    def __init__(
        self,
        hub_url: str,
        *,
        resume: tuple[str, int] | None = None,
        dead_after_s: float = 10.0,
        channels: Iterable[str] | None = None,
        stocks: Iterable[str] | None = None,
        reconnect_max_s: float = 5.0,
        name: str = "bus-stream-follow",
    ) -> None:
        super().__init__(
            channels=channels, stocks=stocks, reconnect_max_s=reconnect_max_s, name=name
        )
        parts = urlsplit(hub_url)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        path = parts.path.rstrip("/") + STREAM_PATH
        self._base = urlunsplit((scheme, parts.netloc, path, "", ""))
        self.dead_after_s = dead_after_s
        #: the last seq processed (events, gaps, heartbeats) in :attr:`epoch`
        self.seq: int | None = None
        if resume is not None:
            self.epoch, self.seq = resume
        #: times the hub closed the stream for being slow (close 4000)
        self.dropped_slow = 0
        self.last_close: tuple[int, str] | None = None
        self._ws: Any = None

    @property
    def position(self) -> tuple[str, int] | None:
        """``(epoch, seq)`` to resume after (save it to resume in a new process)."""
        return None if self.epoch is None or self.seq is None else (self.epoch, self.seq)

    def url(self) -> str:
        """The stream URL for the next connect (resuming after :attr:`position`)."""
        q: dict[str, str] = {}
        if self.epoch is not None and self.seq is not None:
            q["epoch"], q["since"] = self.epoch, str(self.seq)
        if self.kinds != frozenset(KINDS):
            q["channels"] = ",".join(sorted(self.kinds))
        if self.stocks is not None:
            q["stocks"] = ",".join(sorted(self.stocks))
        return self._base + ("?" + urlencode(q, safe=",") if q else "")

    def _follow(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(
            self.url(),
            open_timeout=5,
            ping_interval=10,
            ping_timeout=30,
            close_timeout=2,
            max_size=64 * 2**20,
            compression=None,
            proxy=None,
        ) as ws:
            self._ws = ws
            try:
                self._read(ws)
            except ConnectionClosed as exc:
                rcvd = exc.rcvd
                if rcvd is not None:
                    self.last_close = (rcvd.code, rcvd.reason)
                    if rcvd.code == CLOSE_SLOW:
                        self.dropped_slow += 1
                        log.warning("bus_follow_dropped_as_slow reason=%s", rcvd.reason)
                if not self._stop.is_set():
                    raise
            finally:
                self._ws = None

    def _read(self, ws: Any) -> None:
        while not self._stop.is_set():
            try:
                raw = ws.recv(timeout=self.dead_after_s)
            except TimeoutError:
                raise TimeoutError(f"no message from the hub in {self.dead_after_s:g} s") from None
            data = raw if isinstance(raw, bytes) else raw.encode()
            for line in data.split(b"\n"):
                if line:
                    self._handle(orjson.loads(line))

    def _interrupt(self) -> None:
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()

    def _handle(self, msg: dict[str, Any]) -> None:
        tp = msg.get("type")
        if tp == "event":
            self.seq = msg["seq"]
            self._event(msg["channel"], msg["data"])
        elif tp == "heartbeat":
            self.seq = max(self.seq or 0, msg["seq"])
        elif tp == "hello":
            if self.epoch is not None and self.epoch != msg["epoch"]:
                log.info("bus_follow_new_epoch old=%s new=%s", self.epoch, msg["epoch"])
            self.epoch = msg["epoch"]
            self.seq = msg["position"]
            self.connected = True
            self.connects += 1
            self.last_error = None
        elif tp == "gap":
            if msg.get("seq") is not None:
                self.seq = msg["seq"]
            self._gap(msg)
        elif tp == "snapshot":
            self._snapshot(msg)


class RedisFollower(Follower):
    """Follows the hub's bus through Redis pub/sub (``REDIS_URL`` set).

    Args:
        url: ``redis://…`` (the hub's).
        prefix: the hub's ``HUB_BUS_PREFIX``.
        timeout_s: Redis connect/read timeout.
        others: see :class:`Follower`.
    """

    transport = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = PREFIX,
        timeout_s: float = 5.0,
        channels: Iterable[str] | None = None,
        stocks: Iterable[str] | None = None,
        reconnect_max_s: float = 5.0,
        name: str = "bus-redis-follow",
    ) -> None:
        super().__init__(
            channels=channels, stocks=stocks, reconnect_max_s=reconnect_max_s, name=name
        )
        self.url = url
        self.prefix = prefix
        self.timeout_s = timeout_s
        #: set when redis-py reconnected underneath us (it resubscribes silently)
        self._reconnected = False
        self._redis: Any = None

    def _key(self, key: str) -> str:
        return self.prefix + key[len(PREFIX) :]

    def _targets(self) -> tuple[list[str], list[str]]:
        """(channels, patterns) to subscribe to for the filter; the control channel too."""
        channels = [self._key(CONTROL_CHANNEL)]
        patterns: list[str] = []
        for kind in sorted(self.kinds):
            base = self._key(_CHANNEL_OF_KIND[kind])
            if kind == "order":
                channels.append(base)
            elif self.stocks is None:
                patterns.append(base + "*")
            else:
                channels += [base + code for code in sorted(self.stocks)]
        return channels, patterns

    def _follow(self) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        r = redis.Redis.from_url(
            self.url,
            socket_timeout=self.timeout_s,
            socket_connect_timeout=self.timeout_s,
            health_check_interval=5,
            retry=Retry(NoBackoff(), 0),
            client_name=self.name,
        )
        self._redis = r
        ps: Any = r.pubsub(ignore_subscribe_messages=False)  # type: ignore[no-untyped-call]
        try:
            channels, patterns = self._targets()
            ps.subscribe(*channels)
            if patterns:
                ps.psubscribe(*patterns)
            ps.connection.register_connect_callback(self._on_reconnect)
            was = self.connects > 0
            self._confirm(ps, len(channels) + len(patterns))
            # (a failed read of the previous connection may have reconnected it, flagging
            # this; that connection is gone)
            self._reconnected = False
            self._subscribed(r, "reconnected" if was else None)
            own = len(self.prefix)
            while not self._stop.is_set():
                msg = ps.get_message(timeout=1.0)
                if self._reconnected:  # redis-py reconnected and resubscribed by itself
                    self._reconnected = False
                    self.connected = False
                    n = len(channels) + len(patterns)
                    if msg is not None and msg["type"] in ("subscribe", "psubscribe"):
                        n -= 1
                    self._confirm(ps, n)
                    self._subscribed(r, "reconnected")
                    continue
                if msg is None or msg["type"] not in ("message", "pmessage"):
                    continue
                channel = msg["channel"].decode()
                data = orjson.loads(msg["data"])
                if channel == channels[0]:
                    self._control(r, data)
                else:
                    self._event(PREFIX + channel[own:], data)
        finally:
            self._redis = None
            with contextlib.suppress(Exception):
                ps.close()
            with contextlib.suppress(Exception):
                r.close()

    def _on_reconnect(self, _connection: Any) -> None:
        self._reconnected = True

    def _interrupt(self) -> None:
        pass  # the loop wakes every second to look at the stop flag

    def _confirm(self, ps: Any, n: int) -> None:
        """Wait for the ``n`` subscribe confirmations: from then on nothing is missed, so
        the snapshot read after them cannot miss an update."""
        deadline = time.monotonic() + self.timeout_s * 2
        while n > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("Redis did not confirm the subscriptions")
            msg = ps.get_message(timeout=0.5)
            if msg is not None and msg["type"] in ("subscribe", "psubscribe"):
                n -= 1

    def _subscribed(self, r: Any, reason: str | None) -> None:
        """Subscribed (again): the epoch, the gap (after a reconnect), then the snapshot."""
        raw = r.get(self._key(EPOCH_KEY))
        epoch = None if raw is None else raw.decode()
        if reason is not None:
            restarted = epoch is not None and self.epoch is not None and epoch != self.epoch
            self._gap(
                self._may_have_missed(
                    "publisher_restarted" if restarted else "reconnected",
                    prev_epoch=self.epoch if restarted else None,
                    epoch=epoch,
                )
            )
        self.epoch = epoch
        self.connected = True
        self.connects += 1
        self.last_error = None
        self._snapshot(self._read_snapshot(r))

    def _may_have_missed(
        self, reason: str, *, prev_epoch: str | None = None, epoch: str | None = None
    ) -> Event:
        return {
            "type": "gap",
            "reason": reason,
            "epoch": epoch if epoch is not None else self.epoch,
            "from_seq": None,
            "to_seq": None,
            "prev_epoch": prev_epoch,
            "prev_seq": None,
            "count": None,
            "channels": sorted(self.kinds),
            "stocks": None if self.stocks is None else sorted(self.stocks),
        }

    def _control(self, r: Any, msg: dict[str, Any]) -> None:
        tp = msg.get("type")
        if tp == "hello":
            if msg.get("epoch") != self.epoch:
                prev, self.epoch = self.epoch, msg.get("epoch")
                if prev is not None:
                    self._gap(self._may_have_missed("publisher_restarted", prev_epoch=prev))
                    self._snapshot(self._read_snapshot(r))
        elif tp == "gap":  # the hub dropped messages: the part this follower wanted
            kinds = set(msg.get("channels") or ()) & self.kinds
            stocks = msg.get("stocks")
            if self.stocks is not None and stocks is not None:
                stocks = sorted(set(stocks) & self.stocks)
                if not stocks:
                    kinds &= {"order"}  # none of its stocks: only the account's events
            if kinds:
                self._gap({**msg, "channels": sorted(kinds), "stocks": stocks})
                self._snapshot(self._read_snapshot(r))

    def _read_keys(self, r: Any, base: str) -> dict[str, Any]:
        prefix = self._key(base)
        if self.stocks is not None:
            keys = [prefix + c for c in sorted(self.stocks)]
        else:
            keys = [k.decode() for k in r.scan_iter(match=prefix + "*", count=1000)]
        out: dict[str, Any] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            for key, raw in zip(chunk, r.mget(chunk), strict=True):
                if raw is not None:
                    out[key[len(prefix) :]] = orjson.loads(raw)
        return out

    def _read_snapshot(self, r: Any) -> Event:
        return {
            "type": "snapshot",
            "epoch": self.epoch,
            "seq": None,
            "quotes": self._read_keys(r, QUOTE_KEY) if "tick" in self.kinds else {},
            "books": self._read_keys(r, LASTBOOK_KEY) if "book" in self.kinds else {},
        }


def make_follower(
    *,
    redis_url: str | None,
    hub_url: str,
    prefix: str = PREFIX,
    channels: Iterable[str] | None = None,
    stocks: Iterable[str] | None = None,
    name: str = "bus-follow",
) -> Follower:
    """Redis when ``redis_url`` is set (the hub then publishes there), else the hub's
    stream at ``hub_url``."""
    if redis_url:
        return RedisFollower(redis_url, prefix=prefix, channels=channels, stocks=stocks, name=name)
    return StreamFollower(hub_url, channels=channels, stocks=stocks, name=name)


__all__ = ["Follower", "RedisFollower", "StreamFollower", "make_follower"]
