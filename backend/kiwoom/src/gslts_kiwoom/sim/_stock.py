"""The market model's state of one stock (mutable, internal): price, book, trades, bars,
resting user orders, VI. Plain data and its own small helpers; the modules that change it
(``_book``, ``_flood``, ``_matching``, ``_market``) sit above this one.

Laziness: a stock's state is created on first access, and only trades change it (the
price is a random walk driven by trades), so a stock nobody trades costs nothing.
"""

from __future__ import annotations

import random
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice

from gslts_kiwoom import krx
from gslts_kiwoom.models import Bar
from gslts_kiwoom.sim._events import MarketTrade, TradeBatch, trade_from_row, us_to_datetime
from gslts_kiwoom.sim._orders import Order
from gslts_kiwoom.sim._universe import Stock


@dataclass(slots=True)
class Level:
    """One level of a stock's book (mutable; the event snapshot is ``BookLevel``)."""

    price: int
    qty: int


class TradeHistory:
    """The last ``maxlen`` trades of a stock (ka10079, ``Simulator.trades``).

    Holds :class:`MarketTrade` objects from the per-trade path and whole :class:`TradeBatch`
    objects from the flood path (O(1) per batch; old batches fall off as a whole once
    ``maxlen`` newer trades exist). Iteration yields the last ``maxlen`` trades as
    :class:`MarketTrade`, oldest first, either way.
    """

    __slots__ = ("_code", "_items", "_maxlen", "_n", "_total")

    def __init__(self, code: str, maxlen: int) -> None:
        self._code = code
        self._maxlen = maxlen
        self._items: deque[MarketTrade | TradeBatch] = deque()
        self._n = 0
        #: trades ever added: trade ``k`` (0-based, in order) keeps its number for good,
        #: so a page key stays valid while newer trades arrive
        self._total = 0

    def newest_first(self, start: int | None = None) -> Iterator[tuple[int, datetime, int, int]]:
        """``(number, time, price, quantity)`` of the kept trades from trade number
        ``start`` (default: the newest) back to the oldest kept one. Costs what it yields
        (a ka10079 page), not the whole history."""
        oldest = self._total - len(self)
        k = self._total  # number of the trade after the newest
        for item in reversed(self._items):
            if k <= oldest:
                return
            if type(item) is MarketTrade:
                k -= 1
                if start is None or k <= start:
                    yield k, item.time, item.price, abs(item.volume)
                continue
            batch: TradeBatch = item  # type: ignore[assignment]
            n = len(batch)
            first = k - n  # number of the batch's first trade
            if start is not None and first > start:
                k = first
                continue
            top = n - 1 if start is None else min(n - 1, start - first)
            times, prices, volumes = batch.time_us, batch.price, batch.volume
            for i in range(top, -1, -1):
                if first + i < oldest:
                    return
                v = volumes[i]
                yield first + i, us_to_datetime(times[i]), prices[i], v if v >= 0 else -v
            k = first

    def __len__(self) -> int:
        return min(self._n, self._maxlen)

    def __iter__(self) -> Iterator[MarketTrade]:
        code = self._code
        skip = self._n - self._maxlen
        for item in list(self._items):
            if not isinstance(item, TradeBatch):
                if skip > 0:
                    skip -= 1
                    continue
                yield item
                continue
            rows = item.rows()
            if skip > 0:
                n = len(item)
                rows = islice(rows, min(skip, n), None)
                skip -= n
            for row in rows:
                yield trade_from_row(code, row)

    def _add(self, item: MarketTrade | TradeBatch, n: int) -> None:
        items = self._items
        items.append(item)
        self._n += n
        self._total += n
        while items:
            first = items[0]
            size = 1 if type(first) is MarketTrade else len(first)  # type: ignore[arg-type]
            if self._n - size < self._maxlen:
                break
            items.popleft()
            self._n -= size

    def append(self, trade: MarketTrade) -> None:
        self._add(trade, 1)

    def extend_batch(self, batch: TradeBatch) -> None:
        self._add(batch, len(batch))


@dataclass(slots=True)
class SimStock:
    """Mutable state of one stock for the current day (internal to the simulator)."""

    stock: Stock
    rng: random.Random
    day: date
    base_price: int
    lower: int
    upper: int
    typical_qty: int
    last: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    cum_volume: int = 0
    #: cumulative value traded today, exact **KRW** (events carry KRW million)
    cum_value_krw: int = 0
    prev_volume: int = 0
    seq: int = 0
    asks: list[Level] = field(default_factory=list)
    bids: list[Level] = field(default_factory=list)
    trades: TradeHistory = field(default_factory=lambda: TradeHistory("", 5000))
    minute_bars: deque[Bar] = field(default_factory=deque)
    #: completed days of this run, oldest first
    past_days: list[Bar] = field(default_factory=list)
    #: user orders resting in this stock, best first (price, then time)
    user_bids: list[Order] = field(default_factory=list)
    user_asks: list[Order] = field(default_factory=list)
    #: 시간외단일가 orders waiting for the next 10-minute crossing (time order)
    user_single: list[Order] = field(default_factory=list)
    #: 스톱지정가 orders waiting for their stop price (time order; out of the book)
    user_stops: list[Order] = field(default_factory=list)
    #: 중간가 orders resting at the mid price (time order; ahead of the book)
    user_mids: list[Order] = field(default_factory=list)
    #: the last 시간외단일가 crossing price today (0: none yet); 00 FID 10010
    single_price: int = 0
    last_trade_time: datetime | None = None
    #: static VI: reference price, release time while an interruption runs, count today
    vi_ref: int = 0
    vi_until: datetime | None = None
    vi_count: int = 0
    #: the flood path's price grid: every valid price from ``lower`` to ``upper`` and the
    #: index of each (tick up/down = index ± 1), built on first use each day
    ladder: list[int] = field(default_factory=list)
    ladder_ix: dict[int, int] = field(default_factory=dict)
    #: the flood path's trade sizes (lognormal around ``typical_qty``), drawn once
    sizes: list[int] = field(default_factory=list)
    level_sizes: list[int] = field(default_factory=list)

    @property
    def best_ask(self) -> int:
        return self.asks[0].price if self.asks else 0

    @property
    def best_bid(self) -> int:
        return self.bids[0].price if self.bids else 0

    def day_bar(self) -> Bar | None:
        """The daily bar of the stock's current day so far (None before its first trade)."""
        if not self.open:
            return None
        return Bar(
            start=datetime(self.day.year, self.day.month, self.day.day, tzinfo=krx.KST),
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.last,
            volume=self.cum_volume,
            value=self.cum_value_krw,
            base_price=self.base_price,
        )


def stable_seed(seed: int, code: str) -> int:
    """A per-stock seed that does not depend on the order stocks are touched in."""
    return zlib.crc32(f"{seed}:{code}".encode())
