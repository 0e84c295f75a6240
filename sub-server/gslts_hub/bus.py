"""Fan-out of live market data from the hub to the backend and the monitoring page.

Two implementations of one interface (:class:`Bus`):

* :class:`RedisBus` (``REDIS_URL`` set): pub/sub channels ``gslts:tick:<code>``,
  ``gslts:book:<code>``, ``gslts:order`` and latest-quote keys ``gslts:quote:<code>``.
  Publishing never blocks the socket thread: messages go into a bounded queue drained by
  one publisher thread; when Redis is slow or down the queue fills and messages are
  **dropped and counted** (``dropped``) — the journal, not the bus, is the durable path.
* :class:`InProcessBus` (no Redis): subscribers registered in-process receive every event
  synchronously (they must be quick, e.g. put into an asyncio queue).

Payloads are small JSON objects (orjson) with domain field names, never Kiwoom's.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
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
QUOTE_KEY = PREFIX + "quote:"


class Bus(Protocol):
    """What the hub publishes to; all methods are non-blocking."""

    dropped: int
    published: int

    def publish_tick(self, code: str, event: Event) -> None: ...
    def publish_book(self, code: str, event: Event) -> None: ...
    def publish_order_event(self, event: Event) -> None: ...
    def publish_candle(self, code: str, event: Event) -> None: ...
    def set_quote(self, code: str, quote: Event) -> None: ...
    def get_quote(self, code: str) -> Event | None: ...
    def subscribe(self, fn: Subscriber) -> Callable[[], None]: ...
    def close(self) -> None: ...


class InProcessBus:
    """The bus without Redis: in-process subscribers, latest quotes in a dict."""

    def __init__(self) -> None:
        self.dropped = 0
        self.published = 0
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

    def publish_tick(self, code: str, event: Event) -> None:
        self._emit(TICK_CHANNEL + code, event)

    def publish_book(self, code: str, event: Event) -> None:
        self._emit(BOOK_CHANNEL + code, event)

    def publish_order_event(self, event: Event) -> None:
        self._emit(ORDER_CHANNEL, event)

    def publish_candle(self, code: str, event: Event) -> None:
        self._emit(CANDLE_CHANNEL + code, event)

    def set_quote(self, code: str, quote: Event) -> None:
        self._quotes[code] = quote

    def get_quote(self, code: str) -> Event | None:
        return self._quotes.get(code)

    def close(self) -> None:
        self._subs = []


class RedisBus(InProcessBus):
    """Redis pub/sub + latest-quote keys, published from one background thread.

    Args:
        url: ``redis://…``.
        queue_max: messages waiting for Redis before new ones are dropped.
        quote_ttl_s: latest-quote keys expire (a dead hub must not look live).
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
        self._ttl = quote_ttl_s
        self._prefix = prefix
        self.errors = 0
        #: messages Redis accepted (pub/sub + quote keys)
        self.redis_sent = 0
        self._thread = threading.Thread(target=self._run, name="hub-bus", daemon=True)
        self._thread.start()

    def _key(self, key: str) -> str:
        return key if self._prefix == PREFIX else self._prefix + key[len(PREFIX) :]

    def _put(self, kind: str, key: str, event: Event) -> None:
        key = self._key(key)
        try:
            self._queue.put_nowait((kind, key, orjson.dumps(event)))
        except queue.Full:
            self.dropped += 1

    def _emit(self, channel: str, event: Event) -> None:
        super()._emit(channel, event)  # in-process subscribers (monitoring page) too
        self._put("pub", channel, event)

    def set_quote(self, code: str, quote: Event) -> None:
        super().set_quote(code, quote)
        self._put("set", QUOTE_KEY + code, quote)

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
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < 500:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._flush(batch)
                    return
                batch.append(nxt)
            self._flush(batch)

    def _flush(self, batch: list[tuple[str, str, bytes]]) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for kind, key, data in batch:
                if kind == "pub":
                    pipe.publish(key, data)
                else:
                    pipe.set(key, data, ex=self._ttl)
            pipe.execute()
            self.redis_sent += len(batch)
        except Exception as exc:
            self.errors += 1
            self.dropped += len(batch)
            if self.errors <= 5 or self.errors % 100 == 0:
                log.warning("bus_redis_error dropped=%d error=%s", len(batch), type(exc).__name__)

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
