"""A stock's 10-level book: how it opens, breathes between trades, and gives liquidity.

``asks`` ascend from the best ask, ``bids`` descend from the best bid, every price on the
KRX tick grid inside the day's limits. A trade takes liquidity at the touch; an emptied
level is replaced at the far end and the other side usually steps into the gap, so the
spread is mostly one tick. Functions over a :class:`SimStock`, drawing from its own rng.
"""

from __future__ import annotations

from datetime import datetime

from gslts_kiwoom import krx
from gslts_kiwoom.models import BookLevel, Side
from gslts_kiwoom.sim._events import BookUpdate
from gslts_kiwoom.sim._stock import Level, SimStock

BOOK_LEVELS = 10


def level_qty(st: SimStock) -> int:
    """Shares of a new level: 0.5–3 typical trade sizes."""
    return max(1, int(st.typical_qty * st.rng.uniform(0.5, 3.0)))


def open_book(st: SimStock) -> None:
    """The day's first book around the base price (best ask one tick above the best bid)."""
    st.asks.clear()
    st.bids.clear()
    ask = krx.tick_up(st.base_price)
    bid = st.base_price
    if st.rng.random() < 0.5:
        ask, bid = st.base_price, krx.tick_down(st.base_price)
    for _ in range(BOOK_LEVELS):
        if ask <= st.upper:
            st.asks.append(Level(ask, level_qty(st)))
            ask = krx.tick_up(ask)
        if bid >= st.lower:
            st.bids.append(Level(bid, level_qty(st)))
            bid = krx.tick_down(bid)


def insert(levels: list[Level], level: Level, pos: int) -> None:
    """Insert ``level`` at ``pos``, keeping at most :data:`BOOK_LEVELS`."""
    levels.insert(pos, level)
    del levels[BOOK_LEVELS:]


def jitter(st: SimStock) -> None:
    """Small book changes between trades: refill a spread gap, nudge a quantity."""
    rng = st.rng
    if st.asks and st.bids and krx.tick_down(st.best_ask) > st.best_bid and rng.random() < 0.5:
        if rng.random() < 0.5:
            insert(st.bids, Level(krx.tick_up(st.best_bid), level_qty(st)), 0)
        else:
            insert(st.asks, Level(krx.tick_down(st.best_ask), level_qty(st)), 0)
    side = st.asks if rng.random() < 0.5 else st.bids
    if side:
        lvl = side[rng.randrange(len(side))]
        lvl.qty = max(1, lvl.qty + int(st.typical_qty * rng.uniform(-0.5, 0.6)))


def take(st: SimStock, side: Side, limit: int, qty: int) -> list[tuple[int, int]]:
    """Consume book liquidity for an aggressor ``side`` up to ``limit``; returns the fills
    ``(price, qty)``. An exhausted level is replaced (see :func:`refill`)."""
    levels = st.asks if side == Side.BUY else st.bids
    fills: list[tuple[int, int]] = []
    while qty > 0 and levels:
        lvl = levels[0]
        if lvl.price > limit if side == Side.BUY else lvl.price < limit:
            break
        q = min(qty, lvl.qty)
        fills.append((lvl.price, q))
        qty -= q
        lvl.qty -= q
        if lvl.qty == 0:
            levels.pop(0)
            refill(st, side, lvl.price)
    return fills


def refill(st: SimStock, side: Side, taken_price: int) -> None:
    """After an aggressor ``side`` emptied the level at ``taken_price``: a new level at the
    far end, and usually the other side steps into the gap."""
    rng = st.rng
    if side == Side.BUY:
        far = st.asks[-1].price if st.asks else taken_price
        nxt = krx.tick_up(far)
        if nxt <= st.upper:
            st.asks.append(Level(nxt, level_qty(st)))
        if (
            rng.random() < 0.6
            and (not st.bids or st.best_bid < taken_price)
            and (not st.asks or taken_price < st.best_ask)
        ):
            insert(st.bids, Level(taken_price, level_qty(st)), 0)
    else:
        far = st.bids[-1].price if st.bids else taken_price
        nxt = krx.tick_down(far)
        if nxt >= st.lower and nxt < far:
            st.bids.append(Level(nxt, level_qty(st)))
        if (
            rng.random() < 0.6
            and (not st.asks or st.best_ask > taken_price)
            and (not st.bids or taken_price > st.best_bid)
        ):
            insert(st.asks, Level(taken_price, level_qty(st)), 0)


def available(st: SimStock, side: Side, limit: int) -> int:
    """Shares displayed on the opposite side that an aggressor could take up to ``limit``."""
    levels = st.asks if side == Side.BUY else st.bids
    buy = side == Side.BUY
    return sum(lv.qty for lv in levels if (lv.price <= limit if buy else lv.price >= limit))


def snapshot(st: SimStock, t: datetime) -> BookUpdate:
    """The book of ``st`` as an immutable event at time ``t``."""
    return BookUpdate(
        code=st.stock.code,
        time=t,
        asks=tuple(BookLevel(lv.price, lv.qty) for lv in st.asks),
        bids=tuple(BookLevel(lv.price, lv.qty) for lv in st.bids),
        base_price=st.base_price,
        cum_volume=st.cum_volume,
    )
