"""User orders: the mutable order the market matches, its rejections, and the order
types the simulator executes. A leaf of the simulator (the market and the broker both
use it; it uses neither).

Rejections raise :class:`OrderRejected` carrying the ``[2000](code:message)`` text that the
HTTP layer returns with ``return_code`` 20. The detail codes 855056 and 571489 were seen
live (PROTOCOL §3.3); the others are ours, shaped the same way [I].
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gslts_kiwoom import krx
from gslts_kiwoom.models import OrderPricing, OrderType, Side, TimeInForce
from gslts_kiwoom.sim._events import OrderKind, OrderStatus, OrderView

#: ``orig_ord_no`` of a new order (it modifies nothing).
NO_ORDER = "0000000"


class OrderRejected(Exception):
    """A business rejection (``return_code`` 20); ``message`` is the ``return_msg``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: The pricings the simulator executes: every one of :class:`OrderType` (an unknown
#: ``trde_tp`` is refused as unsupported, 505217).
SIM_PRICINGS: frozenset[OrderPricing] = frozenset(
    {"limit", "market", "best", "priority", "stop", "mid", "close", "single_price"}
)
#: 보통, 시장가, 조건부지정가: the types KRX also takes during its call auctions (08:30–09:00,
#: 15:20–15:30); 최유리/최우선 need a best price and IOC/FOK a continuous book [I].
AUCTION_TYPES: frozenset[OrderType] = frozenset(
    {OrderType.LIMIT, OrderType.MARKET, OrderType.CONDITIONAL_LIMIT}
)
#: KRX's off-hours types and the phase each is entered and traded in (PROTOCOL §6.2):
#: 장전시간외 at the previous close, 장후시간외 at today's close, 시간외단일가.
OFF_HOURS_PHASES: dict[OrderType, krx.Phase] = {
    OrderType.PRE_OPEN_CLOSE_PRICE: krx.Phase.PRE_OPEN_OFF_HOURS,
    OrderType.POST_CLOSE_CLOSE_PRICE: krx.Phase.POST_CLOSE_OFF_HOURS,
    OrderType.AFTER_HOURS_SINGLE_PRICE: krx.Phase.AFTER_HOURS_SINGLE_PRICE,
}
#: The types only Nextrade offers (스톱지정가, 중간가 and its IOC/FOK): Kiwoom routes them to
#: NXT or SOR [I: PROTOCOL does not say; ``SimConfig.nxt_only_trade_types``].
NXT_ONLY_TYPES: frozenset[str] = frozenset({"28", "29", "30", "31"})


def sim_order_type(code: str) -> OrderType:
    """The :class:`OrderType` of a ``trde_tp`` code the simulator executes.

    Raises:
        OrderRejected: an unknown code, or an order type the simulator does not model.
    """
    try:
        order_type = OrderType(code)
    except ValueError:
        order_type = None
    if order_type is None or order_type.pricing not in SIM_PRICINGS:
        raise OrderRejected(f"[2000](505217:지원하지 않는 매매구분입니다. 매매구분={code})")
    return order_type


def entry_refusal(
    order_type: OrderType, venue: str, now: datetime, clock: str, nxt_only: frozenset[str]
) -> str | None:
    """Why ``order_type`` cannot be entered for ``venue`` at ``now`` (the ``[2000](…)``
    text), or None. The rules, per PROTOCOL §6.2/§6.3 and KRX practice [I]:

    * off-hours types (61, 81, 62): KRX only, in their own phase; never under
      ``clock="always"``, which has no off-hours sessions;
    * ``nxt_only`` types: NXT or SOR only;
    * KRX: 보통/시장가/조건부지정가 in the continuous session and both call auctions, every
      other type in the continuous session only; NXT: its continuous phases (pre-market
      08:00–08:50, main, after-market 15:30–20:00); SOR: either;
    * ``clock="always"``: a continuous session at any hour, on every venue.

    The trading-day check (571489) comes before this one.
    """
    label = order_type.label
    wrong_time = f"[2000](571492:주문가능시간이 아닙니다. 매매구분={label})"
    phase = OFF_HOURS_PHASES.get(order_type)
    if phase is not None:
        if venue == "NXT":
            return f"[2000](505218:NXT에서 주문할 수 없는 매매구분입니다. 매매구분={label})"
        if clock == "always" or phase not in krx.phases_at(now, "KRX"):
            return wrong_time
        return None
    if order_type.value in nxt_only and venue == "KRX":
        return f"[2000](505218:KRX에서 주문할 수 없는 매매구분입니다. 매매구분={label})"
    if clock == "always":
        return None
    krx_phases = krx.phases_at(now, "KRX")
    krx_ok = krx.Phase.CONTINUOUS in krx_phases or (
        order_type in AUCTION_TYPES
        and bool({krx.Phase.OPENING_AUCTION, krx.Phase.CLOSING_AUCTION} & set(krx_phases))
    )
    nxt_ok = krx.phase_at(now, "NXT").is_continuous
    if order_type.value in nxt_only:
        krx_ok = False
    if {"KRX": krx_ok, "NXT": nxt_ok}.get(venue, krx_ok or nxt_ok):
        return None
    if not krx_phases and not nxt_ok:
        return "[2000](571490:장운영시간이 아닙니다.)"
    return wrong_time


def kind_text(kind: OrderKind, side: Side) -> str:
    """주문구분 as 00 FID 905 and ka10075/ka10076 ``io_tp_nm`` write it: ``+매수``,
    ``-매도`` (the sign is 영웅문's red/blue), ``매수정정``, ``매도취소`` …"""
    word = "매수" if side == Side.BUY else "매도"
    if kind == "new":
        return ("+" if side == Side.BUY else "-") + word
    return word + ("정정" if kind == "modify" else "취소")


@dataclass(eq=False, slots=True)
class Order:
    """A user order (mutable; internal). ``OrderView`` is its public snapshot."""

    account: str
    ord_no: str
    seq: int
    kind: OrderKind
    orig_ord_no: str
    root_ord_no: str
    code: str
    name: str
    side: Side
    trade_type: OrderType
    venue: str
    qty: int
    price: int
    limit_price: int
    tif: TimeInForce
    time: datetime
    open_qty: int
    filled_qty: int = 0
    filled_value: int = 0
    commission: int = 0
    tax: int = 0
    status: OrderStatus = "접수"
    #: cash still reserved for the open part of a buy
    reserved: int = 0
    reserve_per_share: int = 0
    last_fill_no: str = ""
    last_fill_price: int = 0
    last_fill_qty: int = 0
    #: 스톱지정가: the stop price (``cond_uv``); 0 for other types
    stop_price: int = 0
    #: 스톱지정가 waiting for its stop (out of the book); False once triggered
    armed: bool = False
    #: when a modify/cancel was confirmed (its 00 ``확인``; kt00007 ``cnfm_tm``)
    confirm_time: datetime | None = None
    #: why the exchange refused the order after accepting it (00 FID 919), else ""
    reject_reason: str = ""

    def view(self) -> OrderView:
        return OrderView(
            account=self.account,
            ord_no=self.ord_no,
            orig_ord_no=self.orig_ord_no,
            root_ord_no=self.root_ord_no,
            kind=self.kind,
            code=self.code,
            name=self.name,
            side=self.side,
            trade_type=self.trade_type,
            venue=self.venue,
            qty=self.qty,
            price=self.price,
            open_qty=self.open_qty,
            filled_qty=self.filled_qty,
            filled_value=self.filled_value,
            commission=self.commission,
            tax=self.tax,
            status=self.status,
            time=self.time,
        )
