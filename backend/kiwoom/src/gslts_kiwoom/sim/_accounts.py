"""The simulated account (cash, holdings) and the broker: order entry, validation,
reservation, and the booking of fills.

Rejections raise :class:`~gslts_kiwoom.sim._orders.OrderRejected` (see :mod:`._orders`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from gslts_kiwoom import krx
from gslts_kiwoom.models import OrderType, Side
from gslts_kiwoom.sim._config import SimConfig
from gslts_kiwoom.sim._events import HoldingUpdate, OrderStatus, OrderUpdate
from gslts_kiwoom.sim._market import Market
from gslts_kiwoom.sim._orders import NO_ORDER, Order, OrderRejected, entry_refusal, sim_order_type
from gslts_kiwoom.sim._sessions import single_price_band
from gslts_kiwoom.sim._stock import SimStock


@dataclass(slots=True)
class Holding:
    code: str
    name: str
    qty: int = 0
    purchase_amount: int = 0
    purchase_commission: int = 0
    today_buy_qty: int = 0
    today_sell_qty: int = 0
    realized_pnl: int = 0

    @property
    def avg_price(self) -> int:
        return self.purchase_amount // self.qty if self.qty else 0


@dataclass(slots=True)
class Account:
    """Cash, holdings and orders of the one simulated account."""

    account_no: str
    cash: int
    holdings: dict[str, Holding] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    reserved_cash: int = 0
    today_commission: int = 0
    today_tax: int = 0
    fill_count: int = 0

    @property
    def orderable_cash(self) -> int:
        return self.cash - self.reserved_cash

    def reserved_qty(self, code: str) -> int:
        return sum(
            o.open_qty
            for o in self.orders.values()
            if o.code == code and o.side == Side.SELL and o.open_qty > 0
        )


#: 919 거부사유 of an order refused by the ``reject_orders`` fault [I: the text is ours].
REFUSED_BY_FAULT = "RC9001:거래소에서 주문이 거부되었습니다.(시뮬레이터 장애주입)"


class Broker:
    """Order entry: validates, reserves, matches through the market, and books fills."""

    def __init__(self, config: SimConfig, market: Market) -> None:
        self.config = config
        self.market = market
        self.account = Account(config.account_no, config.initial_cash)
        self._next_no = 1
        market.fill_sink = self._on_fill
        market.expire_sink = self._auto_cancel
        market.trigger_sink = self._on_trigger
        #: fault: the next N new orders are accepted, then refused by the exchange
        self.refuse_next = 0
        #: cancels accepted but not yet taken by the exchange (see :meth:`settle`)
        self._pending_cancels: list[Order] = []

    # --- helpers ------------------------------------------------------------------------
    def _new_no(self) -> str:
        no = f"{self._next_no:07d}"
        self._next_no += 1
        return no

    def _cost(self, value: int) -> int:
        return int((Decimal(value) * self.config.commission_rate).quantize(Decimal(1), ROUND_DOWN))

    def _tax(self, value: int) -> int:
        return int((Decimal(value) * self.config.tax_rate).quantize(Decimal(1), ROUND_DOWN))

    def _check_day(self, now: datetime) -> None:
        if self.config.clock == "krx" and not krx.is_trading_day(now.date()):
            raise OrderRejected("[2000](571489:장이 열리지 않는 날입니다.)")

    def _emit(self, order: Order, status: OrderStatus, now: datetime, **fill: object) -> None:
        """Emit a 00 event of ``order``; its ``status`` (ka10075 ``ord_stt``) is the last
        event's."""
        order.status = status
        if status == "확인":
            order.confirm_time = now
        self.market.emit(OrderUpdate(order=order.view(), status=status, time=now, **fill))  # type: ignore[arg-type]

    # --- entry points -------------------------------------------------------------------
    def place(
        self,
        *,
        side: Side,
        code: str,
        qty: int,
        price: int,
        trade_type: str,
        venue: str,
        now: datetime,
        stop_price: int = 0,
    ) -> Order:
        """kt10000 / kt10001: accept (and possibly fill) a new order.

        Raises:
            OrderRejected: insufficient cash or shares, bad price, an order type not taken
                on that venue or at that time, a closed day, …
        """
        side = Side(side)
        order_type = sim_order_type(trade_type)
        self._check_day(now)
        refusal = entry_refusal(
            order_type, venue, now, self.config.clock, self.config.nxt_only_trade_types
        )
        if refusal is not None:
            raise OrderRejected(refusal)
        stock = self.market.universe[code]
        if venue == "NXT" and not stock.nxt:
            raise OrderRejected("[2000](571493:NXT 거래대상 종목이 아닙니다.)")
        st = self.market.state(code)
        limit, shown = self._price(order_type, side, price, st)
        if order_type.needs_stop_price:
            self._check_stop(side, stop_price, st)
        order = Order(
            account=self.account.account_no,
            ord_no=self._new_no(),
            seq=self._next_no,
            kind="new",
            orig_ord_no=NO_ORDER,
            root_ord_no="",
            code=code,
            name=stock.name,
            side=side,
            trade_type=order_type,
            venue=venue,
            qty=qty,
            price=shown,
            limit_price=limit,
            tif=order_type.time_in_force,
            time=now,
            open_qty=qty,
            stop_price=stop_price,
        )
        order.root_ord_no = order.ord_no
        self._reserve(order, limit)
        self.account.orders[order.ord_no] = order
        self._emit(order, "접수", now)
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self._refuse(order, REFUSED_BY_FAULT, now)
            return order
        self._work(order, now)
        return order

    def _price(
        self, order_type: OrderType, side: Side, price: int, st: SimStock
    ) -> tuple[int, int]:
        """``(limit, shown)``: the worst price the order may trade at, and its price as 901
        and ka10075 show it (0 for a market order)."""
        pricing = order_type.pricing
        buy = side == Side.BUY
        if pricing in ("market", "mid"):  # 중간가: any price, the mid on trading
            return (st.upper if buy else st.lower), 0
        if pricing == "best":  # 최유리: the best price on the other side, on arrival
            touch = st.best_ask if buy else st.best_bid
            limit = touch or (st.upper if buy else st.lower)
            return limit, limit
        if pricing == "priority":  # 최우선: the best price on its own side
            limit = (st.best_bid if buy else st.best_ask) or st.last
            return limit, limit
        if order_type is OrderType.PRE_OPEN_CLOSE_PRICE:  # at the previous close
            return st.base_price, st.base_price
        if order_type is OrderType.POST_CLOSE_CLOSE_PRICE:  # at today's close
            return st.last, st.last
        if pricing == "single_price":
            lower, upper = single_price_band(st.last, st.lower, st.upper)
            self._check_price(price, lower, upper)
            return price, price
        self._check_price(price, st.lower, st.upper)
        return price, price

    def _check_stop(self, side: Side, stop: int, st: SimStock) -> None:
        """A stop on the tick grid inside the limits, above the price for a buy and below
        it for a sell (else it would fire at once) [I: the refusal text is ours]."""
        self._check_price(stop, st.lower, st.upper)
        if (stop <= st.last) if side == Side.BUY else (stop >= st.last):
            raise OrderRejected(
                "[2000](507012:스톱가격이 현재가 조건에 맞지 않습니다. "
                f"스톱가격={stop} 현재가={st.last})"
            )

    def _check_price(self, price: int, lower: int, upper: int) -> None:
        if not krx.is_valid_price(price):
            raise OrderRejected(
                f"[2000](507007:주문가격이 호가단위에 맞지 않습니다. 주문가격={price})"
            )
        if not lower <= price <= upper:
            raise OrderRejected(
                "[2000](507010:주문가격이 가격제한폭을 벗어났습니다. "
                f"상한가={upper} 하한가={lower})"
            )

    def _reserve(self, order: Order, limit: int) -> None:
        acct = self.account
        if order.side == Side.BUY:
            per_share = limit + self._cost(limit) + 1
            need = per_share * order.open_qty
            if need > acct.orderable_cash:
                can = max(0, acct.orderable_cash // per_share)
                raise OrderRejected(f"[2000](855056:매수증거금이 부족합니다. {can}주 매수가능)")
            order.reserve_per_share = per_share
            order.reserved = need
            acct.reserved_cash += need
        else:
            held = acct.holdings.get(order.code)
            can = (held.qty if held else 0) - acct.reserved_qty(order.code)
            if order.open_qty > can:
                raise OrderRejected(
                    f"[2000](800033:매도가능수량이 부족합니다. {max(0, can)}주 매도가능)"
                )

    def _release(self, order: Order) -> None:
        """Give back the cash still reserved for a buy that will not fill further."""
        self.account.reserved_cash -= order.reserved
        order.reserved = 0

    def _work(self, order: Order, now: datetime) -> None:
        """Match a just-accepted order, then rest it or cancel the rest (IOC/FOK/market).

        Off-hours orders: 장전/장후시간외 trade at once at their closing price, against the
        crowd the model stands for [I]; 시간외단일가 waits for the next 10-minute crossing.
        During a call auction (KRX, ``clock="krx"``) an order waits for the crossing.
        """
        market = self.market
        pricing = order.trade_type.pricing
        if pricing == "close":
            market.off_hours_fill(order, order.limit_price, now)
            return
        if pricing == "single_price":
            market.rest_single(order)
            return
        if pricing == "stop" and order.stop_price:
            market.rest_stop(order)
            return
        if pricing == "mid":
            # the model's mid-price book holds only the user's own orders: an IOC/FOK finds
            # nobody to trade with at once [I]; a day order rests at the mid
            if order.tif == "day":
                market.rest_mid(order)
            else:
                self._auto_cancel(order, now)
            return
        if market.matching_open(order.venue, now):
            if (
                order.tif == "fok"
                and market.available(order.code, order.side, order.limit_price) < order.open_qty
            ):
                self._auto_cancel(order, now)
                return
            market.execute(order, order.limit_price, now)
            if order.open_qty == 0:
                return
            if order.tif in ("ioc", "fok") or pricing == "market":
                self._auto_cancel(order, now)
                return
        market.rest(order)

    def _auto_cancel(self, order: Order, now: datetime) -> None:
        """The exchange cancels what is left (IOC/FOK, a market order's rest, a day order at
        the end of its session): one 00 ``취소`` of the order itself, 902 = 0."""
        order.open_qty = 0
        self._release(order)
        self._emit(order, "취소", now)

    def _refuse(self, order: Order, reason: str, now: datetime) -> None:
        """The exchange refuses an order it had accepted: one 00 ``거부`` of the order with
        FID 919 = ``reason``, 902 = 0; its reservation is given back. (Refusals before
        acceptance are the ``return_code`` 20 answer and send no 00.)"""
        order.open_qty = 0
        order.reject_reason = reason
        self.market.unrest(order)
        self._release(order)
        self._emit(order, "거부", now, reject_reason=reason)

    def _on_trigger(self, order: Order, now: datetime) -> bool:
        """A 스톱지정가 reached its stop and becomes a limit order at its price: its 00
        (``SimConfig.stop_trigger_event``), or a 거부 when that price is outside the day's
        limits by now (a day later under ``clock="always"``) [I: the reason text is ours,
        after the 507010 refusal]."""
        st = self.market.peek(order.code)
        if st is not None and not st.lower <= order.limit_price <= st.upper:
            self._refuse(
                order,
                f"507010:주문가격이 가격제한폭을 벗어났습니다. 상한가={st.upper} 하한가={st.lower}",
                now,
            )
            return False
        event = self.config.stop_trigger_event
        if event != "none":
            self._emit(order, event, now)
        return True

    def _find_open(self, orig_ord_no: str, code: str) -> Order:
        order = self.account.orders.get(orig_ord_no)
        if order is None or order.code != code or order.kind == "cancel":
            raise OrderRejected(
                f"[2000](800049:원주문번호가 존재하지 않습니다. 원주문번호={orig_ord_no})"
            )
        if order.open_qty <= 0:
            raise OrderRejected("[2000](800050:정정/취소 가능수량이 없습니다.)")
        return order

    def modify(
        self,
        *,
        orig_ord_no: str,
        code: str,
        qty: int,
        price: int,
        now: datetime,
        stop_price: int = 0,
    ) -> Order:
        """kt10002: move ``qty`` (0 = all open) of an open order to a new price (and, for a
        스톱지정가 still waiting, to ``stop_price``; 0 keeps its stop).

        The new order gets a new number; ``root_ord_no`` is the root of the chain.
        """
        self._check_day(now)
        orig = self._find_open(orig_ord_no, code)
        qty = orig.open_qty if qty == 0 else qty
        if qty > orig.open_qty:
            raise OrderRejected(
                f"[2000](800050:정정가능수량을 초과하였습니다. {orig.open_qty}주 정정가능)"
            )
        # a modify keeps a priced type (보통, 조건부지정가, 시간외단일가); 최유리/최우선/시장가
        # became limits at their price on acceptance, so their modify is a 보통 [I]
        # a 스톱지정가 still waiting stays one (at the new stop); once fired it is a limit
        keep = orig.trade_type.pricing in ("limit", "single_price") and orig.tif == "day"
        keep = keep or orig.armed
        order_type = orig.trade_type if keep else OrderType.LIMIT
        stop = (stop_price or orig.stop_price) if orig.armed else 0
        refusal = entry_refusal(
            order_type, orig.venue, now, self.config.clock, self.config.nxt_only_trade_types
        )
        if refusal is not None:
            raise OrderRejected(refusal)
        st = self.market.state(code)
        self._price(order_type, orig.side, price, st)
        if stop:
            self._check_stop(orig.side, stop, st)
        new = Order(
            account=orig.account,
            ord_no=self._new_no(),
            seq=self._next_no,
            kind="modify",
            orig_ord_no=orig.ord_no,
            root_ord_no=orig.root_ord_no,
            code=code,
            name=orig.name,
            side=orig.side,
            trade_type=order_type,
            venue=orig.venue,
            qty=qty,
            price=price,
            limit_price=price,
            tif="day",
            time=now,
            open_qty=qty,
            stop_price=stop,
        )
        if orig.side == Side.BUY:
            # the modified part's old reservation is freed before the new one is taken
            per_share = price + self._cost(price) + 1
            room = self.account.orderable_cash + orig.reserve_per_share * qty
            if per_share * qty > room:
                can = max(0, room // per_share)
                raise OrderRejected(f"[2000](855056:매수증거금이 부족합니다. {can}주 매수가능)")
        self._shrink(orig, qty)
        self._reserve(new, price)
        self.account.orders[new.ord_no] = new
        # PROTOCOL §5.7/§8.1: 접수 then 확인 of the new number (904 = the original); where
        # the 확인 falls among the fills the new price makes at once is not known
        self._emit(new, "접수", now)
        if self.config.order_confirm_before_fills:
            self._emit(new, "확인", now)
            self._work(new, now)
        else:
            self._work(new, now)
            self._emit(new, "확인", now)
        return new

    def cancel(self, *, orig_ord_no: str, code: str, qty: int, now: datetime) -> Order:
        """kt10003: cancel ``qty`` (0 = everything open) of an open order."""
        orig = self._find_open(orig_ord_no, code)
        qty = orig.open_qty if qty == 0 else qty
        if qty > orig.open_qty:
            raise OrderRejected(
                f"[2000](800050:취소가능수량을 초과하였습니다. {orig.open_qty}주 취소가능)"
            )
        rec = Order(
            account=orig.account,
            ord_no=self._new_no(),
            seq=self._next_no,
            kind="cancel",
            orig_ord_no=orig.ord_no,
            root_ord_no=orig.root_ord_no,
            code=code,
            name=orig.name,
            side=orig.side,
            trade_type=orig.trade_type,
            venue=orig.venue,
            qty=qty,
            price=0,
            limit_price=0,
            tif="day",
            time=now,
            open_qty=qty,
        )
        self.account.orders[rec.ord_no] = rec
        # PROTOCOL §5.7: 접수 of the cancel's own number (902 = the quantity to cancel),
        # then 확인 with 902 = 0; the original order gets no event of its own. Where the
        # 확인 falls among the original's fills is not known (§8.1): at once, or after the
        # fills the market makes until the exchange takes the cancel (the next step)
        self._emit(rec, "접수", now)
        if self.config.order_confirm_before_fills:
            self._confirm_cancel(rec, now)
        else:
            self._pending_cancels.append(rec)
        return rec

    def _confirm_cancel(self, rec: Order, now: datetime) -> None:
        """The exchange takes a cancel: what is still open of its quantity is cancelled
        (00 ``확인``, 900 = that quantity, 902 = 0); nothing left (the original filled
        meanwhile) refuses it (00 ``거부``) [I: the reason text is ours, after 800050]."""
        orig = self.account.orders[rec.orig_ord_no]
        qty = min(rec.qty, orig.open_qty)
        if qty <= 0:
            self._refuse(rec, "800050:취소가능수량이 없습니다.", now)
            return
        rec.qty = qty
        self._shrink(orig, qty)
        rec.open_qty = 0
        self._emit(rec, "확인", now)

    def settle(self, now: datetime) -> None:
        """End of a market step: the exchange takes the cancels accepted since the last
        one (``order_confirm_before_fills=False``; their originals may have traded in
        between)."""
        pending, self._pending_cancels = self._pending_cancels, []
        for rec in pending:
            self._confirm_cancel(rec, now)

    def _shrink(self, orig: Order, qty: int) -> None:
        """Take ``qty`` open shares off ``orig`` (modified or cancelled away)."""
        orig.open_qty -= qty
        if orig.side == Side.BUY:
            give = orig.reserve_per_share * qty
            orig.reserved -= give
            self.account.reserved_cash -= give
        if orig.open_qty == 0:
            self.market.unrest(orig)
            self._release(orig)

    # --- fills ----------------------------------------------------------------------------
    def _on_fill(self, order: Order, price: int, qty: int, now: datetime) -> None:
        acct = self.account
        value = price * qty
        cost = self._cost(value)
        order.open_qty -= qty
        order.filled_qty += qty
        order.filled_value += value
        order.commission += cost
        acct.fill_count += 1
        order.last_fill_no = f"{acct.fill_count:07d}"
        order.last_fill_price, order.last_fill_qty = price, qty
        acct.today_commission += cost
        held = acct.holdings.setdefault(order.code, Holding(order.code, order.name))
        if order.side == Side.BUY:
            give = min(order.reserved, order.reserve_per_share * qty)
            order.reserved -= give
            acct.reserved_cash -= give
            acct.cash -= value + cost
            held.qty += qty
            held.purchase_amount += value
            held.purchase_commission += cost
            held.today_buy_qty += qty
        else:
            tax = self._tax(value)
            order.tax += tax
            acct.today_tax += tax
            acct.cash += value - cost - tax
            cost_basis = held.purchase_amount * qty // held.qty if held.qty else 0
            held.realized_pnl += value - cost_basis - cost - tax
            held.purchase_amount -= cost_basis
            held.qty -= qty
            held.today_sell_qty += qty
        if order.open_qty == 0:
            self._release(order)
        self._emit(order, "체결", now, fill_no=order.last_fill_no, fill_price=price, fill_qty=qty)
        st = self.market.state(order.code)
        self.market.emit(
            HoldingUpdate(
                account=acct.account_no,
                code=order.code,
                name=order.name,
                qty=held.qty,
                avg_price=held.avg_price,
                purchase_amount=held.purchase_amount,
                orderable_qty=held.qty - acct.reserved_qty(order.code),
                current_price=st.last,
                base_price=st.base_price,
                side=order.side,
                today_realized_pnl=held.realized_pnl,
                time=now,
            )
        )
