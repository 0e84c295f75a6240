"""Order matching, partial fills, modify/cancel chains, cash/holdings, rejections."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gslts_kiwoom import krx
from gslts_kiwoom.sim import MarketEvent, MarketTrade, OrderUpdate, Simulator
from gslts_kiwoom.sim._orders import OrderRejected

from .conftest import START, advance, make_sim

CODE = "005930"


def place(sim: Simulator, side: str = "buy", **kw: object) -> object:
    args: dict[str, object] = {
        "side": side,
        "code": CODE,
        "qty": 10,
        "price": 0,
        "trade_type": "0",
        "venue": "KRX",
        "now": sim.now,
    }
    args.update(kw)
    return sim.broker.place(**args)  # type: ignore[arg-type]


def updates(events: list[MarketEvent], ord_no: str) -> list[OrderUpdate]:
    return [e for e in events if isinstance(e, OrderUpdate) and e.order.ord_no == ord_no]


def test_market_buy_fills_at_the_ask_and_books_cash_and_holding(sim: Simulator) -> None:
    events: list[MarketEvent] = []
    sim.add_listener(events.append)
    st = sim.market.state(CODE)
    ask, ask_qty = st.asks[0].price, st.asks[0].qty
    qty = min(5, ask_qty)
    order = place(sim, qty=qty, trade_type="3")
    assert order.ord_no == "0000001"  # type: ignore[attr-defined]
    assert order.filled_qty == qty  # type: ignore[attr-defined]
    value = ask * qty
    commission = int(Decimal(value) * Decimal("0.00015"))
    acct = sim.broker.account
    assert acct.cash == sim.config.initial_cash - value - commission
    assert acct.orderable_cash == acct.cash  # nothing left reserved
    assert acct.holdings[CODE].qty == qty
    assert acct.holdings[CODE].avg_price == ask
    statuses = [u.status for u in updates(events, "0000001")]
    assert statuses[0] == "접수"
    assert "체결" in statuses
    fills = [e for e in events if isinstance(e, MarketTrade) and e.code == CODE]
    assert fills[-1].price == ask
    assert fills[-1].volume == qty  # buy-initiated


def test_limit_order_rests_then_fills_partially_over_time() -> None:
    sim = make_sim(
        active_order_stock_rate=20.0,
        trades_per_s=0,
    )
    events: list[MarketEvent] = []
    sim.add_listener(events.append)
    st = sim.market.state(CODE)
    bid = st.best_bid
    qty = st.typical_qty * 4
    order = place(sim, qty=qty, price=bid)
    assert order.open_qty == qty  # type: ignore[attr-defined]
    assert sim.broker.account.reserved_cash > bid * qty
    for _ in range(120):
        advance(sim, 1)
        if order.open_qty == 0:  # type: ignore[attr-defined]
            break
    fills = [u for u in updates(events, order.ord_no) if u.status == "체결"]  # type: ignore[attr-defined]
    assert len(fills) >= 2, "expected several partial fills"
    assert all(u.fill_price <= bid for u in fills)
    opens = [u.order.open_qty for u in fills]
    assert opens == sorted(opens, reverse=True)
    assert sum(u.fill_qty for u in fills) == order.filled_qty  # type: ignore[attr-defined]


def test_ioc_fills_what_is_there_and_cancels_the_rest(sim: Simulator) -> None:
    st = sim.market.state(CODE)
    ask, ask_qty = st.asks[0].price, st.asks[0].qty
    order = place(sim, qty=ask_qty + 50, price=ask, trade_type="10")
    assert order.filled_qty == ask_qty  # type: ignore[attr-defined]
    assert order.open_qty == 0  # type: ignore[attr-defined]
    assert order.status == "취소"  # type: ignore[attr-defined]
    assert sim.broker.account.reserved_cash == 0


def test_fok_is_all_or_nothing(sim: Simulator) -> None:
    st = sim.market.state(CODE)
    ask = st.asks[0].price
    available = sim.market.available(CODE, "buy", ask)
    killed = place(sim, qty=available + 1, price=ask, trade_type="20")
    assert killed.filled_qty == 0  # type: ignore[attr-defined]
    assert killed.status == "취소"  # type: ignore[attr-defined]
    filled = place(sim, qty=available, price=ask, trade_type="20")
    assert filled.filled_qty == available  # type: ignore[attr-defined]


def test_best_counter_limit_takes_the_best_ask(sim: Simulator) -> None:
    ask = sim.market.state(CODE).best_ask
    order = place(sim, qty=1, trade_type="6")
    assert order.price == ask  # type: ignore[attr-defined]
    assert order.filled_qty == 1  # type: ignore[attr-defined]


def test_modify_and_cancel_chain(sim: Simulator) -> None:
    events: list[MarketEvent] = []
    sim.add_listener(events.append)
    st = sim.market.state(CODE)
    low = krx.tick_down(st.best_bid, 20)
    first = place(sim, qty=10, price=low)
    m1 = sim.broker.modify(
        orig_ord_no=first.ord_no, code=CODE, qty=0, price=krx.tick_down(low), now=sim.now
    )  # type: ignore[attr-defined]
    m2 = sim.broker.modify(
        orig_ord_no=m1.ord_no, code=CODE, qty=4, price=krx.tick_down(low, 2), now=sim.now
    )
    assert (first.ord_no, m1.ord_no, m2.ord_no) == ("0000001", "0000002", "0000003")  # type: ignore[attr-defined]
    assert m1.root_ord_no == m2.root_ord_no == "0000001"
    assert first.open_qty == 0  # type: ignore[attr-defined]
    assert m1.open_qty == 6
    assert m2.open_qty == 4
    cancel = sim.broker.cancel(orig_ord_no=m2.ord_no, code=CODE, qty=0, now=sim.now)
    assert cancel.root_ord_no == "0000001"
    assert cancel.qty == 4
    assert m2.open_qty == 0
    part = sim.broker.cancel(orig_ord_no=m1.ord_no, code=CODE, qty=2, now=sim.now)
    assert part.qty == 2
    assert m1.open_qty == 4
    acct = sim.broker.account
    assert acct.reserved_cash == m1.reserve_per_share * 4
    sim.broker.cancel(orig_ord_no=m1.ord_no, code=CODE, qty=0, now=sim.now)
    assert acct.reserved_cash == 0
    assert acct.cash == sim.config.initial_cash
    assert [u.status for u in updates(events, cancel.ord_no)] == ["접수", "확인"]
    with pytest.raises(OrderRejected, match="800050"):
        sim.broker.cancel(orig_ord_no=m1.ord_no, code=CODE, qty=0, now=sim.now)
    with pytest.raises(OrderRejected, match="800049"):
        sim.broker.cancel(orig_ord_no="0999999", code=CODE, qty=0, now=sim.now)


def test_sell_books_tax_and_realized_pnl(sim: Simulator) -> None:
    place(sim, qty=3, trade_type="3")
    acct = sim.broker.account
    cash_after_buy = acct.cash
    bid = sim.market.state(CODE).best_bid
    order = place(sim, side="sell", qty=3, trade_type="3")
    value = order.filled_value  # type: ignore[attr-defined]
    assert value == bid * 3
    commission = int(Decimal(value) * Decimal("0.00015"))
    tax = int(Decimal(value) * Decimal("0.0018"))
    assert acct.cash == cash_after_buy + value - commission - tax
    assert acct.holdings[CODE].qty == 0
    assert order.tax == tax  # type: ignore[attr-defined]


def test_rejections() -> None:
    sim = make_sim(initial_cash=100_000_000)
    st = sim.market.state(CODE)
    with pytest.raises(
        OrderRejected, match=r"^\[2000\]\(855056:매수증거금이 부족합니다. \d+주 매수가능\)$"
    ):
        place(sim, qty=100_000, price=st.best_bid)
    with pytest.raises(OrderRejected, match=r"855056:.* 1481주 매수가능"):
        place(sim, qty=10_000, price=67_500)  # 100M / (67,500 + 10 commission + 1)
    with pytest.raises(OrderRejected, match=r"800033:매도가능수량이 부족합니다. 0주 매도가능"):
        place(sim, side="sell", qty=1, price=st.best_ask)
    with pytest.raises(OrderRejected, match="507007"):
        place(sim, qty=1, price=67_550)
    with pytest.raises(OrderRejected, match="507010"):
        place(sim, qty=1, price=krx.tick_up(st.upper))
    with pytest.raises(OrderRejected, match="505217"):
        place(sim, qty=1, price=st.best_bid, trade_type="99")
    assert sim.broker.account.orders == {}


def test_selling_more_than_held_counts_open_sells() -> None:
    sim = make_sim()
    place(sim, qty=5, trade_type="3")
    far = krx.tick_up(sim.market.state(CODE).best_ask, 30)
    place(sim, side="sell", qty=3, price=far)
    with pytest.raises(OrderRejected, match="2주 매도가능"):
        place(sim, side="sell", qty=3, price=far)


def test_krx_clock_rejects_orders_on_a_holiday() -> None:
    sim = make_sim(clock="krx", start_time=datetime(2026, 9, 25, 10, 0, tzinfo=krx.KST))
    with pytest.raises(OrderRejected, match=r"\[2000\]\(571489:장이 열리지 않는 날입니다.\)"):
        place(sim, qty=1, price=67_500)
    evening = make_sim(clock="krx", start_time=START.replace(hour=21))
    with pytest.raises(OrderRejected, match="571490"):
        place(evening, qty=1, price=67_500)
    assert evening.step(evening.now + timedelta(seconds=30)) == 0


def test_open_and_filled_orders_filter_by_exchange(api_factory: Any) -> None:
    sim = make_sim()
    api = api_factory(sim)
    st = sim.market.state(CODE)
    low = str(krx.tick_down(st.best_bid, 10))
    base = {"stk_cd": CODE, "ord_qty": "1", "trde_tp": "0", "ord_uv": low}
    krx_no = api.ok("kt10000", "ordr", {**base, "dmst_stex_tp": "KRX"})["ord_no"]
    nxt_no = api.ok("kt10000", "ordr", {**base, "dmst_stex_tp": "NXT"})["ord_no"]
    query = {"all_stk_tp": "0", "trde_tp": "0"}

    def listed(stex: str) -> list[str]:
        rows = api.ok("ka10075", "acnt", {**query, "stex_tp": stex})["oso"]
        return [r["ord_no"] for r in rows]

    assert listed("0") == [nxt_no, krx_no]
    assert listed("1") == [krx_no]
    assert listed("2") == [nxt_no]
    bad = api.call("ka10075", "acnt", {**query, "stex_tp": "9"}).json()
    assert bad["return_code"] == 2
    rows = {r["ord_no"]: r for r in api.ok("ka10075", "acnt", {**query, "stex_tp": "0"})["oso"]}
    assert (rows[nxt_no]["stex_tp"], rows[nxt_no]["stex_tp_txt"]) == ("2", "NXT")
    assert rows[krx_no]["io_tp_nm"] == "+매수"
