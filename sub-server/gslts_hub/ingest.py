"""The socket thread's work: each batch of decoded events → journal, per-stock state, bus.

:meth:`Ingest.on_events` gets the frames of one socket read, decoded. Trades and the
sampled books of the batch become **one** journal record (``journal.append`` = one
``write(2)``; after it returns the ticks survive a crash of the hub), then the per-stock
state and the bus are updated: one bus message per stock per batch (all its trades, as
arrays) and the stock's latest quote. Nothing slow happens here, and this is the hot path:
the per-trade loops bind what they use to locals, and work per stock per batch stays
inline (a call per stock costs as much as one per trade when a frame carries ten stocks).

Two ways to the same per-stock state: the **grouped** path (:meth:`Ingest.apply_groups`,
one update per stock per batch) when nothing needs a trade-by-trade look, and the
**per-trade** path (:meth:`Ingest.apply_trades`) when a gap waits for a stock's first live
trade or its following trades, a batch spans two days, or a stock's trades show a hole in
its stream (:mod:`gslts_hub.gaps`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from gslts_common.bus import InProcessBus, tick_batch
from gslts_hub.backfill import LiveAnchor
from gslts_hub.books import BookThrottle
from gslts_hub.gaps import FOLLOW_TRADES, GapTracker
from gslts_hub.payloads import order_event, vi_event
from gslts_hub.rows import encode_record, iso_time, trade_to_array
from gslts_hub.spool import JournalSpool
from gslts_hub.stocks import StockState
from gslts_hub.vi import ViTracker
from gslts_kiwoom.realtime import (
    BalanceEvent,
    OrderBook,
    OrderEvent,
    RawRealtime,
    Trade,
    ViEvent,
)


class Ingest:
    """Journal first, then per-stock state and the bus, per socket batch.

    Args:
        stocks: the per-stock live state (written here only).
        spool: the journal's front (keeps records while the journal fails).
        bus: ticks, quotes, books and account events go out here.
        books: the book throttle (which books of a batch are stored and published).
        gaps: the gap tracker (first live trades, following trades, stream holes).
        vi: per-stock VI state (1h).
        stream_gap_check: ``HUB_STREAM_GAP_CHECK``: look for holes in the stream.
        clock: epoch seconds (the hub's clock): the batch's receive time.
        event: ``(kind, message)`` for the monitoring page.
    """

    def __init__(
        self,
        *,
        stocks: dict[str, StockState],
        spool: JournalSpool,
        bus: InProcessBus,
        books: BookThrottle,
        gaps: GapTracker,
        vi: ViTracker,
        stream_gap_check: bool,
        clock: Callable[[], float],
        event: Callable[[str, str], None],
    ) -> None:
        self.stocks = stocks
        self.spool = spool
        self.bus = bus
        self.books = books
        self.gaps = gaps
        self.vi = vi
        self.stream_gap_check = stream_gap_check
        self._clock = clock
        self._event = event
        #: trades journaled (refused ones are counted apart: received + refused = sent)
        self.ticks_received = 0
        #: trades received while collection was suspended (not journaled: a gap, backfilled)
        self.ticks_refused = 0
        self.books_received = 0
        self.books_journaled = 0
        self.order_events = 0
        # bound once for the hot path (these dicts are never rebound by their owners)
        self._book_pending = books.pending
        self._take_books = books.take
        self._await_first = gaps.await_first
        self._following = gaps.following

    def on_events(self, events: list[Any]) -> None:
        """Each batch of decoded events (socket thread): journal first, then state and bus.

        Books are conflated: a batch keeps each stock's (and venue's) latest 0D, which is
        published at most every ``hub_book_publish_s`` and stored at most every
        ``hub_book_sample_s`` per stock (see :mod:`gslts_hub.books`). A book is a full
        snapshot, so a consumer always gets the newest one, and under load most books are
        never decoded.
        """
        now = self._clock()
        ticks: list[list[Any]] = []
        books: list[list[Any]] = []
        trades: list[Trade] = []
        # the batch's trades (and their arrays) per stock, in order: state, bus message and
        # quote are then per stock per batch, not per trade
        by_code: dict[str, tuple[list[Trade], list[Any]]] = {}
        latest_book: dict[Any, OrderBook | RawRealtime] = {}
        n_books = 0
        for ev in events:
            tp = type(ev)
            if tp is Trade:
                arr = trade_to_array(ev)
                ticks.append(arr)
                trades.append(ev)
                g = by_code.get(ev.code)
                if g is None:
                    by_code[ev.code] = ([ev], [arr])
                else:
                    g[0].append(ev)
                    g[1].append(arr)
            elif tp is RawRealtime:
                if ev.type == "0D":
                    latest_book[ev.item] = ev
                    n_books += 1
            elif tp is OrderBook:
                latest_book[(ev.code, ev.venue)] = ev
                n_books += 1
            elif tp is OrderEvent or tp is BalanceEvent:
                self.order_events += 1
                self.bus.publish_order_event(order_event(ev))
            elif tp is ViEvent:
                msg = self.vi.apply(ev, now)
                if msg is not None:
                    self._event("vi", msg)
                    self.bus.publish_vi(ev.code, vi_event(self.vi.states[ev.code]))
        if latest_book:
            self.books_received += n_books
            books = self._take_books(latest_book, now)
        elif self._book_pending and now >= self.books.flush_at:
            self.books.flush(now)  # held-back books whose turn came
        if ticks or books:
            if not self.spool.append(encode_record(now, ticks, books)):
                # suspended (journal unwritable, memory bound reached): these trades are a
                # gap, filled from ka10079 once the journal works; state stays at the last
                # kept trade, so the gap starts there
                self.ticks_refused += len(trades)
                return
            self.books_journaled += len(books)
        if not trades:
            return
        self.ticks_received += len(trades)
        day = trades[0].trade_date
        if self._await_first or self._following or not all(t.trade_date == day for t in trades):
            # a pending gap wants each stock's *first* live KRX trade, and a frame spanning
            # two days resets a count mid-frame: the per-trade walk handles both (rare)
            self.apply_trades(trades, now)
        else:
            self.apply_groups(by_code, day, now)
        # the bus gets every trade: one message per stock per batch (all its trades, as
        # arrays) and the stock's latest quote; non-blocking (RedisBus queues, drops when
        # full), and one message per stock rather than per trade keeps Redis off the hot path
        bus = self.bus
        publish = bus.publish_ticks
        set_quote = bus.set_quote
        for code, (ts, arrs) in by_code.items():
            publish(code, tick_batch(code, arrs))
            t = ts[-1]
            set_quote(  # the quote payload (shaped here, see gslts_hub.payloads)
                code,
                {
                    "code": code,
                    "venue": str(t.venue),
                    "price": t.price,
                    "volume": t.volume,
                    "cum_volume": t.cum_volume,
                    "cum_value": t.cum_value,
                    "time": iso_time(t.time),
                    "base_price": t.price - t.change,  # 기준가: the change is against it
                    "open": t.open,
                    "high": t.high,
                    "low": t.low,
                },
            )

    def apply_groups(
        self, by_code: dict[str, tuple[list[Trade], list[Any]]], day: date, now: float
    ) -> None:
        """Per-stock state from one batch's trades grouped per stock, all dated ``day``
        and with no gap pending: the same end state as :meth:`apply_trades`, which takes
        over a stock whose trades show a hole in its stream."""
        stocks = self.stocks
        check = self.stream_gap_check
        for code, (ts, _) in by_code.items():
            st = stocks.get(code)
            if st is None:
                st = stocks[code] = StockState(code)
            last_cum = st.last_cum if st.day == day else None
            if check and _has_hole(ts, last_cum):
                self.apply_trades(ts, now)
                continue
            if st.day != day:
                st.day, st.ticks_today = day, 0
            st.ticks_today += len(ts)
            st.last_price = ts[-1].price
            st.last_tick_at = now
            for t in reversed(ts):  # the newest KRX trade (usually the very last one)
                if t.venue == "KRX":
                    if last_cum is not None and t.cum_volume < last_cum:
                        break  # a resent older trade: the state stays at the newest
                    st.last_cum = t.cum_volume
                    st.last_trade_time = t.time
                    st.last_krx_price = t.price
                    st.last_qty = t.volume if t.volume >= 0 else -t.volume
                    st.last_cum_value = t.cum_value
                    break

    def apply_trades(self, trades: list[Trade], now: float) -> None:
        """Per-stock state, trade by trade; a pending gap's first live KRX trade starts
        following its gap (whose walk, ka10079, is queued after a few more trades), and so
        does a trade after a hole in the stream (its cumulative volume jumped: the trades
        between never came)."""
        stocks = self.stocks
        check = self.stream_gap_check
        gaps = self.gaps
        await_first = self._await_first
        following_gaps = self._following
        for t in trades:
            st = stocks.get(t.code)
            if st is None:
                st = stocks[t.code] = StockState(t.code)
            new_day = st.day != t.trade_date
            if new_day:
                st.day, st.ticks_today = t.trade_date, 0
            st.ticks_today += 1
            st.last_price = t.price
            st.last_tick_at = now
            if str(t.venue) != "KRX":
                continue
            qty = t.volume if t.volume >= 0 else -t.volume
            last_cum = None if new_day else st.last_cum
            hole = check and last_cum is not None and t.cum_volume - qty > last_cum
            following = following_gaps.get(t.code) if following_gaps else None
            if following is not None:
                if hole:  # the walk goes with the trades that came before the hole
                    gaps.release(t.code)
                else:
                    following[2].append((t.time, t.price, qty))
                    if len(following[2]) >= FOLLOW_TRADES:
                        gaps.release(t.code)
            pending = await_first.pop(t.code, None) if await_first else None
            if pending is None and hole and last_cum is not None and st.last_trade_time:
                pending = gaps.stream_hole(st, last_cum, st.last_trade_time, t, qty, now)
            if pending is not None:
                # the walk waits for the next few live trades (or FOLLOW_WAIT_S): they
                # pin the anchor's row among rows with the same (second, price, qty)
                anchor = LiveAnchor(t.time, t.price, qty, t.cum_volume, t.cum_value)
                gaps.follow(t.code, pending[0], anchor, now)
            if last_cum is None or t.cum_volume >= last_cum:  # a resent older trade: not newer
                st.last_cum = t.cum_volume
                st.last_trade_time = t.time
                st.last_krx_price = t.price
                st.last_qty = qty
                st.last_cum_value = t.cum_value


def _has_hole(trades: list[Trade], last_cum: int | None) -> bool:
    """Whether a stock's KRX trades (in order) skip volume after ``last_cum`` (None: the
    first one starts the count): each trade's cumulative volume must be the previous
    one's plus its own quantity."""
    for t in trades:
        if t.venue == "KRX":
            c = t.cum_volume
            if last_cum is None:
                last_cum = c
                continue
            v = t.volume
            if c - (v if v >= 0 else -v) > last_cum:
                return True
            if c > last_cum:
                last_cum = c
    return False
