"""The market model: every stock's state, trade generation, and the one place a trade is
recorded. Single source of truth for everything market-related the simulator serves.

See the package docstring for the model. The parts live in their own modules, below this
one: the state of a stock (``_stock``), its book (``_book``), the flood path
(``_flood``), matching of user orders (``_matching``), phases, auctions and VI
(``_sessions``), ground truth and synthetic history (``_history``). Day rollover (close →
next base price) happens when a stock is next touched.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from gslts_kiwoom import krx
from gslts_kiwoom.models import Bar, OrderType, Side
from gslts_kiwoom.realtime import _fast_factory
from gslts_kiwoom.sim import _book, _flood, _matching
from gslts_kiwoom.sim._config import SimConfig
from gslts_kiwoom.sim._events import (
    BookUpdate,
    MarketEvent,
    MarketTrade,
    TradeBatch,
    datetime_to_us,
)
from gslts_kiwoom.sim._history import GroundTruth, MinuteCache, SyntheticHistory
from gslts_kiwoom.sim._orders import Order
from gslts_kiwoom.sim._sector_feed import SectorFeed
from gslts_kiwoom.sim._sessions import (
    CLOSING_CALL_START,
    CONTINUOUS_START,
    NXT_DAY_END,
    SINGLE_PRICE_CROSS_TIMES,
    PhaseClock,
    ViMonitor,
    auction_crossings,
    single_price_band,
    times_between,
    trading_open,
)
from gslts_kiwoom.sim._stock import SimStock, TradeHistory, stable_seed
from gslts_kiwoom.sim._universe import Stock

#: Seconds of a KRX regular day used to turn a real day's value into a trade rate.
SESSION_SECONDS = 23_400
#: MarketTrade(...) without the frozen-dataclass ``__setattr__`` cost (the per-trade hot path).
_new_trade = _fast_factory(MarketTrade)

#: Called with every fill of a user order: ``(order, price, qty, time)`` (the broker).
FillSink = Callable[[Order, int, int, datetime], None]
#: Called when the exchange ends a resting user order at the end of its session (the
#: broker cancels what is left): ``(order, time)``.
ExpireSink = Callable[[Order, datetime], None]
#: Called when a 스톱지정가 reaches its stop, before it trades (the broker emits its 00
#: and may refuse it): ``(order, time)`` → False when the order was refused.
TriggerSink = Callable[[Order, datetime], bool]
#: Venues whose resting orders take part in KRX's auctions and end with KRX's day.
KRX_VENUES = frozenset({"KRX", "SOR"})


class Market:
    """All stocks' state, trade generation, and matching of user orders against books."""

    def __init__(self, config: SimConfig, universe: Sequence[Stock], now: datetime) -> None:
        self.config = config
        self.universe = {s.code: s for s in universe}
        self.codes = [s.code for s in universe]
        self.now = now.astimezone(krx.KST)
        self.start_day = self.now.date()
        self._rng = random.Random(config.seed)  # noqa: S311 (simulation, not crypto)
        self._states: dict[str, SimStock] = {}
        self._listeners: list[Callable[[MarketEvent], None]] = []
        self.fill_sink: FillSink | None = None
        self.expire_sink: ExpireSink | None = None
        self.trigger_sink: TriggerSink | None = None
        total = sum(s.value for s in universe) or 1
        acc = 0.0
        self._cum_weights: list[float] = []
        for s in universe:
            acc += s.value / total
            self._cum_weights.append(acc)
        # KRW per trade such that a stock trades its real daily value over a session
        rate = config.trades_per_s or 10.0
        self._value_per_trade = total / (SESSION_SECONDS * rate)
        self._history = SyntheticHistory(config.seed, self.start_day, config.history_days)
        #: the sector link's US feed and world (None without SimConfig.sector_links)
        self.sector_feed: SectorFeed | None = None
        if config.sector_links:
            self.sector_feed = SectorFeed(
                config.sector_world,
                config.sector_links,
                config.seed,
                self._history.dates,
                self.start_day,
            )
            self._history.sector = self.sector_feed
        self._minutes = MinuteCache(config.seed)
        #: market-wide trades per simulated second (settable at run time)
        self.trades_per_s = config.trades_per_s
        #: every trade of the run in emission order (ground truth), up to the cap
        self.ground_truth = GroundTruth(self.codes, config.ground_truth_cap)
        #: stocks whose book changed in the current step (one BookUpdate each at its end)
        self._dirty: dict[str, SimStock] = {}
        self._focus: tuple[list[str], list[float]] | None = None
        #: per-stock share of the market-wide rate (the flood path's Poisson draws)
        self._probs: tuple[list[str], list[float]] | None = None
        self._vi = ViMonitor(config.vi_threshold, config.vi_duration_s)
        self._phases = PhaseClock()
        if config.trade_universe:
            self.set_trade_codes(
                [s.code for s in sorted(universe, key=lambda s: -s.value)][: config.trade_universe]
            )

    @property
    def phase_code(self) -> str:
        """The current 장운영구분 (FID 215) under ``clock="krx"``; ``""`` before any."""
        return self._phases.code

    @property
    def in_auction(self) -> bool:
        """True while a single-price call auction collects orders (``clock="krx"``)."""
        return self._phases.in_auction

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

    def _emit_batch(self, batch: TradeBatch) -> None:
        """Listeners with ``on_batch`` get the batch; the others its :class:`MarketTrade` events."""
        trades: list[MarketTrade] | None = None
        for listener in list(self._listeners):
            on_batch = getattr(listener, "on_batch", None)
            if on_batch is not None:
                on_batch(batch)
                continue
            if trades is None:
                trades = batch.trades()
            for t in trades:
                listener(t)

    # --- state ------------------------------------------------------------------------
    def state(self, code: str) -> SimStock:
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

    def peek(self, code: str) -> SimStock | None:
        """The state of ``code`` if it was ever touched, without creating or rolling it
        (untouched stocks sit at their base price)."""
        return self._states.get(code)

    def touched(self) -> list[SimStock]:
        """States of the stocks touched so far (others are at their base price)."""
        return [self.state(c) for c in list(self._states)]

    def _new_state(self, stock: Stock) -> SimStock:
        rng = random.Random(stable_seed(self.config.seed, stock.code))  # noqa: S311 (simulation, not crypto)
        typical = max(1, round(self._value_per_trade / stock.base_price))
        lower, upper = krx.price_limits(stock.base_price)
        st = SimStock(
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

    def _start_day(self, st: SimStock, reference_volume: int) -> None:
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
        _book.open_book(st)

    def _roll(self, st: SimStock, day: date) -> None:
        """Close the stock's day: record the daily bar; the close becomes the base price."""
        today = st.day_bar()
        if today is not None:
            st.past_days.append(today)
        st.prev_volume = st.cum_volume
        st.base_price = st.last
        st.day = day
        st.seq = 0
        self._vi.reset(st)
        self._start_day(st, st.stock.volume)

    def rebase(self, st: SimStock, base_price: int) -> None:
        """Move the stock's day to a new base price (and its limits); a replayed file
        whose prices lie outside the simulated day's limits needs it."""
        st.base_price = base_price
        st.lower, st.upper = krx.price_limits(base_price)

    # --- time ---------------------------------------------------------------------------
    def trading_open(self, t: datetime) -> bool:
        """True when continuous matching runs at ``t`` under the configured clock."""
        return trading_open(self.config.clock, t)

    def matching_open(self, venue: str, t: datetime) -> bool:
        """True when an order for ``venue`` matches continuously at ``t``: KRX in its
        continuous session, NXT in its pre-, main and after-market, SOR in either; always
        under ``clock="always"``."""
        if self.config.clock == "always":
            return True
        krx_open = krx.phase_at(t, "KRX") is krx.Phase.CONTINUOUS
        nxt_open = krx.phase_at(t, "NXT").is_continuous
        return {"KRX": krx_open, "NXT": nxt_open}.get(venue, krx_open or nxt_open)

    def step(self, now: datetime, active_codes: Sequence[str] = ()) -> int:
        """Advance the market to ``now``, generating trades; returns how many were made."""
        now = now.astimezone(krx.KST)
        if now <= self.now:
            return 0
        prev = self.now
        dt = (now - prev).total_seconds()
        self.now = now
        if self.config.clock == "krx":
            self._advance_phases(prev, now)
        for released in self._vi.release(now):
            self.emit(released)
        if not self.trading_open(now):
            return 0
        if self.config.clock == "krx":
            # a step that began before the continuous session makes trades only in it
            opens = datetime.combine(now.date(), CONTINUOUS_START, tzinfo=krx.KST)
            if prev < opens:
                prev, dt = opens, (now - opens).total_seconds()
        if self.trades_per_s >= self.config.bulk_min_trades_per_s:
            return self._bulk_step(prev, now, dt, active_codes)
        events: list[tuple[datetime, str]] = []
        cap = self._step_cap()
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

    def _step_cap(self) -> int:
        """Most trades one step makes: at least 4 ticker intervals' worth of the rate."""
        return max(
            self.config.max_trades_per_step,
            int(self.trades_per_s * self.config.tick_interval_s * 4),
        )

    def flush_books(self) -> None:
        """Emit one BookUpdate for every stock whose book changed since the last flush."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        for st in dirty.values():
            self.emit(_book.snapshot(st, st.last_trade_time or self.now))

    def mark_book_changed(self, st: SimStock) -> None:
        """The stock's book goes out (one BookUpdate) at the next :meth:`flush_books`."""
        self._dirty[st.stock.code] = st

    # --- phases, auctions, VI -------------------------------------------------------------
    def _advance_phases(self, prev: datetime, now: datetime) -> None:
        """KRX clock, in time order: the call auctions' crossings at 09:00 / 15:30 (then
        KRX's resting day orders end), 조건부지정가 turning market at 15:20, the
        시간외단일가 rounds 16:10…18:00 (then the waiting ones end), NXT's end at 20:00; 0s
        events on phase changes."""
        if not krx.is_trading_day(now.date()):
            return
        moments: list[tuple[datetime, Callable[[datetime], None]]] = [
            *((at, self._cross_auction) for at in auction_crossings(prev, now)),
            *((at, self._closing_call) for at in times_between(prev, now, (CLOSING_CALL_START,))),
            *(
                (at, self._single_price_round)
                for at in times_between(prev, now, SINGLE_PRICE_CROSS_TIMES)
            ),
            *((at, self._nxt_day_end) for at in times_between(prev, now, (NXT_DAY_END,))),
        ]
        for at, run in sorted(moments, key=lambda m: m[0]):
            run(at)
        was_auction = self._phases.in_auction
        change = self._phases.advance(now)
        if change is not None:
            self.emit(change)
        if self._phases.in_auction != was_auction:
            # a call auction began or ended: the participating stocks' books go out, with
            # (then without) the indicative crossing price (0D FID 23/24), as KRX's 예상체결
            # does, so a subscriber sees 동시호가 start and end live
            for code in self.auction_codes():
                self._dirty[code] = self.state(code)
            self.flush_books()

    def auction_codes(self) -> list[str]:
        """Stocks that take part in an auction crossing: the trade universe's top 100 by
        value plus every stock touched so far."""
        codes, _ = self._focus or (self.codes, self._cum_weights)
        top = sorted(codes, key=lambda c: -self.universe[c].value)[:100]
        return sorted(set(top) | set(self._states))

    def _cross_auction(self, at: datetime) -> None:
        """A single-price call auction ends: every participating stock trades once, at one
        price (its last price), for the volume that accumulated during the call; the user
        orders waiting at or through that price trade at it too
        (:func:`._matching.cross_user_orders`). After the closing call (15:30) KRX's
        resting day orders end (NXT's live on in its after-market)."""
        for code in self.auction_codes():
            st = self.state(code)
            rng = st.rng
            qty = max(1, int(st.typical_qty * rng.lognormvariate(1.0, 0.5)))
            self.record_trade(st, at, st.last, qty if rng.random() < 0.5 else -qty)
            if st.user_bids or st.user_asks:
                _matching.cross_user_orders(self, st, st.last, at, KRX_VENUES)
            if st.user_stops:
                _matching.trigger_stops(self, st, at)
            self._dirty[code] = st
        if at.time() >= CLOSING_CALL_START:
            for st in list(self._states.values()):
                for order in _day_orders(st):
                    if order.venue in KRX_VENUES:
                        self._expire(st, order, at)
        self.flush_books()

    def _closing_call(self, at: datetime) -> None:
        """15:20: 조건부지정가 orders still open become market orders for the closing call
        (PROTOCOL §8.3)."""
        for st in self._states.values():
            changed = False
            for order in [*st.user_bids, *st.user_asks]:
                if order.trade_type is OrderType.CONDITIONAL_LIMIT and order.venue in KRX_VENUES:
                    order.limit_price = st.upper if order.side == Side.BUY else st.lower
                    changed = True
            if changed:
                st.user_bids.sort(key=lambda o: (-o.limit_price, o.seq))
                st.user_asks.sort(key=lambda o: (o.limit_price, o.seq))

    def _single_price_round(self, at: datetime) -> None:
        """A 시간외단일가 round crosses: each stock with waiting orders gets a price (a small
        random walk from today's close, or from the last round, inside the ±10 % band;
        deterministic per seed, stock and round) at which the orders at or through it
        trade; after the last round (18:00) the others end."""
        last_round = at.time() == SINGLE_PRICE_CROSS_TIMES[-1]
        for st in list(self._states.values()):
            if not st.user_single:
                continue
            code = st.stock.code
            rng = random.Random(stable_seed(self.config.seed + 3, f"{code}:{at:%Y%m%d%H%M}"))  # noqa: S311
            price = st.single_price or st.last
            steps = rng.randint(-2, 2)
            price = krx.tick_up(price, steps) if steps > 0 else krx.tick_down(price, -steps)
            low, high = single_price_band(st.last, st.lower, st.upper)
            st.single_price = min(max(price, low), high)
            _matching.cross_single_price(self, st, st.single_price, at)
            if last_round:
                for order in list(st.user_single):
                    self._expire(st, order, at)

    def _nxt_day_end(self, at: datetime) -> None:
        """20:00: NXT's after-market closes; NXT orders still resting end."""
        for st in list(self._states.values()):
            for order in _day_orders(st):
                if order.venue == "NXT":
                    self._expire(st, order, at)

    def _expire(self, st: SimStock, order: Order, at: datetime) -> None:
        _matching.unrest(st, order)
        if self.expire_sink is not None:
            self.expire_sink(order, at)

    def _check_vi(self, st: SimStock, t: datetime, price: int) -> None:
        triggered = self._vi.check(st, t, price)
        if triggered is not None:
            self.emit(triggered)

    # --- trade generation ---------------------------------------------------------------
    def _market_trade(self, st: SimStock, t: datetime) -> None:
        rng = st.rng
        # book noise first, so the trade's best ask/bid (0B FID 27/28) is the book after it
        _book.jitter(st)
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
        side = Side.BUY if buy else Side.SELL
        qty = max(1, int(st.typical_qty * rng.lognormvariate(0.0, 0.7)))
        # the user's mid-price orders, then resting user orders at or better than the
        # touch, go first
        if st.user_mids:
            qty = _matching.mid_fills(self, st, side, qty, t)
        qty = _matching.passive_fills(self, st, side, qty, t)
        if qty > 0:
            levels = st.asks if buy else st.bids
            qty = min(qty, levels[0].qty)
            limit = st.upper if buy else st.lower
            for price, q in _book.take(st, side, limit, qty):
                self.record_trade(st, t, price, q if buy else -q)
        _matching.match_crossing(self, st, t)
        if st.user_stops:
            _matching.trigger_stops(self, st, t)
        self._dirty[st.stock.code] = st

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
        lam = min(self.trades_per_s * dt, float(self._step_cap()))
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

    def _bulk_trades(self, st: SimStock, k: int, t0: int, span: int) -> int:
        """Up to ``k`` trades of ``st`` in one batch (:func:`._flood.bulk_trades`), recorded
        in the ground truth and emitted; returns how many were made."""
        batch, vi_hit = _flood.bulk_trades(st, k, t0, span, self._vi.bounds(st))
        if batch is None:
            return 0
        self.ground_truth.add_batch(batch)
        self._dirty[st.stock.code] = st
        self._emit_batch(batch)
        if vi_hit and st.last_trade_time is not None:
            self._check_vi(st, st.last_trade_time, st.last)
        return len(batch)

    # --- recording ----------------------------------------------------------------------
    def record_trade(
        self, st: SimStock, t: datetime, price: int, signed_qty: int, *, regular: bool = True
    ) -> MarketTrade:
        """The one place a trade of the per-trade path is recorded: the stock's day, its
        trade history and minute bar, the ground truth, the listeners, then VI.

        ``regular=False``: an off-hours trade (장전/장후시간외, 시간외단일가): it adds to the
        day's volume, history and ground truth, but not to its price (last, open, high,
        low: the close stays the regular session's), minute bars or VI.
        """
        qty = abs(signed_qty)
        if regular:
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
        trade: MarketTrade = _new_trade(
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
        if regular:
            minute = t.replace(second=0, microsecond=0)
            if st.minute_bars and st.minute_bars[-1].start == minute:
                st.minute_bars[-1].add(price, qty, st.cum_volume)
            else:
                st.minute_bars.append(Bar.opened(minute, price, qty, st.cum_volume))
        self.emit(trade)
        if regular and self.config.vi_threshold:
            self._check_vi(st, t, price)
        return trade

    def report_fill(self, order: Order, price: int, qty: int, t: datetime) -> None:
        """A user order was filled: tell the fill sink (the broker books it)."""
        if self.fill_sink is not None:
            self.fill_sink(order, price, qty, t)

    def report_trigger(self, order: Order, t: datetime) -> bool:
        """A 스톱지정가 reached its stop: tell the trigger sink (the broker); False when it
        refused the order (it must not trade)."""
        return self.trigger_sink(order, t) if self.trigger_sink is not None else True

    def book(self, code: str, t: datetime | None = None) -> BookUpdate:
        """The current 10-level book of ``code`` as an event snapshot."""
        return _book.snapshot(self.state(code), t or self.now)

    # --- user orders ----------------------------------------------------------------------
    def available(self, code: str, side: Side, limit: int) -> int:
        """Shares displayed on the opposite side that an aggressor could take up to ``limit``."""
        return _book.available(self.state(code), side, limit)

    def execute(self, order: Order, limit: int, t: datetime) -> int:
        """Fill ``order`` (an aggressor) against the book up to ``limit``; returns shares.

        Each fill is a trade (emitted to listeners) and is reported to the fill sink; the
        book goes out once afterwards.
        """
        st = self.state(order.code)
        filled = _matching.execute(self, st, order, limit, t)
        if st.user_stops:
            _matching.trigger_stops(self, st, t)
        self.emit(_book.snapshot(st, t))
        return filled

    def rest(self, order: Order) -> None:
        """Let a limit ``order`` wait in the stock's book (price, then time priority)."""
        _matching.rest(self.state(order.code), order)

    def rest_stop(self, order: Order) -> None:
        """Let a 스톱지정가 ``order`` wait (out of the book) for its stop price."""
        order.armed = True
        self.state(order.code).user_stops.append(order)

    def rest_mid(self, order: Order) -> None:
        """Let a 중간가 ``order`` rest at the mid price, ahead of the book."""
        self.state(order.code).user_mids.append(order)

    def rest_single(self, order: Order) -> None:
        """Let a 시간외단일가 ``order`` wait for the next 10-minute crossing."""
        self.state(order.code).user_single.append(order)

    def off_hours_fill(self, order: Order, price: int, t: datetime) -> None:
        """A 장전/장후시간외 ``order`` trades whole at once at its closing ``price`` (the crowd
        the model stands for takes the other side [I]); an off-hours trade."""
        st = self.state(order.code)
        q = order.open_qty
        self.record_trade(st, t, price, q if order.side == Side.BUY else -q, regular=False)
        self.report_fill(order, price, q, t)

    def unrest(self, order: Order) -> None:
        _matching.unrest(self.state(order.code), order)

    def active_codes(self) -> list[str]:
        """Stocks with resting user orders (they keep the per-trade path)."""
        return [
            c
            for c, st in self._states.items()
            if st.user_bids or st.user_asks or st.user_stops or st.user_mids
        ]

    # --- history ------------------------------------------------------------------------
    def history_dates(self) -> list[date]:
        """Trading days of the synthetic history, oldest first (before the start day)."""
        return self._history.dates()

    def minute_days(self, code: str) -> list[tuple[date, int]]:
        """Days of ``code`` with 1-minute bars (ka10080), newest first, each with its base
        price: today (live), the closed days of this run, then the most recent
        ``minute_history_days`` days of the synthetic history."""
        st = self.state(code)
        days = [(st.day, st.base_price)]
        days.extend((b.start.date(), b.base_price) for b in reversed(st.past_days))
        history = self._history.bars(st.stock)
        keep = self.config.minute_history_days
        keep = len(history) if keep is None else min(keep, len(history))
        recent = history[len(history) - keep :]
        days.extend((b.start.date(), b.base_price) for b in reversed(recent))
        return days

    def minute_bars(self, code: str, day: date) -> list[Bar]:
        """The 1-minute bars of ``code`` on ``day``, oldest first (do not change them).

        Today's and this run's closed days are the bars the market recorded (a closed day
        whose bars have left the kept window is drawn from its daily bar instead; the
        day's opening volume booked at the base price, ``initial_day_fraction``, is in the
        daily bar but in no minute bar). Days of the synthetic history are drawn from
        their daily bar (:func:`._history.synthetic_minutes`): they add up to it exactly.
        """
        st = self.state(code)
        if day == st.day:
            return [b for b in st.minute_bars if b.start.date() == day]
        daily = next((b for b in st.past_days if b.start.date() == day), None)
        if daily is not None:
            recorded = [b for b in st.minute_bars if b.start.date() == day]
            if recorded:
                return recorded
        else:
            daily = self._history.bar_on(st.stock, day)
            if daily is None:
                return []
        return self._minutes.get(code, daily)

    def daily_bars(self, code: str) -> list[Bar]:
        """Daily bars oldest first: synthetic history, days of this run, then today."""
        st = self.state(code)
        bars = list(self._history.bars(st.stock))
        bars.extend(st.past_days)
        today = st.day_bar()
        if today is not None:
            bars.append(today)
        return bars


def _day_orders(st: SimStock) -> list[Order]:
    """The user orders of ``st`` that live for the day (resting, stop, mid)."""
    return [*st.user_bids, *st.user_asks, *st.user_stops, *st.user_mids]


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
