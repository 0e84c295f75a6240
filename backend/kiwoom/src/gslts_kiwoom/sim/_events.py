"""Events the market model emits to listeners (the WebSocket layer streams from these).

Every event is an immutable snapshot, safe to keep or hand to another thread. Prices are
int KRW, times timezone-aware KST. ``Trade.volume`` is signed: ``+`` buy-initiated,
``-`` sell-initiated (FID 15 semantics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Side = Literal["buy", "sell"]
OrderKind = Literal["new", "modify", "cancel"]
#: 주문상태 as in FID 913 / ka10075 ``ord_stt``.
OrderStatus = Literal["접수", "체결", "확인", "취소", "거부"]


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution of a stock (ground truth behind 0B, ka10079, bars)."""

    code: str
    time: datetime
    price: int
    #: signed: + buy-initiated, - sell-initiated
    volume: int
    #: cumulative shares and KRW traded today, after this trade
    cum_volume: int
    cum_value: int
    open: int
    high: int
    low: int
    base_price: int
    best_ask: int
    best_bid: int
    #: per-stock sequence number, strictly increasing
    seq: int


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: int
    qty: int


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """The 10-level order book of a stock after a change (behind 0D and ka10004).

    ``asks`` ascend from the best ask, ``bids`` descend from the best bid; a side may hold
    fewer than 10 levels at a price limit.
    """

    code: str
    time: datetime
    asks: tuple[BookLevel, ...]
    bids: tuple[BookLevel, ...]
    base_price: int
    cum_volume: int


@dataclass(frozen=True, slots=True)
class OrderView:
    """A snapshot of a user order (behind 00, ka10075, ka10076)."""

    account: str
    ord_no: str
    #: the order this one modifies/cancels, ``"0000000"`` for a new order
    orig_ord_no: str
    #: root of the modify/cancel chain (``base_orig_ord_no``)
    root_ord_no: str
    kind: OrderKind
    code: str
    name: str
    side: Side
    #: Kiwoom ``trde_tp`` code, e.g. "0" limit, "3" market
    trade_type: str
    venue: str
    qty: int
    #: 0 for market-type orders
    price: int
    open_qty: int
    filled_qty: int
    filled_value: int
    commission: int
    tax: int
    status: OrderStatus
    time: datetime


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A change of a user order: accepted, a fill, confirmed (modify/cancel), cancelled."""

    order: OrderView
    status: OrderStatus
    time: datetime
    #: set for ``체결`` (a fill): this fill's number, price and quantity
    fill_no: str = ""
    fill_price: int = 0
    fill_qty: int = 0
    reject_reason: str = ""


@dataclass(frozen=True, slots=True)
class HoldingUpdate:
    """The account's position in a stock after a fill (behind 04)."""

    account: str
    code: str
    name: str
    qty: int
    avg_price: int
    purchase_amount: int
    orderable_qty: int
    current_price: int
    base_price: int
    side: Side
    today_realized_pnl: int
    time: datetime


@dataclass(frozen=True, slots=True)
class ViUpdate:
    """A volatility interruption (VI) of a stock was triggered or released (behind 1h).

    The simulator models the KRX *static* VI only: a trade at or beyond ±``vi_threshold``
    from the reference price (the day's base price, then the last VI's price) stops
    continuous trading of that stock for ``vi_duration_s`` simulated seconds (a
    single-price interruption); the release re-opens it at the trigger price.
    """

    code: str
    name: str
    market: str
    active: bool
    trigger_price: int
    reference_price: int
    #: +1 up, -1 down
    direction: int
    count: int
    cum_volume: int
    cum_value: int
    time: datetime
    release_time: datetime


@dataclass(frozen=True, slots=True)
class PhaseChange:
    """The KRX market phase changed (behind 0s; FID 215 code as sent by Kiwoom)."""

    code: str
    phase: str
    time: datetime


MarketEvent = Trade | BookUpdate | OrderUpdate | HoldingUpdate | ViUpdate | PhaseChange
#: Called synchronously, under the simulator's lock, for every event: keep it fast and
#: hand work off (e.g. ``loop.call_soon_threadsafe``). It may read the simulator.
Listener = Callable[[MarketEvent], None]
