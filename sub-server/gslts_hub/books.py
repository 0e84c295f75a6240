"""Order books (0D) conflated per stock: published at a bounded rate, stored as samples.

A book is a full snapshot, so the newest one supersedes every one before it. The socket
hands 0D over undecoded (``WsConfig.defer_types``); a batch keeps only each stock's (and
venue's) latest book, and :class:`BookThrottle` decodes one only when it is published
(at most every ``publish_s`` per stock) or stored (at most every ``sample_s``): under load
most books are never decoded. A newer book that comes too soon waits, replacing the older
waiting one, and is published once its stock's turn comes (:meth:`BookThrottle.flush`,
per batch and from the control loop when the feed goes quiet): a consumer always gets the
newest book.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from gslts_hub.payloads import book_event
from gslts_hub.rows import book_to_array
from gslts_kiwoom.realtime import OrderBook, RawRealtime, RealtimeDecoder

#: how often (at most) the held-back books are looked at while books keep coming
FLUSH_EVERY_S = 0.05


class BookThrottle:
    """Per-stock book rate limit and storage sampling (socket thread + control loop).

    Args:
        publish: ``(code, payload)`` onto the bus (the bus's ``publish_book``).
        publish_s: at most one published book per stock per this many seconds.
        sample_s: at most one stored book per stock per this many seconds.
        clock: epoch seconds (the hub's clock), for :meth:`flush` without a time.
    """

    def __init__(
        self,
        publish: Callable[[str, dict[str, Any]], None],
        *,
        publish_s: float,
        sample_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._publish = publish
        self.publish_s = publish_s
        self.sample_s = sample_s
        self._clock = clock
        #: per stock (wire item, or (code, venue)): when its book was last stored /
        #: published, and its newest book not yet published. ``pending`` is never rebound:
        #: the socket thread holds it (a cheap "anything waiting?" per batch)
        self._last_stored: dict[Any, float] = {}
        self._last_published: dict[Any, float] = {}
        self.pending: dict[Any, OrderBook | RawRealtime] = {}
        #: when the held-back books are looked at next (rebound by every flush)
        self.flush_at = 0.0
        self._lock = threading.Lock()
        #: decodes the deferred books kept (its ``malformed`` counts those dropped)
        self.decoder = RealtimeDecoder()

    def take(self, latest: dict[Any, OrderBook | RawRealtime], now: float) -> list[list[Any]]:
        """Each stock's latest book of a batch: published at most every ``publish_s`` per
        stock (a newer one waits, the last is published by :meth:`flush`), stored at most
        every ``sample_s``; decoded (when deferred) only when it is one or the other.
        Returns the journal book arrays of the books to store."""
        sample = self.sample_s
        every = self.publish_s
        stored: list[list[Any]] = []
        with self._lock:
            pub, last_stored, pending = self._last_published, self._last_stored, self.pending
            for key, ev in latest.items():
                publish = now >= pub.get(key, 0.0) + every
                store = now >= last_stored.get(key, 0.0) + sample
                if not (publish or store):
                    pending[key] = ev  # superseded by a newer one, or published later
                    continue
                b = self._decode(ev, now)
                if b is None:
                    continue
                if store:
                    last_stored[key] = now
                    stored.append(book_to_array(b))
                if publish:
                    pub[key] = now
                    pending.pop(key, None)
                    self._publish(b.code, book_event(b))
                else:
                    pending[key] = b
            if pending and now >= self.flush_at:
                self._flush_locked(now)
        return stored

    def flush(self, now: float | None = None) -> None:
        """Publish the books held back by the per-stock rate once their turn has come
        (called per batch, and by the control loop for when the feed goes quiet)."""
        with self._lock:
            self._flush_locked(self._clock() if now is None else now)

    def _flush_locked(self, now: float) -> None:
        every = self.publish_s
        self.flush_at = now + min(every, FLUSH_EVERY_S)
        pub, pending = self._last_published, self.pending
        for key in [k for k in pending if now >= pub.get(k, 0.0) + every]:
            b = self._decode(pending.pop(key), now)
            pub[key] = now
            if b is not None:
                self._publish(b.code, book_event(b))

    def _decode(self, ev: OrderBook | RawRealtime, now: float) -> OrderBook | None:
        if isinstance(ev, OrderBook):
            return ev
        dec = self.decoder
        dec.set_clock(now)  # the receive time, as the socket would (cheap per second)
        b = dec.decode(ev)
        return b if isinstance(b, OrderBook) else None  # malformed: counted by the decoder
