"""Every order type's rules under the KRX clock: in which phase each is taken, the call
auctions' crossings (user orders trade at the crossing price), 조건부지정가 turning market
for the closing call, day orders ending with their session, 장전/장후시간외 at the close
prices, 시간외단일가 rounds every 10 minutes within ±10 % of the close."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import orjson
import pytest

from gslts_kiwoom import krx
from gslts_kiwoom.sim import MarketEvent, MarketTrade, OrderUpdate, Simulator
from gslts_kiwoom.sim._accounts import Holding
from gslts_kiwoom.sim._orders import Order, OrderRejected
from gslts_kiwoom.sim._sessions import SINGLE_PRICE_CROSS_TIMES, single_price_band

from .conftest import START, make_sim

CODE = "005930"
DAY = START.date()


def at(h: int, m: int, s: int = 0) -> datetime:
    return datetime.combine(DAY, time(h, m, s), tzinfo=krx.KST)


def krx_sim(start: datetime, **kw: Any) -> tuple[Simulator, list[MarketEvent]]:
    sim = make_sim(clock="krx", start_time=start, **kw)
    events: list[MarketEvent] = []
    sim.add_listener(events.append)
    return sim, events


def place(sim: Simulator, side: str = "buy", **kw: Any) -> Order:
    args: dict[str, Any] = {
        "side": side,
        "code": CODE,
        "qty": 10,
        "price": 0,
        "trade_type": "0",
        "venue": "KRX",
        "now": sim.now,
    }
    args.update(kw)
    return sim.broker.place(**args)


def statuses(events: list[MarketEvent], order: Order) -> list[str]:
    no = order.ord_no
    return [e.status for e in events if isinstance(e, OrderUpdate) and e.order.ord_no == no]


def hold(sim: Simulator, qty: int) -> None:
    """Give the account ``qty`` shares of CODE bought at the base price."""
    st = sim.market.state(CODE)
    sim.broker.account.holdings[CODE] = Holding(CODE, st.stock.name, qty, qty * st.base_price)


# (time, trde_tp, venue) → accepted, or the detail code of the refusal
RULES = [
    (at(8, 35), "0", "KRX", None),  # opening call: 보통, 시장가, 조건부지정가
    (at(8, 35), "3", "KRX", None),
    (at(8, 35), "5", "KRX", None),
    (at(8, 35), "6", "KRX", "571492"),  # 최유리 needs a continuous book
    (at(8, 35), "7", "KRX", "571492"),
    (at(8, 35), "10", "KRX", "571492"),  # IOC/FOK too
    (at(8, 35), "23", "KRX", "571492"),
    (at(8, 35), "61", "KRX", None),  # 장전시간외 08:30–08:40
    (at(8, 45), "61", "KRX", "571492"),
    (at(8, 35), "61", "NXT", "505218"),  # KRX's off-hours types only
    (at(8, 35), "0", "NXT", None),  # NXT pre-market
    (at(8, 55), "0", "NXT", "571492"),  # NXT halt 08:50–09:00 (the KRX call still takes it)
    (at(8, 55), "0", "KRX", None),
    (at(10, 0), "0", "KRX", None),
    (at(10, 0), "6", "KRX", None),
    (at(10, 0), "7", "KRX", None),
    (at(10, 0), "16", "KRX", None),
    (at(10, 0), "26", "KRX", None),
    (at(10, 0), "81", "KRX", "571492"),
    (at(10, 0), "62", "KRX", "571492"),
    (at(15, 25), "0", "KRX", None),  # closing call
    (at(15, 25), "5", "KRX", None),
    (at(15, 25), "6", "KRX", "571492"),
    (at(15, 25), "20", "KRX", "571492"),
    (at(15, 35), "0", "KRX", "571492"),
    (at(15, 35), "0", "NXT", None),  # NXT after-market
    (at(15, 45), "81", "KRX", None),  # 장후시간외 15:40–16:00
    (at(15, 45), "62", "KRX", "571492"),
    (at(16, 30), "62", "KRX", None),  # 시간외단일가 16:00–18:00
    (at(16, 30), "81", "KRX", "571492"),
    (at(19, 0), "0", "NXT", None),
    (at(19, 0), "0", "SOR", None),
    (at(19, 0), "62", "KRX", "571492"),
    (at(21, 0), "0", "KRX", "571490"),  # everything closed
    (at(21, 0), "0", "NXT", "571490"),
    (at(10, 0), "29", "KRX", "505218"),  # 중간가: Nextrade's
    (at(10, 0), "29", "NXT", None),
    (at(10, 0), "30", "SOR", None),
    (at(8, 35), "29", "NXT", None),  # NXT pre-market
    (at(15, 25), "29", "NXT", "571492"),  # NXT halts during KRX's closing call
    (at(17, 0), "31", "NXT", None),  # NXT after-market
]


@pytest.mark.parametrize(("when", "trde_tp", "venue", "refused"), RULES)
def test_which_order_types_are_taken_when(
    when: datetime, trde_tp: str, venue: str, refused: str | None
) -> None:
    sim, _ = krx_sim(when)
    hold(sim, 100)
    st = sim.market.state(CODE)
    price = krx.tick_down(st.best_bid, 3) if trde_tp in ("0", "5", "10", "20") else 0
    if trde_tp == "62":
        price = single_price_band(st.last, st.lower, st.upper)[0]
    kw = {"trade_type": trde_tp, "venue": venue, "price": price, "qty": 1}
    if refused is None:
        order = place(sim, **kw)
        assert order.status in ("접수", "체결", "취소")
    else:
        with pytest.raises(OrderRejected, match=refused):
            place(sim, **kw)


def test_always_clock_has_no_off_hours_sessions() -> None:
    sim = make_sim(start_time=START.replace(hour=3))
    hold(sim, 10)
    for trde_tp in ("61", "81", "62"):
        with pytest.raises(OrderRejected, match="571492"):
            place(sim, trade_type=trde_tp, price=67_500, qty=1)
    assert place(sim, trade_type="6", qty=1).filled_qty == 1  # 03:00 is continuous here


def test_opening_call_orders_cross_at_nine() -> None:
    sim, events = krx_sim(at(8, 50))
    st = sim.market.state(CODE)
    through = place(sim, price=st.upper, qty=7)
    market = place(sim, trade_type="3", qty=3)
    below = place(sim, price=krx.tick_down(st.base_price, 20), qty=5)
    assert statuses(events, through) == ["접수"]  # waiting for the crossing
    sim.step(at(9, 0, 1))
    cross = [
        e for e in events if isinstance(e, MarketTrade) and e.code == CODE and e.time == at(9, 0)
    ]
    price = cross[0].price
    assert {t.price for t in cross} == {price}
    for order, qty in ((through, 7), (market, 3)):
        assert statuses(events, order) == ["접수", "체결"]
        assert (order.filled_qty, order.open_qty, order.filled_value) == (qty, 0, price * qty)
    assert statuses(events, below) == ["접수"]
    assert below.open_qty == 5
    assert sim.broker.account.holdings[CODE].qty == 10


def test_conditional_limit_turns_market_for_the_closing_call_and_day_orders_end() -> None:
    sim, events = krx_sim(at(15, 10))
    st = sim.market.state(CODE)
    far = krx.tick_down(st.best_bid, 30)
    conditional = place(sim, trade_type="5", price=far, qty=4)
    plain = place(sim, price=far, qty=6)
    nxt = place(sim, price=far, qty=2, venue="NXT")
    assert conditional.limit_price == far
    sim.step(at(15, 21))
    assert conditional.limit_price == st.upper  # a market order for the call
    assert plain.limit_price == far
    sim.step(at(15, 30, 1))
    close = st.last
    assert statuses(events, conditional) == ["접수", "체결"]
    assert conditional.filled_value == close * 4
    # what the close did not fill ends with KRX's day: 취소 of the order, nothing reserved
    assert statuses(events, plain) == ["접수", "취소"]
    assert plain.open_qty == 0
    assert nxt.open_qty == 2  # NXT's after-market goes on until 20:00
    sim.step(at(20, 0, 1))
    assert statuses(events, nxt) == ["접수", "취소"]
    acct = sim.broker.account
    assert acct.reserved_cash == 0
    assert acct.cash == sim.config.initial_cash - close * 4 - sim.broker._cost(close * 4)


def test_off_hours_close_price_orders_trade_at_once_at_the_close() -> None:
    sim, events = krx_sim(at(8, 31))
    hold(sim, 20)
    st = sim.market.state(CODE)
    base = st.base_price
    pre = place(sim, trade_type="61", qty=5)
    sold = place(sim, "sell", trade_type="61", qty=3)
    for order, qty in ((pre, 5), (sold, 3)):
        assert statuses(events, order) == ["접수", "체결"]
        assert (order.price, order.filled_value) == (base, base * qty)
    assert st.last == base  # off-hours trades leave the price alone
    assert st.cum_volume >= 8
    sim.step(at(15, 30, 1))
    close = st.last
    sim.step(at(15, 41))
    post = place(sim, trade_type="81", qty=2)
    assert statuses(events, post) == ["접수", "체결"]
    assert post.filled_value == close * 2
    assert st.last == close
    trades = [e for e in events if isinstance(e, MarketTrade) and e.code == CODE]
    assert [abs(t.volume) for t in trades if t.time in (at(8, 31), at(15, 41))] == [5, 3, 2]
    # 0B FID 290 장구분: 1 장전 시간외, 2 장중 (the calls' crossings included), 3 장후 시간외
    sessions = {
        t.time.strftime("%H%M"): orjson.loads(sim.feed.trade_text(t))["values"]["290"]
        for t in trades
    }
    assert sessions == {"0831": "1", "0900": "2", "1530": "2", "1541": "3"}


def test_single_price_rounds_every_ten_minutes_then_the_rest_ends() -> None:
    sim, events = krx_sim(at(16, 1))
    st = sim.market.state(CODE)
    close = st.last
    low, high = single_price_band(close, st.lower, st.upper)
    assert low == krx.round_to_tick(-(-close * 9 // 10), "up")
    assert high == krx.round_to_tick(close * 11 // 10, "down")
    with pytest.raises(OrderRejected, match="507010"):
        place(sim, trade_type="62", price=krx.tick_up(high))
    eager = place(sim, trade_type="62", price=high, qty=3)
    patient = place(sim, trade_type="62", price=low, qty=2)
    assert statuses(events, eager) == ["접수"]
    sim.step(at(16, 10, 1))
    assert statuses(events, eager) == ["접수", "체결"]
    price = st.single_price
    assert low <= price <= high
    assert eager.filled_value == price * 3
    assert st.last == close  # the regular close stays
    # modify keeps the type and its band; the last round is 18:00, then it ends
    moved = sim.broker.modify(
        orig_ord_no=patient.ord_no, code=CODE, qty=0, price=krx.tick_up(low), now=sim.now
    )
    assert moved.trade_type.value == "62"
    for t in SINGLE_PRICE_CROSS_TIMES[1:]:
        sim.step(datetime.combine(DAY, t, tzinfo=krx.KST) + timedelta(seconds=1))
    assert statuses(events, moved)[-1] in ("체결", "취소")
    assert moved.open_qty == 0
    assert sim.market.state(CODE).user_single == []


def test_stop_limit_waits_out_of_the_book_then_fires_as_a_limit(api_factory: Any) -> None:
    sim = make_sim(trades_per_s=0)
    events: list[MarketEvent] = []
    sim.add_listener(events.append)
    st = sim.market.state(CODE)
    last = st.last
    with pytest.raises(OrderRejected, match="505218"):  # Nextrade's type: not on KRX
        place(sim, trade_type="28", price=krx.tick_up(last, 5), stop_price=krx.tick_up(last, 2))
    with pytest.raises(OrderRejected, match="507012"):  # a buy stop must be above the price
        place(sim, trade_type="28", venue="NXT", price=last, stop_price=last)
    stop = place(
        sim,
        trade_type="28",
        venue="NXT",
        qty=3,
        price=krx.tick_up(last, 6),
        stop_price=krx.tick_up(last, 2),
    )
    assert stop.armed
    assert stop in st.user_stops
    assert stop not in st.user_bids
    api = api_factory(sim)
    (row,) = api.ok("ka10075", "acnt", {"all_stk_tp": "0", "trde_tp": "0", "stex_tp": "0"})["oso"]
    assert (row["ord_no"], row["trde_tp"], row["stop_pric"]) == (
        stop.ord_no,
        "스톱지정가",
        str(stop.stop_price),
    )
    # a modify of a waiting stop keeps it waiting, at the new stop
    stop = sim.broker.modify(
        orig_ord_no=stop.ord_no,
        code=CODE,
        qty=0,
        price=krx.tick_up(last, 7),
        stop_price=krx.tick_up(last, 3),
        now=sim.now,
    )
    assert (stop.armed, stop.trade_type.value) == (True, "28")
    assert stop.stop_price == krx.tick_up(last, 3)
    # push the price up through the stop with a big market buy: the stop fires and trades
    # as a limit at its price
    while st.last < stop.stop_price:
        place(sim, trade_type="3", qty=st.asks[0].qty)
    assert not stop.armed
    assert stop not in st.user_stops
    assert statuses(events, stop)[:2] == ["접수", "확인"]
    assert "체결" in statuses(events, stop)
    fills = [e for e in events if isinstance(e, OrderUpdate) and e.order.ord_no == stop.ord_no]
    assert all(u.fill_price <= stop.limit_price for u in fills if u.status == "체결")


def test_stop_limit_over_http_needs_cond_uv_and_kiwoom_types_can_be_taken_on_krx(
    api_factory: Any,
) -> None:
    sim = make_sim(nxt_only_trade_types=frozenset())
    api = api_factory(sim)
    last = sim.market.state(CODE).last
    body = {"dmst_stex_tp": "KRX", "stk_cd": CODE, "ord_qty": "1", "trde_tp": "28"}
    body["ord_uv"] = str(krx.tick_down(last, 4))
    missing = api.call("kt10001", "ordr", body).json()
    assert missing["return_code"] == 2
    assert "cond_uv" in missing["return_msg"]
    sim.broker.account.holdings[CODE] = Holding(CODE, "삼성전자", 5, 5 * last)
    ok = api.ok("kt10001", "ordr", {**body, "cond_uv": str(krx.tick_down(last, 2))})
    (order,) = [o for o in sim.broker.account.orders.values() if o.ord_no == ok["ord_no"]]
    assert (order.armed, order.stop_price, order.side) == (True, krx.tick_down(last, 2), "sell")


def test_mid_price_rests_at_the_mid_and_trades_with_the_flow_ioc_fok_find_nobody() -> None:
    sim = make_sim(trades_per_s=0, active_order_stock_rate=20.0)
    events: list[MarketEvent] = []
    sim.add_listener(events.append)
    st = sim.market.state(CODE)
    for trde_tp in ("30", "31"):
        order = place(sim, trade_type=trde_tp, venue="NXT", qty=5)
        assert statuses(events, order) == ["접수", "취소"]
        assert order.filled_qty == 0
    mid = place(sim, trade_type="29", venue="NXT", qty=st.typical_qty * 3)
    assert (mid.price, mid in st.user_mids) == (0, True)
    for _ in range(200):
        sim.step(sim.now + timedelta(seconds=1))
        if mid.open_qty == 0:
            break
    fills = [e for e in events if isinstance(e, OrderUpdate) and e.order.ord_no == mid.ord_no]
    fills = [u for u in fills if u.status == "체결"]
    assert fills
    assert sum(u.fill_qty for u in fills) == mid.filled_qty
    trades = {(t.time, t.price): t for t in events if isinstance(t, MarketTrade)}
    for u in fills:
        trade = trades[(u.time, u.fill_price)]
        assert trade.volume < 0  # a sell aggressor met our resting mid buy
        # at the mid of the book it met (the trade's best ask/bid: the book was not touched),
        # on the tick grid, rounded down for our buy
        mid = krx.round_to_tick((trade.best_bid + trade.best_ask) // 2, "down")
        assert u.fill_price == mid
        assert trade.best_bid <= u.fill_price < trade.best_ask
        assert krx.is_valid_price(u.fill_price)
    assert sim.broker.account.reserved_cash >= 0
