"""The backend's view of the hub's live data: one bus follower (Redis when ``REDIS_URL`` is
set, else the hub's stream) and what it has seen.

For now it proves the bus: counts per kind, the quotes and books of the snapshots (books
then kept current by the book events), each stock's last trade and latest VI, gaps. The
browser stream of the next step hands these events on.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from gslts_backend.settings import BackendSettings
from gslts_common.bus import GAP_CHANNEL, PREFIX, SNAPSHOT_CHANNEL, Event, split_channel
from gslts_common.bus_follow import Follower, make_follower


def follower_for(settings: BackendSettings) -> Follower:
    """The follower of the hub's bus this backend uses (see the module docstring)."""
    return make_follower(
        redis_url=settings.redis_url,
        hub_url=settings.hub_url,
        prefix=settings.hub_bus_prefix,
        name="backend-bus",
    )


class LiveData:
    """Follows the hub's bus; keeps counts and the latest quote/book per stock."""

    def __init__(self, follower: Follower, *, source: str) -> None:
        self.follower = follower
        #: where it follows, safe to show (no credentials)
        self.source = source
        self.counts: dict[str, int] = {}
        #: the hub's quotes as of the last snapshot (the bus's quote shape)
        self.quotes: dict[str, Event] = {}
        self.books: dict[str, Event] = {}
        #: each stock's last trade seen: price, cumulative volume, time (epoch s)
        self.last_trades: dict[str, Event] = {}
        #: each stock's latest VI state (``vi:<code>`` events: triggered or released)
        self.vi: dict[str, Event] = {}
        self._lock = threading.Lock()
        follower.subscribe(self._on_event)

    def start(self) -> None:
        self.follower.start()

    def close(self) -> None:
        self.follower.close()

    def _on_event(self, channel: str, event: Event) -> None:
        """On the follower's thread: quick bookkeeping only."""
        if channel == SNAPSHOT_CHANNEL:
            with self._lock:
                self.quotes.update(event.get("quotes") or {})
                self.books.update(event.get("books") or {})
            return
        if channel == GAP_CHANNEL:
            return  # counted by the follower (stats: gaps, last_gap)
        kind, code = split_channel(channel, PREFIX)
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if kind == "book" and code is not None:
                self.books[code] = event
            elif kind == "vi" and code is not None:
                self.vi[code] = event
            elif kind == "tick" and code is not None and event.get("n"):
                self.last_trades[code] = {
                    "price": event["price"][-1],
                    "cum_volume": event["cum_volume"][-1],
                    "time": event["time"][-1],
                }

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self.counts)
        return {**self.follower.stats(), "source": self.source, "events": counts}


def source_of(settings: BackendSettings) -> str:
    """``redis://host:port`` or the hub URL, without credentials (it is shown in health)."""
    url = settings.redis_url or settings.hub_url
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"
