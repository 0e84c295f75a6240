"""Gaps waiting for their ka10079 walk: at most one per stock.

A walk reads every trade from the gap's start (the last trade kept before it) to now, so
its cost grows with how long it waited. When gaps come faster than walks finish (a
connection drop every few minutes opens one gap per collected stock; a flood opens many
holes at once), a queue of one entry per gap falls behind for good: each late walk reads
a longer stretch, and the soak saw the last gaps still unwalked minutes after the close.

Here a stock's new gap merges into the one still waiting: the walk starts at the older
start and ends at the newer live anchor, which covers both (trades stored between them
are no-ops by the natural key). Walks in progress are not touched: a gap that comes while
its stock is being walked waits for the next walk.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from gslts_hub.backfill import LiveAnchor, StoredAnchor

Gap = tuple[str, StoredAnchor, LiveAnchor | None]


class GapQueue:
    """FIFO of stocks with a gap to walk: ``(code, last stored trade, first live trade or
    None = walk forward)``; a put for a stock already waiting merges into its entry (it
    keeps its place in the line)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: dict[str, tuple[StoredAnchor, LiveAnchor | None]] = {}
        #: gaps that joined one already waiting instead of queueing their own walk
        self.merged = 0

    def put(self, gap: Gap) -> None:
        code, stored, live = gap
        with self._cond:
            cur = self._items.get(code)
            if cur is not None:
                self.merged += 1
                stored, live = _merge(cur, (stored, live))
            self._items[code] = (stored, live)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> Gap:
        """The oldest waiting stock's gap; ``queue.Empty`` after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._items), timeout):
                raise queue.Empty
            code = next(iter(self._items))
            stored, live = self._items.pop(code)
            return code, stored, live

    def get_nowait(self) -> Gap:
        return self.get(timeout=0)

    def empty(self) -> bool:
        with self._cond:
            return not self._items

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def __iter__(self) -> Iterator[Gap]:
        """A snapshot of what waits, in order (for status pages and tests)."""
        with self._cond:
            return iter([(c, s, live) for c, (s, live) in self._items.items()])


def _merge(
    a: tuple[StoredAnchor, LiveAnchor | None], b: tuple[StoredAnchor, LiveAnchor | None]
) -> tuple[StoredAnchor, LiveAnchor | None]:
    """One walk covering two gaps of a stock: the older start and the newer live anchor;
    with a forward gap (no live anchor: a silent stock) a forward walk unless that gap
    lies before the other's live anchor. Another day's gap replaces the waiting one: a
    day's count starts at 0."""
    (sa, la), (sb, lb) = a, b
    if sa.time.date() != sb.time.date():
        return b if sb.time > sa.time else a
    stored = sa if sa.cum_volume <= sb.cum_volume else sb
    if la is not None and lb is not None:
        # the newest live anchor is after both starts (each is after its own)
        return stored, la if la.cum_volume >= lb.cum_volume else lb
    live, silent = (la, sb) if lb is None else (lb, sa)
    if live is not None and live.cum_volume - live.qty > silent.cum_volume:
        return stored, live  # the forward gap lies before the live anchor: covered
    return stored, None  # the walk must go past the forward gap's start: forward to now
