"""Domain results of the REST client: real numbers, aware KST datetimes, no Kiwoom names.

Prices are ``int`` KRW (always positive: Kiwoom's sign is the direction, kept separately
as :class:`Direction` and signed ``change``); rates and index values are ``Decimal``.
Values the server leaves empty are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Literal

#: Where an order goes (``dmst_stex_tp``): KRX, Nextrade, or Kiwoom's smart routing.
Exchange = Literal["KRX", "NXT", "SOR"]


class Direction(Enum):
    """Move versus the previous close (Kiwoom sign code ``pred_pre_sig`` / FID 25)."""

    LIMIT_UP = "1"
    UP = "2"
    FLAT = "3"
    LIMIT_DOWN = "4"
    DOWN = "5"


class Side(StrEnum):
    """Order side, and the aggressor side of a trade. A ``str``: ``Side.BUY == "buy"``."""

    BUY = "buy"
    SELL = "sell"


#: How an order type sets its price (PROTOCOL §4.6, §8.3): ``limit`` the given price;
#: ``market`` any price; ``best`` 최유리 (the best opposite price on arrival); ``priority``
#: 최우선 (the best price of its own side); ``stop`` a limit armed at the stop price
#: (``cond_uv``); ``mid`` the mid price; ``close`` an off-hours trade at a close price;
#: ``single_price`` the after-hours single-price auction at a limit price.
OrderPricing = Literal[
    "limit", "market", "best", "priority", "stop", "mid", "close", "single_price"
]
#: How long an order type lives: the day, immediate-or-cancel, or fill-or-kill.
TimeInForce = Literal["day", "ioc", "fok"]


class OrderType(StrEnum):
    """Order type (``trde_tp`` of kt10000/kt10001). The value is Kiwoom's code.

    The one table of Kiwoom's order types: each member knows its 매매구분 text
    (:attr:`label`), how it is priced (:attr:`pricing`), how long it lives
    (:attr:`time_in_force`) and what the request must carry (:attr:`needs_price`,
    :attr:`needs_stop_price`).
    """

    LIMIT = "0"  # 보통
    MARKET = "3"  # 시장가
    CONDITIONAL_LIMIT = "5"  # 조건부지정가
    BEST_LIMIT = "6"  # 최유리지정가
    PRIORITY_LIMIT = "7"  # 최우선지정가
    LIMIT_IOC = "10"  # 보통 IOC
    MARKET_IOC = "13"  # 시장가 IOC
    BEST_IOC = "16"  # 최유리 IOC
    LIMIT_FOK = "20"  # 보통 FOK
    MARKET_FOK = "23"  # 시장가 FOK
    BEST_FOK = "26"  # 최유리 FOK
    STOP_LIMIT = "28"  # 스톱지정가
    MID_PRICE = "29"  # 중간가
    MID_PRICE_IOC = "30"  # 중간가 IOC
    MID_PRICE_FOK = "31"  # 중간가 FOK
    PRE_OPEN_CLOSE_PRICE = "61"  # 장시작전시간외 (previous close)
    AFTER_HOURS_SINGLE_PRICE = "62"  # 시간외단일가
    POST_CLOSE_CLOSE_PRICE = "81"  # 장마감후시간외 (today's close)

    @property
    def label(self) -> str:
        """매매구분 as Kiwoom writes it (realtime FID 906; ka10075/ka10076 ``trde_tp``)."""
        return _ORDER_TYPE_SPECS[self][0]

    @property
    def pricing(self) -> OrderPricing:
        """How the order is priced (see :data:`OrderPricing`)."""
        return _ORDER_TYPE_SPECS[self][1]

    @property
    def time_in_force(self) -> TimeInForce:
        """``day``, ``ioc`` (fill what can be filled now, cancel the rest) or ``fok``
        (fill everything now or nothing)."""
        return _ORDER_TYPE_SPECS[self][2]

    @property
    def needs_price(self) -> bool:
        """True when the order carries a limit price (``ord_uv``); others send ``""``."""
        return self.pricing in ("limit", "stop", "single_price")

    @property
    def needs_stop_price(self) -> bool:
        """True when the order carries a stop price (``cond_uv``)."""
        return self.pricing == "stop"

    @classmethod
    def from_label(cls, text: str) -> OrderType | None:
        """The order type of a 매매구분 text (``"시장가"`` → :attr:`MARKET`); None if unknown."""
        return _ORDER_TYPES_BY_LABEL.get(text.strip())


#: code → (매매구분 text, pricing, time in force); FID 906 texts per PROTOCOL §8.2.
_ORDER_TYPE_SPECS: dict[str, tuple[str, OrderPricing, TimeInForce]] = {
    "0": ("보통", "limit", "day"),
    "3": ("시장가", "market", "day"),
    "5": ("조건부지정가", "limit", "day"),
    "6": ("최유리지정가", "best", "day"),
    "7": ("최우선지정가", "priority", "day"),
    "10": ("보통(IOC)", "limit", "ioc"),
    "13": ("시장가(IOC)", "market", "ioc"),
    "16": ("최유리(IOC)", "best", "ioc"),
    "20": ("보통(FOK)", "limit", "fok"),
    "23": ("시장가(FOK)", "market", "fok"),
    "26": ("최유리(FOK)", "best", "fok"),
    "28": ("스톱지정가", "stop", "day"),
    "29": ("중간가", "mid", "day"),
    "30": ("중간가(IOC)", "mid", "ioc"),
    "31": ("중간가(FOK)", "mid", "fok"),
    "61": ("장전시간외", "close", "day"),
    "62": ("시간외단일가", "single_price", "day"),
    "81": ("장후시간외", "close", "day"),
}
_ORDER_TYPES_BY_LABEL = {spec[0]: OrderType(code) for code, spec in _ORDER_TYPE_SPECS.items()}
# the spec's own spelling of 스톱지정가 (catalogue entry 00, FID 906; PROTOCOL §8.2)
_ORDER_TYPES_BY_LABEL["스톰지정가"] = OrderType.STOP_LIMIT


@dataclass(frozen=True, slots=True)
class Quote:
    """Current price and basic info of one stock (ka10001 주식기본정보요청)."""

    code: str
    name: str
    price: int
    direction: Direction | None
    change: int
    change_rate: Decimal
    open: int
    high: int
    low: int
    base_price: int
    upper_limit: int
    lower_limit: int
    volume: int
    expected_price: int | None
    expected_qty: int | None
    year_high: int | None
    year_low: int | None
    face_value: int | None
    market_cap_eok: int | None  # 억원 (100M KRW)
    per: Decimal | None
    eps: Decimal | None
    roe: Decimal | None
    pbr: Decimal | None
    bps: Decimal | None


@dataclass(frozen=True, slots=True)
class BookLevel:
    """One price level of a book: ``price`` KRW (0 for an empty level) and ``qty`` shares.

    ``qty_change`` is the change of ``qty`` versus the previous snapshot (ka10004
    ``*_req_pre``); 0 when unknown (the simulator's books do not track it).
    """

    price: int
    qty: int
    qty_change: int = 0


@dataclass(frozen=True, slots=True)
class OrderBookSnapshot:
    """10-level order book (ka10004 주식호가요청). Level 0 is the best price.

    ``asks`` ascend from the best ask, ``bids`` descend from the best bid; empty levels
    (price 0) are kept so there are always 10 of each.
    """

    code: str
    time: datetime | None
    asks: tuple[BookLevel, ...]
    bids: tuple[BookLevel, ...]
    total_ask_qty: int
    total_bid_qty: int
    after_hours_ask_qty: int
    after_hours_bid_qty: int


@dataclass(frozen=True, slots=True)
class StockInfo:
    """One listed instrument (ka10099 종목정보 리스트)."""

    code: str
    name: str
    listed_shares: int
    audit_info: str
    listed_date: date | None
    last_price: int
    state: tuple[str, ...]
    market_code: str
    market_name: str
    sector_name: str
    size_class: str
    company_class: str
    order_warning: str
    nxt_enabled: bool


@dataclass(frozen=True, slots=True)
class SectorInfo:
    """One sector/index code (ka10101 업종코드 리스트)."""

    market_code: str
    code: str
    name: str
    group: str


@dataclass(frozen=True, slots=True)
class TradingValueRank:
    """One row of the top-trading-value ranking (ka10032 거래대금상위요청)."""

    rank: int
    prev_rank: int | None
    code: str
    name: str
    price: int
    direction: Direction | None
    change: int
    change_rate: Decimal
    best_ask: int
    best_bid: int
    volume: int
    prev_volume: int
    trading_value: int  # KRW (the wire unit is 백만원)


@dataclass(slots=True)
class Bar:
    """An OHLCV bar built from trades, in progress or finished (the simulator's minute,
    daily and tick bars; a service's own candles).

    ``start`` is the first instant the bar covers, aware KST: the minute of a 1-minute bar,
    midnight of a daily bar, the first trade of a tick bar. ``volume`` is shares and
    ``value`` **KRW** (not 백만원). ``trade_count`` counts the trades folded in (0 when
    not counted); ``cum_volume`` is the day's cumulative volume after the bar's last
    trade (Kiwoom's ``acc_trde_qty``; 0 when not tracked); ``base_price`` the previous
    close of a daily bar (0 when not tracked). What the REST client reads from
    ka10079/ka10080/ka10081 are :class:`Candle` and :class:`DailyCandle`.
    """

    start: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    trade_count: int = 0
    cum_volume: int = 0
    base_price: int = 0

    @classmethod
    def opened(cls, start: datetime, price: int, qty: int, cum_volume: int = 0) -> Bar:
        """A bar opened by one trade of ``qty`` shares at ``price``."""
        return cls(start, price, price, price, price, qty, price * qty, 1, cum_volume)

    def add(self, price: int, qty: int, cum_volume: int | None = None) -> None:
        """Fold in one trade of ``qty`` shares at ``price`` (``cum_volume``: the day's
        cumulative volume after it, when tracked)."""
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close = price
        self.volume += qty
        self.value += price * qty
        self.trade_count += 1
        if cum_volume is not None:
            self.cum_volume = cum_volume


@dataclass(frozen=True, slots=True)
class Candle:
    """An intraday bar (ka10079 tick chart / ka10080 minute chart).

    ``time`` is Kiwoom's ``cntr_tm`` as an aware KST datetime (for minute bars probably
    the bar's end; PROTOCOL.md §4.4 leaves it open).
    """

    time: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(frozen=True, slots=True)
class DailyCandle:
    """A daily bar (ka10081 주식일봉차트조회요청)."""

    date: date
    open: int
    high: int
    low: int
    close: int
    volume: int
    trading_value: int | None  # KRW (the wire unit is 백만원)
    turnover_rate: Decimal | None


@dataclass(frozen=True, slots=True)
class SectorIndex:
    """Current value of a sector index (ka20001 업종현재가요청)."""

    market: str
    sector_code: str
    value: Decimal
    direction: Direction | None
    change: Decimal
    change_rate: Decimal
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    volume: int
    trading_value: int  # as reported (unit undocumented; 백만원 for the stock APIs)
    limit_up_count: int
    rising_count: int
    flat_count: int
    falling_count: int
    limit_down_count: int


@dataclass(frozen=True, slots=True)
class OrderAck:
    """A new order accepted for submission (kt10000 매수 / kt10001 매도).

    Acceptance is not a fill: fills and rejections arrive later (realtime ``00``,
    ka10075/ka10076).
    """

    order_no: str
    exchange: str


@dataclass(frozen=True, slots=True)
class AmendAck:
    """A modify (kt10002 정정) or cancel (kt10003 취소) accepted for submission.

    ``order_no`` is the new order number; ``root_order_no`` the original order of the
    chain; ``qty`` the quantity modified/cancelled.
    """

    order_no: str
    root_order_no: str | None
    qty: int
    exchange: str | None


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order with an unfilled quantity (ka10075 미체결요청)."""

    order_no: str
    original_order_no: str | None
    code: str
    name: str
    side: Side | None
    order_kind: str  # e.g. "+매수", "매수정정"
    order_type: str  # e.g. "보통", "시장가"
    status: str  # e.g. "접수"
    order_qty: int
    order_price: int
    open_qty: int
    filled_qty: int
    filled_price: int | None
    filled_amount: int
    current_price: int | None
    time: datetime | None
    exchange: str


@dataclass(frozen=True, slots=True)
class FilledOrder:
    """An order with fills (ka10076 체결요청)."""

    order_no: str
    original_order_no: str | None
    code: str
    name: str
    side: Side | None
    order_kind: str
    order_type: str
    status: str
    order_qty: int
    order_price: int
    filled_qty: int
    filled_price: int | None
    open_qty: int
    commission: int
    tax: int
    time: datetime | None
    exchange: str


@dataclass(frozen=True, slots=True)
class OrderHistoryEntry:
    """One of the day's orders, whatever became of it (kt00007 계좌별주문체결내역상세요청).

    Unlike :class:`OpenOrder` (ka10075) it also lists orders that are filled, cancelled,
    modified away or refused, so it answers "what became of order N" after a timeout or a
    restart. A modify (정정) or cancel (취소) is an entry of its own whose
    ``original_order_no`` is the order it changes.
    """

    order_no: str
    #: the order this modify/cancel changes; ``None`` for a new order (``0000000``)
    original_order_no: str | None
    code: str
    name: str
    side: Side | None
    #: 주문구분 as sent, e.g. ``현금매수``, ``현금매도``
    order_kind: str
    #: 정정취소: ``""`` for a new order, ``정정`` (modify) or ``취소`` (cancel)
    modify_cancel: str
    #: 매매구분 text, e.g. ``보통``, ``시장가``
    order_type: str
    #: 접수구분, e.g. ``접수``, ``확인`` (a confirmed modify/cancel), ``거부``
    acceptance: str
    order_qty: int
    #: 0 for market-type orders
    order_price: int
    #: 확인수량: the quantity a modify/cancel was confirmed for (0 otherwise)
    confirmed_qty: int
    filled_qty: int
    #: average fill price; ``None`` without fills
    filled_price: int | None
    #: 주문잔량: still open (0 once filled, cancelled, modified away or ended)
    open_qty: int
    #: 스톱가 of a 스톱지정가; ``None`` when 0 or blank
    stop_price: int | None
    time: datetime | None
    #: 확인시간 of a modify/cancel; ``None`` when blank
    confirm_time: datetime | None
    #: 국내거래소구분 as sent: ``KRX``, ``NXT``, ``SOR``
    exchange: str

    @property
    def is_modify(self) -> bool:
        """A 정정 (modify) entry."""
        return "정정" in self.modify_cancel

    @property
    def is_cancel(self) -> bool:
        """A 취소 (cancel) entry."""
        return "취소" in self.modify_cancel

    @property
    def closed_qty(self) -> int:
        """Shares of this order that will never fill: cancelled, modified away, ended by
        the exchange (IOC/FOK, end of session) or refused: ``order_qty - filled_qty -
        open_qty``. 0 for a cancel entry (its quantity is in :attr:`confirmed_qty`)."""
        if self.is_cancel:
            return 0
        return max(0, self.order_qty - self.filled_qty - self.open_qty)


@dataclass(frozen=True, slots=True)
class Holding:
    """One position of the account (row of kt00018)."""

    code: str
    name: str
    qty: int
    sellable_qty: int
    avg_price: int
    current_price: int
    prev_close: int
    purchase_amount: int
    evaluation_amount: int
    profit: int
    profit_rate: Decimal
    commission: int
    tax: int
    weight: Decimal | None


@dataclass(frozen=True, slots=True)
class Balance:
    """Holdings with P&L (kt00018 계좌평가잔고내역요청)."""

    total_purchase: int
    total_evaluation: int
    total_profit: int
    total_profit_rate: Decimal
    estimated_assets: int
    holdings: tuple[Holding, ...]


@dataclass(frozen=True, slots=True)
class Cash:
    """Cash position (kt00001 예수금상세현황요청)."""

    deposit: int
    orderable: int
    withdrawable: int
    d1_deposit: int
    d2_deposit: int
    orderable_by_margin: dict[int, int]  # margin rate (%) → orderable amount


@dataclass(frozen=True, slots=True)
class OrderableQuantity:
    """How many shares an order may have at a price: what an order panel shows as
    현금(미수불가) and 최대(미수발생) (PROTOCOL §8.5).

    Buys come from kt00011 증거금율별주문가능수량조회요청 (for the price asked); sells are
    the sellable shares (kt00018 ``trde_able_qty``: held minus those in open sells), the
    same figure twice.
    """

    code: str
    side: Side
    #: the price the quantities are for (KRW)
    price: int
    #: 현금(미수불가): shares payable in cash, without 미수 (``min_ord_alowq``)
    cash_qty: int
    #: 최대(미수발생): shares at the applied margin rate (``cash_qty`` when that rate's
    #: figure is absent, e.g. a cash account)
    max_qty: int
    #: 미수불가주문가능금액 (KRW); 0 for sells
    cash_amount: int
    #: the amount behind ``max_qty`` (KRW); 0 for sells
    max_amount: int
    #: 종목 / 계좌 / 적용 증거금율 in percent; ``None`` when not reported (sells)
    stock_margin_rate: int | None
    account_margin_rate: int | None
    applied_margin_rate: int | None
    #: margin rate (%) → (orderable amount, orderable quantity), for the rates reported
    by_margin_rate: dict[int, tuple[int, int]]
