"""Events the market model emits to listeners (the WebSocket layer streams from these).

Every event is an immutable snapshot, safe to keep or hand to another thread. Prices are
int KRW, times timezone-aware KST. ``MarketTrade.volume`` is signed: ``+`` buy-initiated,
``-`` sell-initiated (FID 15 semantics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Literal

from gslts_kiwoom import krx
from gslts_kiwoom.models import BookLevel, OrderType, Side
from gslts_kiwoom.realtime import _fast_factory

OrderKind = Literal["new", "modify", "cancel"]
#: 주문상태 as in FID 913 / ka10075 ``ord_stt``.
OrderStatus = Literal["접수", "체결", "확인", "취소", "거부"]


@dataclass(frozen=True, slots=True)
class MarketTrade:
    """One trade the market model made: the ground truth behind 0B, ka10079 and the bars.

    Not :class:`gslts_kiwoom.Trade` (what a client decodes from a 0B frame, with venue,
    change rate, strength and session): this is the exchange's side, with the per-stock
    sequence number and base price the model keeps. Fields both have mean the same, in
    the same units (``cum_value`` included), so a consumer's trades compare field by
    field with this ground truth.
    """

    code: str
    time: datetime
    price: int
    #: signed: + buy-initiated, - sell-initiated
    volume: int
    #: cumulative shares traded today, after this trade
    cum_volume: int
    #: cumulative value traded today, after this trade, in **KRW million** (백만원,
    #: truncated: exactly what FID 14 of 0B carries; the same unit as
    #: :attr:`gslts_kiwoom.Trade.cum_value` and the ``tick_data.cum_value`` column)
    cum_value: int
    open: int
    high: int
    low: int
    base_price: int
    best_ask: int
    best_bid: int
    #: per-stock sequence number, strictly increasing
    seq: int


#: MarketTrade(...) without the frozen-dataclass ``__setattr__`` cost.
_new_trade = _fast_factory(MarketTrade)


@dataclass(slots=True)
class TradeBatch:
    """Consecutive trades of one stock from one market step, column-wise (the flood path).

    Row ``i`` is the trade that :class:`MarketTrade` would describe with ``time_us[i]``
    (microseconds since the epoch), ``price[i]``, signed ``volume[i]``, ``cum_volume[i]``,
    ``cum_value_krw[i]`` (exact **KRW**; :class:`MarketTrade` has it in KRW million),
    ``high[i]``/``low[i]`` (day high/low after it), ``best_ask[i]``/
    ``best_bid[i]`` (the book after it) and per-stock sequence ``seq0 + i + 1``. Listeners
    that set ``accepts_batches = True`` and define ``on_batch(batch)`` receive it as is;
    every other listener receives the equivalent :class:`MarketTrade` events (:meth:`trades`).
    Never changed after it is emitted (the trade history keeps it).
    """

    code: str
    base_price: int
    open: int
    seq0: int
    time_us: list[int]
    price: list[int]
    volume: list[int]
    cum_volume: list[int]
    cum_value_krw: list[int]
    high: list[int]
    low: list[int]
    best_ask: list[int]
    best_bid: list[int]

    def __len__(self) -> int:
        return len(self.price)

    def rows(self) -> Iterator[tuple[int, ...]]:
        """``(time_us, price, volume, cum_volume, cum_value, open, high, low, base_price,
        best_ask, best_bid, seq)`` per trade: :class:`MarketTrade`'s fields after code/time
        (``cum_value`` in KRW million, as in :class:`MarketTrade`)."""
        n = len(self.price)
        return zip(
            self.time_us,
            self.price,
            self.volume,
            self.cum_volume,
            [v // 1_000_000 for v in self.cum_value_krw],
            repeat(self.open, n),
            self.high,
            self.low,
            repeat(self.base_price, n),
            self.best_ask,
            self.best_bid,
            range(self.seq0 + 1, self.seq0 + n + 1),
            strict=True,
        )

    def trades(self) -> list[MarketTrade]:
        """The batch as :class:`MarketTrade` events (for listeners that take one at a time)."""
        code = self.code
        return [trade_from_row(code, row) for row in self.rows()]


#: 1970-01-01 00:00 in KST: ``_EPOCH + timedelta(microseconds=us)`` is exact (no floats).
EPOCH_KST = datetime(1970, 1, 1, tzinfo=UTC).astimezone(krx.KST)
_US = timedelta(microseconds=1)


def us_to_datetime(us: int) -> datetime:
    """Microseconds since the epoch → aware KST datetime (exact)."""
    return EPOCH_KST + timedelta(microseconds=us)


def datetime_to_us(t: datetime) -> int:
    """Aware datetime → microseconds since the epoch (exact)."""
    return (t - EPOCH_KST) // _US


def trade_from_row(code: str, row: tuple[int, ...]) -> MarketTrade:
    """A :class:`MarketTrade` from a :meth:`TradeBatch.rows` row."""
    return _new_trade(code, EPOCH_KST + timedelta(microseconds=row[0]), *row[1:])


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
    trade_type: OrderType
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
    #: KRW million (백만원, truncated), as in :class:`MarketTrade`
    cum_value: int
    time: datetime
    release_time: datetime


@dataclass(frozen=True, slots=True)
class PhaseChange:
    """The KRX market phase changed (behind 0s; FID 215 code as sent by Kiwoom)."""

    code: str
    phase: str
    time: datetime


MarketEvent = MarketTrade | BookUpdate | OrderUpdate | HoldingUpdate | ViUpdate | PhaseChange
#: Called synchronously, under the simulator's lock, for every event: keep it fast and
#: hand work off (e.g. ``loop.call_soon_threadsafe``). It may read the simulator.
Listener = Callable[[MarketEvent], None]
