"""The flood path (``trades_per_s >= bulk_min_trades_per_s``): a stock's trades of one
step made in one tight loop on a precomputed tick ladder and recorded column-wise as one
:class:`~gslts_kiwoom.sim._events.TradeBatch` (~10x cheaper per trade than the per-trade
path, same book model). ``tests/bench/bench_sim.py`` measures it."""

from __future__ import annotations

import bisect
from itertools import accumulate
from operator import mul

from gslts_kiwoom import krx
from gslts_kiwoom.models import Bar
from gslts_kiwoom.sim._book import BOOK_LEVELS
from gslts_kiwoom.sim._events import TradeBatch, datetime_to_us, us_to_datetime
from gslts_kiwoom.sim._stock import Level, SimStock


def ladder(st: SimStock) -> tuple[list[int], dict[int, int]]:
    """Every valid price inside today's limits (KRX tick bands) and its index."""
    if not st.ladder:
        grid, p = [], st.lower
        while p <= st.upper:
            grid.append(p)
            p = krx.tick_up(p)
        st.ladder = grid
        st.ladder_ix = {p: i for i, p in enumerate(grid)}
    if not st.sizes:
        rng, typ = st.rng, st.typical_qty
        st.sizes = [max(1, int(typ * rng.lognormvariate(0.0, 0.7))) for _ in range(512)]
        st.level_sizes = [max(1, int(typ * rng.uniform(0.5, 3.0))) for _ in range(512)]
    return st.ladder, st.ladder_ix


def bulk_trades(
    st: SimStock, k: int, t0: int, span: int, vi_bounds: tuple[float, float]
) -> tuple[TradeBatch | None, bool]:
    """Up to ``k`` market trades of one stock at times spread over ``[t0, t0 + span)``
    (epoch µs), in one loop: the batch made (None if none) and whether its last trade
    breached ``vi_bounds`` (``(hi, lo)``, see ``ViMonitor.bounds``; the batch stops there).

    The same model as the per-trade path: book noise, a buy or sell (pulled back towards
    the base price) takes liquidity at the touch; an emptied level moves the touch one
    tick on the precomputed price ladder (never outside the daily limits) and the other
    side usually steps into the gap. The stock's state, trade history and minute bars are
    updated once per batch; the caller records the batch in the ground truth and emits it.
    """
    grid, lix = ladder(st)
    asks, bids = st.asks, st.bids
    if not asks and not bids:
        return None, False
    rnd = st.rng.random
    sizes = st.sizes
    nsz = len(sizes)
    typ = st.typical_qty
    base = st.base_price
    top_ix = len(grid) - 1
    vi_hi, vi_lo = vi_bounds
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
    level = Level
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
                    bb = grid[ib + 1]
                    bids.insert(0, level(bb, lqs[int(rnd() * nlq)]))
                    del bids[BOOK_LEVELS:]
                else:
                    ba = grid[ia - 1]
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
                    asks.append(level(grid[j + 1], lqs[int(rnd() * nlq)]))
                ba = asks[0].price if asks else 0
                if rnd() < 0.6 and bb < price and (not ba or price < ba):
                    bids.insert(0, level(price, lqs[int(rnd() * nlq)]))
                    del bids[BOOK_LEVELS:]
                    bb = price
            else:
                j = lix.get(bids[-1].price if bids else price, 0)
                if j > 0:
                    bids.append(level(grid[j - 1], lqs[int(rnd() * nlq)]))
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
        return None, False
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
    st.last_trade_time = us_to_datetime(tl[-1])
    batch = TradeBatch(st.stock.code, base, op, seq0, tl, pl, vl, cvl, cval, hl, ll, al, bl)
    st.trades.extend_batch(batch)
    bars_from_batch(st, batch)
    return batch, vi_hit


def bars_from_batch(st: SimStock, b: TradeBatch) -> None:
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
