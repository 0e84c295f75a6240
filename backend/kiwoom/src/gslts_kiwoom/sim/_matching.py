"""Matching of user orders against a stock's book and its market trades.

A new order is an aggressor (:func:`execute`); what is left of a limit order rests in the
stock's user book with price-then-time priority (:func:`rest`). Generated market trades
first trade with resting user orders at or better than the touch
(:func:`passive_fills`), and a book that moves through a resting order's price makes it
trade as an aggressor (:func:`match_crossing`). Every fill is a trade of the market
(recorded and emitted) and is reported for the account, both through a
:class:`TradeRecorder` (the market).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from gslts_kiwoom import krx
from gslts_kiwoom.models import Side
from gslts_kiwoom.sim import _book
from gslts_kiwoom.sim._events import MarketTrade
from gslts_kiwoom.sim._orders import Order
from gslts_kiwoom.sim._stock import SimStock


class TradeRecorder(Protocol):
    """Where fills go: the market records each as a trade and reports it for the account."""

    def record_trade(
        self, st: SimStock, t: datetime, price: int, signed_qty: int, *, regular: bool = True
    ) -> MarketTrade:
        """Record (and emit) one trade of ``st``; ``signed_qty`` + buy-initiated;
        ``regular=False`` for an off-hours trade (the day's price and bars stay)."""
        ...

    def report_fill(self, order: Order, price: int, qty: int, t: datetime) -> None:
        """Book ``qty`` shares of ``order`` filled at ``price``."""
        ...

    def report_trigger(self, order: Order, t: datetime) -> bool:
        """A 스톱지정가 ``order`` reached its stop; False when the broker refused it."""
        ...


def _signed(side: Side, qty: int) -> int:
    return qty if side == Side.BUY else -qty


def execute(rec: TradeRecorder, st: SimStock, order: Order, limit: int, t: datetime) -> int:
    """Fill ``order`` (an aggressor) against the book up to ``limit``; returns shares."""
    filled = 0
    while order.open_qty > 0:
        fills = _book.take(st, order.side, limit, order.open_qty)
        if not fills:
            break
        for price, q in fills:
            rec.record_trade(st, t, price, _signed(order.side, q))
            rec.report_fill(order, price, q, t)
            filled += q
    return filled


def rest(st: SimStock, order: Order) -> None:
    """Let a limit ``order`` wait in the stock's user book (price, then time priority)."""
    if order.side == Side.BUY:
        st.user_bids.append(order)
        st.user_bids.sort(key=lambda o: (-o.limit_price, o.seq))
    else:
        st.user_asks.append(order)
        st.user_asks.sort(key=lambda o: (o.limit_price, o.seq))


def unrest(st: SimStock, order: Order) -> None:
    """Take ``order`` out of the stock's user books (filled, cancelled or modified)."""
    for book in (st.user_bids, st.user_asks, st.user_single, st.user_stops, st.user_mids):
        if order in book:
            book.remove(order)


def mid_price(st: SimStock, side: Side) -> int:
    """The price a resting 중간가 order of ``side`` trades at: halfway between the best bid
    and ask, on the tick grid, rounded in the order's favour (down for a buy, up for a
    sell; with a one-tick spread that is its own best price) [I: Nextrade may trade at
    the exact mid; the model keeps every price on the grid]; 0 without both sides."""
    if not st.asks or not st.bids:
        return 0
    mid = (st.best_bid + st.best_ask) // 2
    return krx.round_to_tick(mid, "down" if side == Side.BUY else "up")


def mid_fills(rec: TradeRecorder, st: SimStock, aggressor: Side, qty: int, t: datetime) -> int:
    """A market aggressor of ``qty`` first trades with the user's 중간가 orders of the other
    side, at the mid price of the book it meets (:func:`mid_price`, ahead of the book);
    returns the quantity left."""
    passive = Side.SELL if aggressor == Side.BUY else Side.BUY
    mid = mid_price(st, passive)
    if not mid:
        return qty
    for order in list(st.user_mids):
        if qty <= 0:
            break
        if order.side != passive:
            continue
        q = min(qty, order.open_qty)
        rec.record_trade(st, t, mid, _signed(aggressor, q))
        rec.report_fill(order, mid, q, t)
        qty -= q
        if order.open_qty <= 0:
            st.user_mids.remove(order)
    return qty


def stop_reached(order: Order, last: int) -> bool:
    """A buy stop fires when the price rises to its stop, a sell stop when it falls to it."""
    return last >= order.stop_price if order.side == Side.BUY else last <= order.stop_price


def trigger_stops(rec: TradeRecorder, st: SimStock, t: datetime) -> None:
    """스톱지정가 orders whose stop the last price reached become limit orders at their
    price (reported first: the broker emits their 00 and refuses one whose price is now
    outside the day's limits): they trade as aggressors at once as far as the book
    allows, then rest (their own trades may fire further stops)."""
    while True:
        fired = [o for o in st.user_stops if stop_reached(o, st.last)]
        if not fired:
            return
        for order in fired:
            st.user_stops.remove(order)
            order.armed = False
            if not rec.report_trigger(order, t):
                continue
            execute(rec, st, order, order.limit_price, t)
            if order.open_qty > 0:
                rest(st, order)


def passive_fills(rec: TradeRecorder, st: SimStock, aggressor: Side, qty: int, t: datetime) -> int:
    """A market aggressor of ``qty`` first trades with user orders at or better than the
    touch; returns the quantity left for the book."""
    buy = aggressor == Side.BUY
    book = st.user_asks if buy else st.user_bids
    touch = st.best_ask if buy else st.best_bid
    while qty > 0 and book:
        order = book[0]
        better = (order.limit_price <= touch if buy else order.limit_price >= touch) or touch == 0
        if not better:
            break
        q = min(qty, order.open_qty)
        rec.record_trade(st, t, order.limit_price, _signed(aggressor, q))
        rec.report_fill(order, order.limit_price, q, t)
        qty -= q
        if order.open_qty <= 0:
            book.pop(0)
    return qty


def match_crossing(rec: TradeRecorder, st: SimStock, t: datetime) -> None:
    """Resting user orders that the moving book now crosses trade as aggressors."""
    for book, side in ((st.user_bids, Side.BUY), (st.user_asks, Side.SELL)):
        for order in list(book):
            touch = st.best_ask if side == Side.BUY else st.best_bid
            if not touch:
                break
            crosses = order.limit_price >= touch if side == Side.BUY else order.limit_price <= touch
            if not crosses:
                break
            for price, q in _book.take(st, order.side, order.limit_price, order.open_qty):
                rec.record_trade(st, t, price, _signed(side, q))
                rec.report_fill(order, price, q, t)
            if order.open_qty <= 0:
                book.remove(order)


def cross_user_orders(
    rec: TradeRecorder, st: SimStock, price: int, t: datetime, venues: frozenset[str]
) -> None:
    """A call auction of ``st`` crosses at ``price``: every resting user order of
    ``venues`` at or through it (a buy at or above, a sell at or below; market orders
    always) trades its whole open quantity at that one price, against the crowd the
    model stands for [I: the model does not size the crowd]."""
    for book, side in ((st.user_bids, Side.BUY), (st.user_asks, Side.SELL)):
        for order in list(book):
            if order.venue not in venues:
                continue
            crosses = order.limit_price >= price if side == Side.BUY else order.limit_price <= price
            if not crosses:
                continue
            q = order.open_qty
            rec.record_trade(st, t, price, _signed(side, q))
            rec.report_fill(order, price, q, t)
            book.remove(order)


def cross_single_price(rec: TradeRecorder, st: SimStock, price: int, t: datetime) -> None:
    """A 시간외단일가 round of ``st`` crosses at ``price``: the waiting orders at or through it
    trade whole at that price (off the regular session: the close stays)."""
    for order in list(st.user_single):
        buy = order.side == Side.BUY
        if order.limit_price >= price if buy else order.limit_price <= price:
            q = order.open_qty
            rec.record_trade(st, t, price, _signed(order.side, q), regular=False)
            rec.report_fill(order, price, q, t)
            st.user_single.remove(order)
