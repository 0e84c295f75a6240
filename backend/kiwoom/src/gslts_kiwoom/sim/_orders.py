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

from gslts_kiwoom.models import OrderPricing, OrderType, Side, TimeInForce
from gslts_kiwoom.sim._events import OrderKind, OrderStatus, OrderView

#: ``orig_ord_no`` of a new order (it modifies nothing).
NO_ORDER = "0000000"


class OrderRejected(Exception):
    """A business rejection (``return_code`` 20); ``message`` is the ``return_msg``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: The pricings the simulator executes; stop, mid-price and off-hours order types are
#: refused as unsupported (505217), like an unknown ``trde_tp``.
SIM_PRICINGS: frozenset[OrderPricing] = frozenset({"limit", "market", "best", "priority"})


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
