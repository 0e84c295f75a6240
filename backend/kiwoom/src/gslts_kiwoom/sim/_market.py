"""The market model: per-stock prices, 10-level books, trades, bars; matching of user orders.

Single source of truth for everything market-related the simulator serves (REST now,
WebSocket later). See the package docstring for the model; this module holds the code.

Laziness: a stock's state is created on first access, and only trades change it (the
price is a random walk driven by trades), so a stock nobody trades costs nothing. Day
rollover (close → next base price) happens when a stock is next touched.
"""

from __future__ import annotations

import bisect
import math
import random
import zlib
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate, islice
from operator import mul
from typing import TYPE_CHECKING, Literal

from gslts_kiwoom import krx
from gslts_kiwoom.models import Bar, BookLevel, Side
from gslts_kiwoom.realtime import _fast_factory
from gslts_kiwoom.sim._config import SimConfig
from gslts_kiwoom.sim._events import (
    BookUpdate,
    MarketEvent,
    PhaseChange,
    Trade,
    TradeBatch,
    ViUpdate,
    datetime_to_us,
    trade_from_row,
    us_to_datetime,
)
from gslts_kiwoom.sim._universe import Stock

if TYPE_CHECKING:
    from gslts_kiwoom.sim._accounts import Order

#: Seconds of a KRX regular day used to turn a real day's value into a trade rate.
SESSION_SECONDS = 23_400
BOOK_LEVELS = 10
#: Trade(...) without the frozen-dataclass ``__setattr__`` cost (the flood's hot path).
_new_trade = _fast_factory(Trade)
#: KRX phase → 장운영구분 (FID 215) sent in 0s when the phase starts (PROTOCOL §5.7;
#: codes outside the documented list follow legacy OpenAPI+: a 시간외 종가, b 단일가).
PHASE_CODES: dict[krx.Phase, str] = {
    krx.Phase.OPENING_AUCTION: "0",
    krx.Phase.CONTINUOUS: "3",
    krx.Phase.CLOSING_AUCTION: "2",
    krx.Phase.POST_CLOSE_OFF_HOURS: "a",
    krx.Phase.AFTER_HOURS_SINGLE_PRICE: "b",
}
#: Single-price auctions cross at these times (KST): the opening and the closing call.
AUCTION_CROSS_TIMES = (time(9, 0), time(15, 30))


@dataclass(slots=True)
class _Level:
    price: int
    qty: int


class TradeHistory:
    """The last ``maxlen`` trades of a stock (ka10079, ``Simulator.trades``).

    Holds :class:`Trade` objects from the per-trade path and whole :class:`TradeBatch`
    objects from the flood path (O(1) per batch; old batches fall off as a whole once
    ``maxlen`` newer trades exist). Iteration yields the last ``maxlen`` trades as
    :class:`Trade`, oldest first, either way.
    """

    __slots__ = ("_code", "_items", "_maxlen", "_n")

    def __init__(self, code: str, maxlen: int) -> None:
        self._code = code
        self._maxlen = maxlen
        self._items: deque[Trade | TradeBatch] = deque()
        self._n = 0

    def __len__(self) -> int:
        return min(self._n, self._maxlen)

    def __iter__(self) -> Iterator[Trade]:
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

    def _add(self, item: Trade | TradeBatch, n: int) -> None:
        items = self._items
        items.append(item)
        self._n += n
        while items:
            first = items[0]
            size = 1 if type(first) is Trade else len(first)  # type: ignore[arg-type]
            if self._n - size < self._maxlen:
                break
            items.popleft()
            self._n -= size

    def append(self, trade: Trade) -> None:
        self._add(trade, 1)

    def extend_batch(self, batch: TradeBatch) -> None:
        self._add(batch, len(batch))


@dataclass(slots=True)
class StockState:
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
    asks: list[_Level] = field(default_factory=list)
    bids: list[_Level] = field(default_factory=list)
    trades: TradeHistory = field(default_factory=lambda: TradeHistory("", 5000))
    minute_bars: deque[Bar] = field(default_factory=deque)
    #: completed days of this run, oldest first
    past_days: list[Bar] = field(default_factory=list)
    #: user orders resting in this stock, best first (price, then time)
    user_bids: list[Order] = field(default_factory=list)
    user_asks: list[Order] = field(default_factory=list)
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


FillSink = Callable[["Order", int, int, datetime], None]


def _stable_seed(seed: int, code: str) -> int:
    return zlib.crc32(f"{seed}:{code}".encode())


class Market:
    """All stocks' state, trade generation, and matching of user orders against books."""

    def __init__(self, config: SimConfig, universe: Sequence[Stock], now: datetime) -> None:
        self.config = config
        self.universe = {s.code: s for s in universe}
        self.codes = [s.code for s in universe]
        self.now = now.astimezone(krx.KST)
        self.start_day = self.now.date()
        self._rng = random.Random(config.seed)  # noqa: S311 (simulation, not crypto)
        self._states: dict[str, StockState] = {}
        self._listeners: list[Callable[[MarketEvent], None]] = []
        self.fill_sink: FillSink | None = None
        total = sum(s.value for s in universe) or 1
        acc = 0.0
        self._cum_weights: list[float] = []
        for s in universe:
            acc += s.value / total
            self._cum_weights.append(acc)
        # KRW per trade such that a stock trades its real daily value over a session
        rate = config.trades_per_s or 10.0
        self._value_per_trade = total / (SESSION_SECONDS * rate)
        self._history_dates: list[date] | None = None
        self._history: dict[str, list[Bar]] = {}
        #: market-wide trades per simulated second (settable at run time)
        self.trades_per_s = config.trades_per_s
        #: every trade of the run in emission order (ground truth), up to the cap
        self.ground_truth = GroundTruth(self.codes, config.ground_truth_cap)
        #: stocks whose book changed in the current step (one BookUpdate each at its end)
        self._dirty: dict[str, StockState] = {}
        self._focus: tuple[list[str], list[float]] | None = None
        #: per-stock share of the market-wide rate (the flood path's Poisson draws)
        self._probs: tuple[list[str], list[float]] | None = None
        self._vi_active: dict[str, StockState] = {}
        self.phase_code = ""
        if config.trade_universe:
            self.set_trade_codes(
                [s.code for s in sorted(universe, key=lambda s: -s.value)][: config.trade_universe]
            )

    def set_trade_codes(self, codes: Sequence[str] | None) -> None:
        """Restrict market-wide trade generation to ``codes`` (weighted by real trading
        value); ``None`` = the whole universe. Used for floods over a chosen set."""
        if not codes:
            self._focus = None
            return
        stocks = [self.universe[c] for c in codes if c in self.universe]
        total = sum(s.value for s in stocks) or 1
        acc, weights = 0.0, []
        for s in stocks:
            acc += max(s.value, 1) / total
            weights.append(acc)
        self._focus = ([s.code for s in stocks], weights)
        self._probs = None

    # --- listeners --------------------------------------------------------------------
    def add_listener(self, listener: Callable[[MarketEvent], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[MarketEvent], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def emit(self, event: MarketEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # --- state ------------------------------------------------------------------------
    def state(self, code: str) -> StockState:
        """The state of ``code`` (created on first use, rolled to the current day).

        Raises:
            KeyError: for a code not in the universe.
        """
        st = self._states.get(code)
        if st is None:
            st = self._new_state(self.universe[code])
            self._states[code] = st
        elif st.day != self.now.date():
            self._roll(st, self.now.date())
        return st

    def touched(self) -> list[StockState]:
        """States of the stocks touched so far (others are at their base price)."""
        return [self.state(c) for c in list(self._states)]

    def _new_state(self, stock: Stock) -> StockState:
        rng = random.Random(_stable_seed(self.config.seed, stock.code))  # noqa: S311 (simulation, not crypto)
        typical = max(1, round(self._value_per_trade / stock.base_price))
        lower, upper = krx.price_limits(stock.base_price)
        st = StockState(
            stock=stock,
            rng=rng,
            day=self.now.date(),
            base_price=stock.base_price,
            lower=lower,
            upper=upper,
            typical_qty=typical,
            prev_volume=stock.volume,
            trades=TradeHistory(stock.code, self.config.trade_history),
            minute_bars=deque(maxlen=1440 * 3),
        )
        self._start_day(st, stock.volume)
        return st

    def _start_day(self, st: StockState, reference_volume: int) -> None:
        st.lower, st.upper = krx.price_limits(st.base_price)
        st.ladder, st.ladder_ix = [], {}
        st.last = st.base_price
        st.open = st.high = st.low = 0
        st.cum_volume = st.cum_value_krw = 0
        seeded = int(reference_volume * self.config.initial_day_fraction * st.rng.uniform(0.9, 1.1))
        if seeded > 0:
            # activity "before we started watching", all at the base price
            st.cum_volume = seeded
            st.cum_value_krw = seeded * st.base_price
            st.open = st.high = st.low = st.base_price
        st.asks.clear()
        st.bids.clear()
        ask = krx.tick_up(st.base_price)
        bid = st.base_price
        if st.rng.random() < 0.5:
            ask, bid = st.base_price, krx.tick_down(st.base_price)
        for _ in range(BOOK_LEVELS):
            if ask <= st.upper:
                st.asks.append(_Level(ask, self._level_qty(st)))
                ask = krx.tick_up(ask)
            if bid >= st.lower:
                st.bids.append(_Level(bid, self._level_qty(st)))
                bid = krx.tick_down(bid)

    def _roll(self, st: StockState, day: date) -> None:
        """Close the stock's day: record the daily bar; the close becomes the base price."""
        today = _day_bar(st)
        if today is not None:
            st.past_days.append(today)
        volume = st.cum_volume
        st.prev_volume = volume
        st.base_price = st.last
        st.day = day
        st.seq = 0
        st.vi_ref, st.vi_until, st.vi_count = 0, None, 0
        self._vi_active.pop(st.stock.code, None)
        self._start_day(st, st.stock.volume)

    def _level_qty(self, st: StockState) -> int:
        return max(1, int(st.typical_qty * st.rng.uniform(0.5, 3.0)))

    # --- time ---------------------------------------------------------------------------
    def trading_open(self, t: datetime) -> bool:
        """True when continuous matching runs at ``t`` under the configured clock."""
        if self.config.clock == "always":
            return True
        return krx.phase_at(t, "KRX").is_continuous

    def step(self, now: datetime, active_codes: Sequence[str] = ()) -> int:
        """Advance the market to ``now``, generating trades; returns how many were made."""
        now = now.astimezone(krx.KST)
        if now <= self.now:
            return 0
        prev = self.now
        dt = (now - prev).total_seconds()
        self.now = now
        if self.config.clock == "krx":
            self._phases(prev, now)
        self._release_vis(now)
        if not self.trading_open(now):
            return 0
        if self.trades_per_s >= self.config.bulk_min_trades_per_s:
            return self._bulk_step(prev, now, dt, active_codes)
        events: list[tuple[datetime, str]] = []
        cap = max(
            self.config.max_trades_per_step,
            int(self.trades_per_s * self.config.tick_interval_s * 4),
        )
        n = min(_poisson(self._rng, self.trades_per_s * dt), cap)
        codes, weights = self._focus or (self.codes, self._cum_weights)
        last = len(codes) - 1
        rnd = self._rng.random
        top = weights[-1]
        bis = bisect.bisect_left
        offsets = sorted(rnd() * dt for _ in range(n))
        for off in offsets:
            events.append(
                (prev + timedelta(seconds=off), codes[min(bis(weights, rnd() * top), last)])
            )
        for code in active_codes:
            for _ in range(_poisson(self._rng, self.config.active_order_stock_rate * dt)):
                events.append((prev + timedelta(seconds=rnd() * dt), code))
        if active_codes:
            events.sort()
        made = 0
        for t, code in events[:cap]:
            st = self.state(code)
            if st.vi_until is not None:
                continue  # single-price interruption: no continuous trades
            self._market_trade(st, t)
            made += 1
        self.flush_books()
        return made

    def flush_books(self) -> None:
        """Emit one BookUpdate for every stock whose book changed since the last flush."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        for st in dirty.values():
            self._emit_book(st, st.last_trade_time or self.now)

    # --- phases, auctions, VI -------------------------------------------------------------
    def _phases(self, prev: datetime, now: datetime) -> None:
        """KRX clock: 0s events on phase changes; single-price crossing at 09:00 / 15:30."""
        if not krx.is_trading_day(now.date()):
            return
        for cross in AUCTION_CROSS_TIMES:
            at = datetime.combine(now.date(), cross, tzinfo=krx.KST)
            if prev < at <= now:
                self._cross_auction(at)
        phase = krx.phase_at(now, "KRX")
        code = PHASE_CODES.get(phase)
        if code is None:
            if self.phase_code in ("2", "3", "0"):  # 15:30 after the closing auction
                code = "4"
            elif self.phase_code in ("a", "b"):
                code = "9"
        if code is not None and code != self.phase_code:
            self.phase_code = code
            self.emit(PhaseChange(code=code, phase=phase.value, time=now))

    def auction_codes(self) -> list[str]:
        """Stocks that take part in an auction crossing: the trade universe's top 100 by
        value plus every stock touched so far."""
        codes, _ = self._focus or (self.codes, self._cum_weights)
        top = sorted(codes, key=lambda c: -self.universe[c].value)[:100]
        return sorted(set(top) | set(self._states))

    def _cross_auction(self, at: datetime) -> None:
        """A single-price call auction ends: every participating stock trades once, at one
        price (its last price), for the volume that accumulated during the call."""
        for code in self.auction_codes():
            st = self.state(code)
            rng = st.rng
            qty = max(1, int(st.typical_qty * rng.lognormvariate(1.0, 0.5)))
            price = st.last
            self._record_trade(st, at, price, qty if rng.random() < 0.5 else -qty)
            self._dirty[code] = st
        self.flush_books()

    def _check_vi(self, st: StockState, t: datetime, price: int) -> None:
        ref = st.vi_ref or st.base_price
        threshold = self.config.vi_threshold
        if threshold <= 0 or st.vi_until is not None or not ref:
            return
        if abs(price - ref) < ref * threshold:
            return
        st.vi_count += 1
        st.vi_ref = price
        st.vi_until = t + timedelta(seconds=self.config.vi_duration_s)
        self._vi_active[st.stock.code] = st
        self._emit_vi(st, t, price, ref, active=True)

    def _release_vis(self, now: datetime) -> None:
        for code, st in list(self._vi_active.items()):
            if st.vi_until is not None and st.vi_until <= now:
                at = st.vi_until
                st.vi_until = None
                del self._vi_active[code]
                self._emit_vi(st, at, st.vi_ref, st.vi_ref, active=False)

    def _emit_vi(self, st: StockState, t: datetime, price: int, ref: int, *, active: bool) -> None:
        self.emit(
            ViUpdate(
                code=st.stock.code,
                name=st.stock.name,
                market=st.stock.market,
                active=active,
                trigger_price=price,
                reference_price=ref,
                direction=1 if price >= ref else -1,
                count=st.vi_count,
                cum_volume=st.cum_volume,
                cum_value=st.cum_value_krw // 1_000_000,
                time=t,
                release_time=st.vi_until or t,
            )
        )

    # --- trade generation ---------------------------------------------------------------
    def _market_trade(self, st: StockState, t: datetime) -> None:
        rng = st.rng
        # book noise first, so the trade's best ask/bid (0B FID 27/28) is the book after it
        self._jitter(st)
        # mild mean reversion towards the base price keeps the walk inside the limits
        drift = (st.last / st.base_price - 1.0) if st.base_price else 0.0
        p_buy = min(0.8, max(0.2, 0.5 - 1.5 * drift))
        buy = rng.random() < p_buy
        if buy and not st.asks:
            buy = False
        if not buy and not st.bids:
            if not st.asks:
                return
            buy = True
        qty = max(1, int(st.typical_qty * rng.lognormvariate(0.0, 0.7)))
        # resting user orders on the passive side at or better than the touch go first
        qty = self._passive_user_fills(st, Side.BUY if buy else Side.SELL, qty, t)
        if qty > 0:
            levels = st.asks if buy else st.bids
            qty = min(qty, levels[0].qty)
            limit = st.upper if buy else st.lower
            for price, q in self._take(st, Side.BUY if buy else Side.SELL, limit, qty):
                self._record_trade(st, t, price, q if buy else -q)
        self._match_crossing(st, t)
        self._dirty[st.stock.code] = st

    # --- the flood path -----------------------------------------------------------------
    def _bulk_step(
        self, prev: datetime, now: datetime, dt: float, active_codes: Sequence[str]
    ) -> int:
        """One step at a high rate: each trading stock draws its trade count (Poisson with
        its share of the rate) and makes them in one tight loop (:meth:`_bulk_trades`).

        Stocks with resting user orders keep the per-trade path (their orders must match
        trade by trade); within a step trades are emitted stock by stock (each stock's
        trades in time order), then one book per changed stock.
        """
        if self._probs is None:
            codes, weights = self._focus or (self.codes, self._cum_weights)
            top = weights[-1] or 1.0
            probs = [(w - p) / top for w, p in zip(weights, [0.0, *weights[:-1]], strict=True)]
            self._probs = (codes, probs)
        codes, probs = self._probs
        lam = self.trades_per_s * dt
        cap = max(
            self.config.max_trades_per_step,
            int(self.trades_per_s * self.config.tick_interval_s * 4),
        )
        if lam > cap:
            lam = float(cap)
        rng = self._rng
        t0 = datetime_to_us(prev)
        span = datetime_to_us(now) - t0
        active = set(active_codes)
        made = 0
        for code in active_codes:
            n = _poisson(rng, self.config.active_order_stock_rate * dt)
            made += self._slow_trades(code, prev, dt, n)
        for code, p in zip(codes, probs, strict=True):
            k = _poisson(rng, lam * p)
            if not k:
                continue
            if code in active:
                made += self._slow_trades(code, prev, dt, k)
                continue
            st = self.state(code)
            if st.vi_until is None:
                made += self._bulk_trades(st, k, t0, span)
        self.flush_books()
        return made

    def _slow_trades(self, code: str, prev: datetime, dt: float, n: int) -> int:
        rnd = self._rng.random
        made = 0
        for off in sorted(rnd() * dt for _ in range(n)):
            st = self.state(code)
            if st.vi_until is not None:
                break
            self._market_trade(st, prev + timedelta(seconds=off))
            made += 1
        return made

    def _ladder(self, st: StockState) -> tuple[list[int], dict[int, int]]:
        """Every valid price inside today's limits (KRX tick bands) and its index."""
        if not st.ladder:
            ladder, p = [], st.lower
            while p <= st.upper:
                ladder.append(p)
                p = krx.tick_up(p)
            st.ladder = ladder
            st.ladder_ix = {p: i for i, p in enumerate(ladder)}
        if not st.sizes:
            rng, typ = st.rng, st.typical_qty
            st.sizes = [max(1, int(typ * rng.lognormvariate(0.0, 0.7))) for _ in range(512)]
            st.level_sizes = [max(1, int(typ * rng.uniform(0.5, 3.0))) for _ in range(512)]
        return st.ladder, st.ladder_ix

    def _bulk_trades(self, st: StockState, k: int, t0: int, span: int) -> int:
        """Up to ``k`` market trades of one stock at times spread over ``[t0, t0 + span)``
        (epoch µs), in one loop; returns how many were made.

        The same model as :meth:`_market_trade`: book noise, a buy or sell (pulled back
        towards the base price) takes liquidity at the touch; an emptied level moves the
        touch one tick on the precomputed price ladder (never outside the daily limits) and
        the other side usually steps into the gap. Recorded once per batch in the ground
        truth, the trade history and the minute bars, and emitted as one TradeBatch.
        """
        ladder, lix = self._ladder(st)
        asks, bids = st.asks, st.bids
        if not asks and not bids:
            return 0
        rnd = st.rng.random
        sizes = st.sizes
        nsz = len(sizes)
        typ = st.typical_qty
        base = st.base_price
        top_ix = len(ladder) - 1
        th = self.config.vi_threshold
        ref = st.vi_ref or base
        vi_hi, vi_lo = (ref + ref * th, ref - ref * th) if th > 0 and ref else (math.inf, -1.0)
        cumv0, cumval0 = st.cum_volume, st.cum_value_krw
        op = st.open
        p_buy = min(0.8, max(0.2, 0.5 - 1.5 * (st.last / base - 1.0))) if base else 0.5
        # book noise (quantity nudges) once per batch rather than before every trade
        for _ in range(1 + k // 8):
            side = asks if rnd() < 0.5 else bids
            if side:
                lvl = side[int(rnd() * len(side))]
                lvl.qty = max(1, lvl.qty + int(typ * (rnd() * 1.1 - 0.5)))
        pl: list[int] = []
        vl: list[int] = []
        al: list[int] = []
        bl: list[int] = []
        lqs = st.level_sizes
        nlq = len(lqs)
        level = _Level
        ba = asks[0].price if asks else 0
        bb = bids[0].price if bids else 0
        gap = True
        vi_hit = False
        for _ in range(k):
            if gap:
                # a spread wider than one tick is usually filled by a new level
                ia, ib = lix.get(ba, -1), lix.get(bb, -1)
                if ia - ib <= 1 or ib < 0 or not bb:
                    gap = False
                elif rnd() < 0.5:
                    if rnd() < 0.5:
                        bb = ladder[ib + 1]
                        bids.insert(0, level(bb, lqs[int(rnd() * nlq)]))
                        del bids[BOOK_LEVELS:]
                    else:
                        ba = ladder[ia - 1]
                        asks.insert(0, level(ba, lqs[int(rnd() * nlq)]))
                        del asks[BOOK_LEVELS:]
            # buy-initiated with p_buy unless that side of the book is empty
            buy = (bool(asks) or not bids) if rnd() < p_buy else not bids
            levels = asks if buy else bids
            if not levels:
                break
            lvl = levels[0]
            q = sizes[int(rnd() * nsz)]
            price = lvl.price
            if q >= lvl.qty:
                # the level is emptied: the touch moves one tick on the ladder, a new level
                # appears at the far end, and usually the other side steps into the gap
                q = lvl.qty
                del levels[0]
                if buy:
                    j = lix.get(asks[-1].price if asks else price, top_ix)
                    if j < top_ix:
                        asks.append(level(ladder[j + 1], lqs[int(rnd() * nlq)]))
                    ba = asks[0].price if asks else 0
                    if rnd() < 0.6 and bb < price and (not ba or price < ba):
                        bids.insert(0, level(price, lqs[int(rnd() * nlq)]))
                        del bids[BOOK_LEVELS:]
                        bb = price
                else:
                    j = lix.get(bids[-1].price if bids else price, 0)
                    if j > 0:
                        bids.append(level(ladder[j - 1], lqs[int(rnd() * nlq)]))
                    bb = bids[0].price if bids else 0
                    if rnd() < 0.6 and (not ba or ba > price) and price > bb:
                        asks.insert(0, level(price, lqs[int(rnd() * nlq)]))
                        del asks[BOOK_LEVELS:]
                        ba = price
                gap = True
                p_buy = 0.5 - 1.5 * (price / base - 1.0)
                p_buy = 0.8 if p_buy > 0.8 else (0.2 if p_buy < 0.2 else p_buy)
            else:
                lvl.qty -= q
            pl.append(price)
            vl.append(q if buy else -q)
            al.append(ba)
            bl.append(bb)
            if price >= vi_hi or price <= vi_lo:
                vi_hit = True
                break
        m = len(pl)
        if not m:
            return 0
        # columns derived in C (accumulate/map) rather than per trade in the loop
        step = span / m
        last_us = datetime_to_us(st.last_trade_time) if st.last_trade_time else 0
        tl = [t0 + int((i + rnd()) * step) for i in range(m)]
        if tl[0] < last_us:
            tl = [t if t > last_us else last_us for t in tl]
        ql = list(map(abs, vl))
        cvl = list(accumulate(ql, initial=cumv0))
        del cvl[0]
        cval = list(accumulate(map(mul, pl, ql), initial=cumval0))
        del cval[0]
        if not op:
            op = pl[0]
            hl = list(accumulate(pl, max))
            ll = list(accumulate(pl, min))
        else:
            hl = list(accumulate(pl, max, initial=st.high))
            del hl[0]
            ll = list(accumulate(pl, min, initial=st.low))
            del ll[0]
        st.open, st.high, st.low = op, hl[-1], ll[-1]
        st.last = pl[-1]
        st.cum_volume, st.cum_value_krw = cvl[-1], cval[-1]
        seq0 = st.seq
        st.seq += m
        last_t = us_to_datetime(tl[-1])
        st.last_trade_time = last_t
        batch = TradeBatch(st.stock.code, base, op, seq0, tl, pl, vl, cvl, cval, hl, ll, al, bl)
        st.trades.extend_batch(batch)
        self.ground_truth.add_batch(batch)
        self._bars_from_batch(st, batch)
        self._dirty[st.stock.code] = st
        self._emit_batch(batch)
        if vi_hit:
            self._check_vi(st, last_t, pl[-1])
        return m

    @staticmethod
    def _bars_from_batch(st: StockState, b: TradeBatch) -> None:
        """Fold a batch into the 1-minute bars (per minute slice, not per trade)."""
        tl, pl, cvl, cval = b.time_us, b.price, b.cum_volume, b.cum_value_krw
        n = len(tl)
        prev_cum = cvl[0] - abs(b.volume[0])
        prev_val = cval[0] - pl[0] * abs(b.volume[0])
        bars = st.minute_bars
        i = 0
        while i < n:
            minute = tl[i] - tl[i] % 60_000_000
            j = bisect.bisect_left(tl, minute + 60_000_000, i)
            seg = pl[i:j]
            hi, lo, close = max(seg), min(seg), pl[j - 1]
            vol, val = cvl[j - 1] - prev_cum, cval[j - 1] - prev_val
            start = us_to_datetime(minute)
            if bars and bars[-1].start == start:
                bar = bars[-1]
                bar.high = max(bar.high, hi)
                bar.low = min(bar.low, lo)
                bar.close = close
                bar.volume += vol
                bar.value += val
                bar.trade_count += j - i
                bar.cum_volume = cvl[j - 1]
            else:
                bars.append(Bar(start, pl[i], hi, lo, close, vol, val, j - i, cvl[j - 1]))
            prev_cum, prev_val = cvl[j - 1], cval[j - 1]
            i = j

    def _emit_batch(self, batch: TradeBatch) -> None:
        """Listeners with ``on_batch`` get the batch; the others its :class:`Trade` events."""
        trades: list[Trade] | None = None
        for listener in list(self._listeners):
            on_batch = getattr(listener, "on_batch", None)
            if on_batch is not None:
                on_batch(batch)
                continue
            if trades is None:
                trades = batch.trades()
            for t in trades:
                listener(t)

    def _jitter(self, st: StockState) -> None:
        """Small book changes between trades: refill a spread gap, nudge a quantity."""
        rng = st.rng
        if st.asks and st.bids and krx.tick_down(st.best_ask) > st.best_bid and rng.random() < 0.5:
            if rng.random() < 0.5:
                self._insert(st.bids, _Level(krx.tick_up(st.best_bid), self._level_qty(st)), 0)
            else:
                self._insert(st.asks, _Level(krx.tick_down(st.best_ask), self._level_qty(st)), 0)
        side = st.asks if rng.random() < 0.5 else st.bids
        if side:
            lvl = side[rng.randrange(len(side))]
            lvl.qty = max(1, lvl.qty + int(st.typical_qty * rng.uniform(-0.5, 0.6)))

    @staticmethod
    def _insert(levels: list[_Level], level: _Level, pos: int) -> None:
        levels.insert(pos, level)
        del levels[BOOK_LEVELS:]

    def _take(self, st: StockState, side: Side, limit: int, qty: int) -> list[tuple[int, int]]:
        """Consume book liquidity for an aggressor ``side`` up to ``limit``; returns fills.

        An exhausted level is removed, a new level appears at the far end, and usually
        the other side steps into the gap (so the spread is mostly one tick).
        """
        levels = st.asks if side == Side.BUY else st.bids
        fills: list[tuple[int, int]] = []
        while qty > 0 and levels:
            lvl = levels[0]
            if (side == Side.BUY and lvl.price > limit) or (
                side == Side.SELL and lvl.price < limit
            ):
                break
            q = min(qty, lvl.qty)
            fills.append((lvl.price, q))
            qty -= q
            lvl.qty -= q
            if lvl.qty == 0:
                levels.pop(0)
                self._refill(st, side, lvl.price)
        return fills

    def _refill(self, st: StockState, side: Side, taken_price: int) -> None:
        rng = st.rng
        if side == Side.BUY:
            far = st.asks[-1].price if st.asks else taken_price
            nxt = krx.tick_up(far)
            if nxt <= st.upper:
                st.asks.append(_Level(nxt, self._level_qty(st)))
            if (
                rng.random() < 0.6
                and (not st.bids or st.best_bid < taken_price)
                and (not st.asks or taken_price < st.best_ask)
            ):
                self._insert(st.bids, _Level(taken_price, self._level_qty(st)), 0)
        else:
            far = st.bids[-1].price if st.bids else taken_price
            nxt = krx.tick_down(far)
            if nxt >= st.lower and nxt < far:
                st.bids.append(_Level(nxt, self._level_qty(st)))
            if (
                rng.random() < 0.6
                and (not st.asks or st.best_ask > taken_price)
                and (not st.bids or taken_price > st.best_bid)
            ):
                self._insert(st.asks, _Level(taken_price, self._level_qty(st)), 0)

    def _record_trade(self, st: StockState, t: datetime, price: int, signed_qty: int) -> Trade:
        qty = abs(signed_qty)
        st.last = price
        if not st.open:
            st.open = st.high = st.low = price
        st.high = max(st.high, price)
        st.low = min(st.low, price)
        st.cum_volume += qty
        st.cum_value_krw += price * qty
        st.seq += 1
        t = max(t, st.last_trade_time) if st.last_trade_time else t
        st.last_trade_time = t
        trade: Trade = _new_trade(
            st.stock.code,
            t,
            price,
            signed_qty,
            st.cum_volume,
            st.cum_value_krw // 1_000_000,
            st.open,
            st.high,
            st.low,
            st.base_price,
            st.asks[0].price if st.asks else 0,
            st.bids[0].price if st.bids else 0,
            st.seq,
        )
        st.trades.append(trade)
        self.ground_truth.add(trade)
        minute = t.replace(second=0, microsecond=0)
        if st.minute_bars and st.minute_bars[-1].start == minute:
            st.minute_bars[-1].add(price, qty, st.cum_volume)
        else:
            st.minute_bars.append(Bar.opened(minute, price, qty, st.cum_volume))
        self.emit(trade)
        if self.config.vi_threshold:
            self._check_vi(st, t, price)
        return trade

    def _emit_book(self, st: StockState, t: datetime) -> None:
        self.emit(self.book(st.stock.code, t))

    def book(self, code: str, t: datetime | None = None) -> BookUpdate:
        """The current 10-level book of ``code`` as an event snapshot."""
        st = self.state(code)
        return BookUpdate(
            code=code,
            time=t or self.now,
            asks=tuple(BookLevel(lv.price, lv.qty) for lv in st.asks),
            bids=tuple(BookLevel(lv.price, lv.qty) for lv in st.bids),
            base_price=st.base_price,
            cum_volume=st.cum_volume,
        )

    # --- user orders ----------------------------------------------------------------------
    def available(self, code: str, side: Side, limit: int) -> int:
        """Shares displayed on the opposite side that an aggressor could take up to ``limit``."""
        st = self.state(code)
        levels = st.asks if side == Side.BUY else st.bids
        return sum(
            lv.qty
            for lv in levels
            if (lv.price <= limit if side == Side.BUY else lv.price >= limit)
        )

    def execute(self, order: Order, limit: int, t: datetime) -> int:
        """Fill ``order`` (an aggressor) against the book up to ``limit``; returns shares.

        Each fill is a trade (emitted to listeners) and is reported to the fill sink.
        """
        st = self.state(order.code)
        filled = 0
        while order.open_qty > 0:
            fills = self._take(st, order.side, limit, order.open_qty)
            if not fills:
                break
            for price, q in fills:
                self._record_trade(st, t, price, q if order.side == Side.BUY else -q)
                self._fill(order, price, q, t)
                filled += q
        self._emit_book(st, t)
        return filled

    def rest(self, order: Order) -> None:
        """Let a limit ``order`` wait in the stock's book (price, then time priority)."""
        st = self.state(order.code)
        book = st.user_bids if order.side == Side.BUY else st.user_asks
        book.append(order)
        if order.side == Side.BUY:
            book.sort(key=lambda o: (-o.limit_price, o.seq))
        else:
            book.sort(key=lambda o: (o.limit_price, o.seq))

    def unrest(self, order: Order) -> None:
        st = self.state(order.code)
        for book in (st.user_bids, st.user_asks):
            if order in book:
                book.remove(order)

    def active_codes(self) -> list[str]:
        return [c for c, st in self._states.items() if st.user_bids or st.user_asks]

    def _fill(self, order: Order, price: int, qty: int, t: datetime) -> None:
        if self.fill_sink is not None:
            self.fill_sink(order, price, qty, t)

    def _passive_user_fills(self, st: StockState, aggressor: Side, qty: int, t: datetime) -> int:
        """A market aggressor first trades with user orders at or better than the touch."""
        book = st.user_asks if aggressor == Side.BUY else st.user_bids
        touch = st.best_ask if aggressor == Side.BUY else st.best_bid
        while qty > 0 and book:
            order = book[0]
            better = (
                order.limit_price <= touch if aggressor == Side.BUY else order.limit_price >= touch
            ) or touch == 0
            if not better:
                break
            q = min(qty, order.open_qty)
            self._record_trade(st, t, order.limit_price, q if aggressor == Side.BUY else -q)
            self._fill(order, order.limit_price, q, t)
            qty -= q
            if order.open_qty <= 0:
                book.pop(0)
        return qty

    def _match_crossing(self, st: StockState, t: datetime) -> None:
        """Resting user orders that the moving book now crosses trade as aggressors."""
        for book, side in ((st.user_bids, Side.BUY), (st.user_asks, Side.SELL)):
            for order in list(book):
                touch = st.best_ask if side == Side.BUY else st.best_bid
                if not touch:
                    break
                crosses = (
                    order.limit_price >= touch if side == Side.BUY else order.limit_price <= touch
                )
                if not crosses:
                    break
                for price, q in self._take(st, order.side, order.limit_price, order.open_qty):
                    self._record_trade(st, t, price, q if side == Side.BUY else -q)
                    self._fill(order, price, q, t)
                if order.open_qty <= 0:
                    book.remove(order)

    # --- history ------------------------------------------------------------------------
    def history_dates(self) -> list[date]:
        """Trading days of the synthetic history, oldest first (before the start day)."""
        if self._history_dates is None:
            days: list[date] = []
            day = self.start_day
            while len(days) < self.config.history_days:
                day = krx.previous_trading_day(day)
                days.append(day)
            self._history_dates = days[::-1]
        return self._history_dates

    def daily_bars(self, code: str) -> list[Bar]:
        """Daily bars oldest first: synthetic history, days of this run, then today."""
        st = self.state(code)
        bars = list(self._synthetic(st.stock))
        bars.extend(st.past_days)
        today = _day_bar(st)
        if today is not None:
            bars.append(today)
        return bars

    def _synthetic(self, stock: Stock) -> list[Bar]:
        """A deterministic, plausible past ending at the snapshot's close (on tick grid,
        within each day's limits), generated backwards from the base price."""
        cached = self._history.get(stock.code)
        if cached is not None:
            return cached
        rng = random.Random(_stable_seed(self.config.seed + 1, stock.code))  # noqa: S311 (simulation, not crypto)
        dates = self.history_dates()
        closes = [stock.base_price]
        for _ in range(len(dates)):
            r = max(-0.12, min(0.12, rng.gauss(0.0003, 0.022)))
            prev = krx.round_to_tick(max(1, round(closes[-1] / (1 + r))))
            lower, upper = krx.price_limits(prev)
            if not lower <= closes[-1] <= upper:
                prev = closes[-1]
            closes.append(prev)
        closes.reverse()  # closes[i] is the base price of dates[i]; closes[-1] = base
        bars: list[Bar] = []
        for i, day in enumerate(dates):
            base, close = closes[i], closes[i + 1]
            lower, upper = krx.price_limits(base)
            op = krx.round_to_tick(round(base * (1 + rng.gauss(0, 0.006))))
            op = min(max(op, lower), upper)
            hi = krx.round_to_tick(round(max(op, close) * (1 + abs(rng.gauss(0, 0.01)))), "up")
            lo = krx.round_to_tick(round(min(op, close) * (1 - abs(rng.gauss(0, 0.01)))), "down")
            hi = min(max(hi, op, close), upper)
            lo = max(min(lo, op, close), lower)
            vol = max(1, int(stock.volume * rng.lognormvariate(0, 0.5)))
            bars.append(
                Bar(
                    start=datetime(day.year, day.month, day.day, tzinfo=krx.KST),
                    open=op,
                    high=hi,
                    low=lo,
                    close=close,
                    volume=vol,
                    value=vol * (op + close + hi + lo) // 4,
                    base_price=base,
                )
            )
        self._history[stock.code] = bars
        return bars


class GroundTruth:
    """Every trade the simulator made, in emission order, stored column-wise (~45 bytes a
    trade) so a long flood fits in memory. Row ``i`` has global sequence number ``i + 1``.
    Beyond ``cap`` rows, trades are counted in ``dropped`` instead of kept."""

    def __init__(self, codes: Sequence[str], cap: int) -> None:
        self.codes = list(codes)
        self._index = {c: i for i, c in enumerate(self.codes)}
        self.cap = cap
        self.dropped = 0
        self.code = array("I")
        self.time_us = array("q")
        self.price = array("q")
        self.volume = array("q")
        self.cum_volume = array("q")
        self.seq = array("q")

    def __len__(self) -> int:
        return len(self.code)

    def add(self, t: Trade) -> None:
        if len(self.code) >= self.cap:
            self.dropped += 1
            return
        self.code.append(self._index[t.code])
        self.time_us.append(int(t.time.timestamp() * 1_000_000))
        self.price.append(t.price)
        self.volume.append(t.volume)
        self.cum_volume.append(t.cum_volume)
        self.seq.append(t.seq)

    def add_batch(self, b: TradeBatch) -> None:
        """Append a :class:`TradeBatch` (flood path) column by column."""
        n = len(b.price)
        room = self.cap - len(self.code)
        if n > room:
            self.dropped += n - max(room, 0)
            n = max(room, 0)
            if not n:
                return
        self.code.extend(array("I", (self._index[b.code],)) * n)
        if n == len(b.price):
            self.time_us.extend(b.time_us)
            self.price.extend(b.price)
            self.volume.extend(b.volume)
            self.cum_volume.extend(b.cum_volume)
        else:
            self.time_us.extend(b.time_us[:n])
            self.price.extend(b.price[:n])
            self.volume.extend(b.volume[:n])
            self.cum_volume.extend(b.cum_volume[:n])
        self.seq.extend(range(b.seq0 + 1, b.seq0 + n + 1))

    def rows(
        self, since_seq: int = 0, limit: int | None = None, code: str | None = None
    ) -> list[tuple[int, str, int, int, int, int, int]]:
        """``(gseq, code, time_us, price, volume, cum_volume, stock_seq)`` after
        ``since_seq``, oldest first, at most ``limit`` rows (optionally one ``code``)."""
        n = len(self.code)
        want = self._index.get(code, -1) if code else None
        out: list[tuple[int, str, int, int, int, int, int]] = []
        i = max(0, since_seq)
        while i < n and (limit is None or len(out) < limit):
            ci = self.code[i]
            if want is None or ci == want:
                out.append(
                    (
                        i + 1,
                        self.codes[ci],
                        self.time_us[i],
                        self.price[i],
                        self.volume[i],
                        self.cum_volume[i],
                        self.seq[i],
                    )
                )
            i += 1
        return out


def _day_bar(st: StockState) -> Bar | None:
    """The stock's daily bar of its current day so far (None before its first trade)."""
    if not st.open:
        return None
    return Bar(
        start=datetime(st.day.year, st.day.month, st.day.day, tzinfo=krx.KST),
        open=st.open,
        high=st.high,
        low=st.low,
        close=st.last,
        volume=st.cum_volume,
        value=st.cum_value_krw,
        base_price=st.base_price,
    )


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


Direction = Literal["up", "down"]
