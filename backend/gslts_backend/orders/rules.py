"""What an order must satisfy before any broker call: the API's order-type names, the
fields each type needs, the KRX tick grid and price limits, the session phase, cash and
holdings. Each failure is a :class:`~gslts_common.errors.BadInput` (422) naming the field,
in English and Korean.

The session rules follow the simulator's and KRX practice (PROTOCOL §6.2/§6.3, §8.3):

* 장전시간외 (61), 장후시간외 (81), 시간외단일가 (62): KRX only, in their own phase;
* 스톱지정가 and 중간가 (28–31): Nextrade types: NXT or SOR, never KRX;
* KRX: 보통/시장가/조건부지정가 in the continuous session and both call auctions, every
  other type in the continuous session only; NXT: its continuous phases (pre-market,
  main, after-market); SOR: either venue's rule;
* ``ORDER_SESSION_RULES=always`` (the default in ``KIWOOM_MODE=sim``, whose default clock
  is a continuous session at any hour): every non-off-hours type at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gslts_common.errors import BadInput
from gslts_kiwoom import OrderType, krx

Venue = Literal["KRX", "NXT", "SOR"]
SessionRules = Literal["krx", "always"]

#: the API's name of every Kiwoom order type (``trde_tp``)
TYPE_NAMES: dict[str, OrderType] = {t.name.lower(): t for t in OrderType}
NAME_OF: dict[OrderType, str] = {t: n for n, t in TYPE_NAMES.items()}

AUCTION_TYPES = frozenset({OrderType.LIMIT, OrderType.MARKET, OrderType.CONDITIONAL_LIMIT})
OFF_HOURS_PHASES: dict[OrderType, krx.Phase] = {
    OrderType.PRE_OPEN_CLOSE_PRICE: krx.Phase.PRE_OPEN_OFF_HOURS,
    OrderType.POST_CLOSE_CLOSE_PRICE: krx.Phase.POST_CLOSE_OFF_HOURS,
    OrderType.AFTER_HOURS_SINGLE_PRICE: krx.Phase.AFTER_HOURS_SINGLE_PRICE,
}
NXT_ONLY = frozenset(
    {OrderType.STOP_LIMIT, OrderType.MID_PRICE, OrderType.MID_PRICE_IOC, OrderType.MID_PRICE_FOK}
)


def venues_of(t: OrderType) -> list[Venue]:
    if t in OFF_HOURS_PHASES:
        return ["KRX"]
    if t in NXT_ONLY:
        return ["NXT", "SOR"]
    return ["KRX", "NXT", "SOR"]


def type_catalogue() -> list[dict[str, object]]:
    """``GET /api/orders/types``: every order type with what it needs."""
    return [
        {
            "order_type": name,
            "code": t.value,
            "label": t.label,
            "needs_price": t.needs_price,
            "needs_stop_price": t.needs_stop_price,
            "time_in_force": t.time_in_force,
            "venues": venues_of(t),
            "off_hours": t in OFF_HOURS_PHASES,
        }
        for name, t in TYPE_NAMES.items()
    ]


def bad(field: str, en: str, ko: str) -> BadInput:
    return BadInput(f"{field}: {en}", field=field, detail_ko=ko)


def check_fields(
    t: OrderType, quantity: int, price: int | None, stop_price: int | None, max_qty: int
) -> None:
    """Quantity in 1..``max_qty``; a price exactly when the type needs one; a stop price
    exactly for 스톱지정가."""
    if quantity < 1:
        raise bad("quantity", "must be at least 1", "주문수량은 1주 이상이어야 합니다")
    if quantity > max_qty:
        raise bad(
            "quantity",
            f"must be at most {max_qty:,} (ORDER_MAX_QUANTITY)",
            f"주문수량은 {max_qty:,}주 이하여야 합니다",
        )
    if t.needs_price and price is None:
        raise bad("price", f"{t.label} orders need a price", f"{t.label} 주문은 가격이 필요합니다")
    if not t.needs_price and price is not None:
        raise bad(
            "price",
            f"{t.label} orders take no price (send null)",
            f"{t.label} 주문은 가격을 입력하지 않습니다",
        )
    if t.needs_stop_price and stop_price is None:
        raise bad("stop_price", "스톱지정가 orders need a stop price", "스톱가격이 필요합니다")
    if not t.needs_stop_price and stop_price is not None:
        raise bad(
            "stop_price",
            "only 스톱지정가 orders take a stop price",
            "스톱지정가 주문만 스톱가격을 입력합니다",
        )


def check_venue(t: OrderType, venue: Venue, nxt_enabled: bool | None) -> None:
    if venue not in venues_of(t):
        where = ", ".join(venues_of(t))
        raise bad(
            "venue",
            f"{t.label} orders go to {where} only",
            f"{t.label} 주문은 {where}에서만 가능합니다",
        )
    if venue == "NXT" and nxt_enabled is False:
        raise bad("venue", "the stock is not traded on NXT", "NXT 거래대상 종목이 아닙니다")


def check_price(field: str, price: int, lower: int, upper: int) -> None:
    """On the KRX tick grid of its band and within the day's limits."""
    if price <= 0 or not krx.is_valid_price(price):
        tick = krx.tick_size(max(price, 1))
        raise bad(
            field,
            f"{price:,} is not on the tick grid ({tick:,} won steps at this price)",
            f"주문가격이 호가단위({tick:,}원)에 맞지 않습니다",
        )
    if not lower <= price <= upper:
        raise bad(
            field,
            f"{price:,} is outside today's limits {lower:,}–{upper:,}",
            f"주문가격이 가격제한폭({lower:,}~{upper:,}원)을 벗어났습니다",
        )


def check_session(t: OrderType, venue: Venue, now: datetime, rules: SessionRules) -> None:
    """The order type may be entered on ``venue`` now (see the module docstring)."""
    phase = OFF_HOURS_PHASES.get(t)
    closed_ko = f"{t.label} 주문은 지금 주문할 수 없습니다 (장운영시간 아님)"
    if phase is not None:
        if rules == "always" or phase not in krx.phases_at(now, "KRX"):
            raise bad("order_type", f"{t.label} is not open now", closed_ko)
        return
    if rules == "always":
        return
    krx_phases = set(krx.phases_at(now, "KRX"))
    krx_ok = t not in NXT_ONLY and (
        krx.Phase.CONTINUOUS in krx_phases
        or (
            t in AUCTION_TYPES
            and bool({krx.Phase.OPENING_AUCTION, krx.Phase.CLOSING_AUCTION} & krx_phases)
        )
    )
    nxt_ok = krx.phase_at(now, "NXT").is_continuous
    ok = {"KRX": krx_ok, "NXT": nxt_ok}.get(venue, krx_ok or nxt_ok)
    if not ok:
        raise bad("order_type", f"{t.label} orders are not taken on {venue} now", closed_ko)


@dataclass(frozen=True, slots=True)
class Funds:
    """What the account can still spend or sell, net of orders not yet in its figures."""

    orderable_cash: int
    sellable: int


def buy_cost(limit_price: int, quantity: int, fee_rate: float) -> int:
    """Cash a buy needs at ``limit_price`` with the commission (rounded up)."""
    value = limit_price * quantity
    return value + int(-(-value * fee_rate // 1))


def check_funds(side: str, quantity: int, limit_price: int, funds: Funds, fee_rate: float) -> None:
    if side == "buy":
        need = buy_cost(limit_price, quantity, fee_rate)
        if need > funds.orderable_cash:
            per = max(1, buy_cost(limit_price, 1, fee_rate))
            can = max(0, funds.orderable_cash // per)
            raise bad(
                "quantity",
                f"needs {need:,} won with fees, {funds.orderable_cash:,} orderable "
                f"({can:,} shares possible at {limit_price:,})",
                f"주문가능금액이 부족합니다 (필요 {need:,}원, 가능 {funds.orderable_cash:,}원, "
                f"{can:,}주 매수가능)",
            )
    elif quantity > funds.sellable:
        raise bad(
            "quantity",
            f"only {funds.sellable:,} shares can be sold (held minus open sell orders)",
            f"매도가능수량이 부족합니다 ({funds.sellable:,}주 매도가능)",
        )
