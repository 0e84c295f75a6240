"""1-minute candles maintained incrementally from the ticks the writer commits.

Why in the writer thread (not the socket thread): the writer sees every tick exactly in
journal order — live ticks, backfilled gaps and the replay after a crash — and a bar must
only be written after the ticks it summarises are committed. The socket thread stays free
for receiving.

Rules:

* A tick counts only if its cumulative volume is greater than the last one counted for
  that stock and venue (the natural trade key, ARCHITECTURE §5); anything else is *out of
  order* (a backfilled gap, a replayed journal record, a late frame) and marks its minute
  for a **rebuild**: OHLCV recomputed from the stored ``tick_data`` rows instead of being
  counted twice or missed.
* The first tick of a stock/venue after start also marks its minute for a rebuild: the
  database may already hold part of that bar from before a restart.
* Bars close on a timer — ``close_due(now)`` at ``start + 60 s + grace`` — so the last bar
  of the day is written and closed at the close even when no further tick arrives.
* Bars are upserted in ``replace`` mode (each row is the bar's full state): idempotent, so
  a retried flush or a replay never double counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gslts_db import CandleRow, TickRow
from gslts_hub.rows import EPOCH_KST, naive_kst

BAR_INTERVAL = "1m"
_BAR_S = 60


@dataclass(slots=True)
class Bar:
    """The running state of one stock's 1-minute bar (``start`` = epoch seconds)."""

    code: str
    start: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    trade_count: int

    def add(self, price: int, qty: int) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close = price
        self.volume += qty
        self.value += price * qty
        self.trade_count += 1

    def row(self) -> CandleRow:
        return CandleRow(
            self.code,
            BAR_INTERVAL,
            naive_kst(self.start),
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.value,
            self.trade_count,
        )


def _epoch(naive: datetime) -> int:
    return int((naive - EPOCH_KST).total_seconds())


def minute_of(epoch_s: float) -> int:
    """Start (epoch seconds) of the minute containing ``epoch_s`` (KST is a whole-hour
    offset, so UTC and KST minutes coincide)."""
    return int(epoch_s // _BAR_S) * _BAR_S


def bar_from_ticks(code: str, start: int, ticks: Iterable[TickRow]) -> Bar | None:
    """OHLCV of stored ticks (already ordered by trade time, venue, cum. volume)."""
    bar: Bar | None = None
    for t in ticks:
        qty = abs(t.volume)
        if bar is None:
            bar = Bar(code, start, t.price, t.price, t.price, t.price, 0, 0, 0)
        bar.add(t.price, qty)
    return bar


class CandleAggregator:
    """Incremental 1-minute bars with rebuild-on-disorder (one thread only: the writer).

    Args:
        grace_s: a bar closes this long after its minute ended (late frames still land).
    """

    def __init__(self, grace_s: float = 2.0) -> None:
        self.grace_s = grace_s
        self._last_cum: dict[tuple[str, str], int] = {}
        self._bars: dict[str, Bar] = {}  # the open (current) bar of each stock
        self._dirty: set[str] = set()
        self._finished: list[CandleRow] = []
        self._rebuild: set[tuple[str, int]] = set()
        self.rebuilds = 0
        self.closed = 0

    # ------------------------------------------------------------------ feeding
    def add(
        self, code: str, venue: str, cum: int, trade_epoch: float, price: int, qty: int
    ) -> None:
        """Account one trade (``qty`` unsigned)."""
        key = (code, venue)
        minute = minute_of(trade_epoch)
        last = self._last_cum.get(key)
        if last is None or cum <= last:
            # first sight since start (the DB may hold part of this bar) or out of order
            if last is None or cum > last:
                self._last_cum[key] = cum
            self._rebuild.add((code, minute))
            return
        self._last_cum[key] = cum
        if (code, minute) in self._rebuild:
            return  # the rebuild after this flush's commit will include it
        bar = self._bars.get(code)
        if bar is None or minute > bar.start:
            if bar is not None:
                self._finished.append(bar.row())  # its final state, written this flush
            self._bars[code] = Bar(code, minute, price, price, price, price, qty, price * qty, 1)
            self._dirty.add(code)
            return
        if minute < bar.start:
            self._rebuild.add((code, minute))  # a newer trade stamped in an older minute
            return
        bar.add(price, qty)
        self._dirty.add(code)

    def add_arrays(self, ticks: Iterable[Sequence[Any]]) -> None:
        """Account the trades of journal tick arrays (see :mod:`gslts_hub.rows`) in order.

        Same result as :meth:`add` per tick; the common case (next trade of a stock's open
        bar, in order) is inlined because this runs for every tick on the writer thread.
        """
        last_cum = self._last_cum
        bars = self._bars
        dirty = self._dirty
        rebuild = self._rebuild
        for a in ticks:
            code = a[0]
            key = (code, a[1])
            cum = a[3]
            last = last_cum.get(key)
            bar = bars.get(code)
            if last is not None and cum > last and bar is not None:
                minute = int(a[4] // _BAR_S) * _BAR_S
                if minute == bar.start and not (rebuild and (code, minute) in rebuild):
                    last_cum[key] = cum
                    price = a[5]
                    v = a[6]
                    qty = v if v >= 0 else -v
                    if price > bar.high:
                        bar.high = price
                    if price < bar.low:
                        bar.low = price
                    bar.close = price
                    bar.volume += qty
                    bar.value += price * qty
                    bar.trade_count += 1
                    dirty.add(code)
                    continue
            v = a[6]
            self.add(code, a[1], cum, a[4], a[5], v if v >= 0 else -v)

    def mark_rebuild(self, code: str, epoch_s: float) -> None:
        """Force the minute containing ``epoch_s`` to be recomputed from ``tick_data``."""
        self._rebuild.add((code, minute_of(epoch_s)))

    # ------------------------------------------------------------------ draining
    def plan(self) -> tuple[list[tuple[str, int]], list[CandleRow]]:
        """What the next flush must write, without consuming it (a failed flush retries).

        Returns:
            ``(minutes to rebuild from tick_data, bar rows to upsert)``; the rows exclude
            minutes being rebuilt.
        """
        rebuild = sorted(self._rebuild)
        rows = [
            r
            for r in [
                *self._finished,
                *(self._bars[c].row() for c in self._dirty if c in self._bars),
            ]
            if (r.stock_code, _epoch(r.start_time)) not in self._rebuild
        ]
        return rebuild, rows

    def settle(self, rebuilt: dict[tuple[str, int], Bar | None], now_epoch: float) -> None:
        """After a successful flush: adopt rebuilt bars and clear what was written.

        A rebuilt minute that is still open continues from the rebuilt state, so later
        in-order ticks add to the full bar.
        """
        self._finished = []
        self._dirty.clear()
        for (code, start), bar in rebuilt.items():
            self._rebuild.discard((code, start))
            self.rebuilds += 1
            if bar is None:
                continue
            current = self._bars.get(code)
            still_open = start + _BAR_S + self.grace_s > now_epoch
            if still_open and (current is None or start >= current.start):
                self._bars[code] = bar

    def close_due(self, now_epoch: float) -> list[CandleRow]:
        """Close every bar whose minute ended ``grace_s`` ago (timer, not next tick).

        The closed bars' final state is written by the next flush; returns them.
        """
        out: list[CandleRow] = []
        for code, bar in list(self._bars.items()):
            if bar.start + _BAR_S + self.grace_s <= now_epoch:
                del self._bars[code]
                self._dirty.discard(code)
                row = bar.row()
                self._finished.append(row)
                out.append(row)
                self.closed += 1
        return out

    @property
    def has_work(self) -> bool:
        """True when a flush has candle rows or rebuilds to write."""
        return bool(self._finished or self._dirty or self._rebuild)

    def open_bar(self, code: str) -> Bar | None:
        """The current bar of ``code`` (for the status page / bus)."""
        return self._bars.get(code)
