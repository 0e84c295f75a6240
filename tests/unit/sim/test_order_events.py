"""Every terminal transition of a user order reaches the 00 stream, formatted per PROTOCOL
§8.1: fills, what the exchange cancels (IOC/FOK rests, a market order's rest, day orders
at the end of their session), a 스톱지정가 reaching its stop, and orders the exchange
refuses after accepting them (913 ``거부`` + 919); a refusal of the request itself
(``return_code`` 20) sends no 00."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest

from gslts_kiwoom import Side, krx
from gslts_kiwoom.realtime import OrderEvent, OrderState, RealtimeDecoder
from gslts_kiwoom.sim import MarketEvent, OrderUpdate, Simulator
from gslts_kiwoom.sim._accounts import REFUSED_BY_FAULT
from gslts_kiwoom.sim._orders import Order, OrderRejected

from .conftest import START, make_sim

CODE = "005930"


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


class Stream:
    """The 00 entries the feed makes of every OrderUpdate, as a client would get them."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.updates: list[OrderUpdate] = []
        sim.add_listener(self._on)

    def _on(self, e: MarketEvent) -> None:
        if isinstance(e, OrderUpdate):
            self.updates.append(e)

    def values(self, order: Order) -> list[dict[str, str]]:
        return [
            self.sim.feed.order_entry(u)["values"]
            for u in self.updates
            if u.order.ord_no == order.ord_no
        ]

    def states(self, order: Order) -> list[str]:
        return [v["913"] for v in self.values(order)]

    def decoded(self, order: Order) -> list[OrderEvent]:
        dec = RealtimeDecoder()
        dec.set_clock(self.sim.now.timestamp())
        items = [
            self.sim.feed.order_entry(u) for u in self.updates if u.order.ord_no == order.ord_no
        ]
        events = dec.decode_items(items)
        assert not dec.malformed
        assert all(isinstance(e, OrderEvent) for e in events)
        return events  # type: ignore[return-value]


def assert_wire(v: dict[str, str]) -> None:
    """PROTOCOL §8.1: plain code, 912 JJ, 910/914 unsigned, "" for no fill, 2134–2136."""
    assert v["9001"] == CODE
    assert v["912"] == "JJ"
    assert (v["2134"], v["2135"], v["2136"]) == ("1", "KRX", "N")
    fill_fids = ("909", "910", "911", "914", "915")
    if v["913"] == "체결":
        assert all(v[f] for f in fill_fids)
        assert v["910"].isdigit()
        assert v["914"].isdigit()
    else:
        assert all(v[f] == "" for f in fill_fids), v
    assert v["902"].isdigit()


def test_fills_and_exchange_cancels_end_with_a_00() -> None:
    sim = make_sim(initial_cash=10**12)
    s = Stream(sim)
    st = sim.market.state(CODE)
    ioc = place(sim, qty=st.asks[0].qty + 5, price=st.asks[0].price, trade_type="10")
    fok = place(
        sim,
        qty=sim.market.available(CODE, Side.BUY, st.best_ask) + 1,
        price=st.best_ask,
        trade_type="20",
    )
    mid_ioc = place(sim, qty=1, trade_type="30", venue="NXT")
    # more than the whole book up to the upper limit: the exchange cancels the rest
    market = place(sim, qty=2_000_000, trade_type="3")
    assert 0 < market.filled_qty < 2_000_000
    for order in (market, ioc):
        states = s.states(order)
        assert states[0] == "접수"
        assert "체결" in states
        assert states[-1] == "취소"
    assert s.states(fok) == ["접수", "취소"]
    assert s.states(mid_ioc) == ["접수", "취소"]
    for order in (market, ioc, fok, mid_ioc):
        vs = s.values(order)
        for v in vs:
            assert_wire({**v, "2134": "1", "2135": "KRX", "2136": "N"})
        assert vs[-1]["902"] == "0"
        assert s.decoded(order)[-1].state is OrderState.CANCELLED
    filled = place(sim, side="sell", qty=1, trade_type="3")
    assert s.states(filled) == ["접수", "체결"]
    last = s.values(filled)[-1]
    assert_wire(last)
    assert last["902"] == "0"
    assert (last["911"], last["915"]) == ("1", "1")


def test_day_orders_end_with_their_session_as_a_00_cancel() -> None:
    day = START.date()
    sim = make_sim(clock="krx", start_time=datetime.combine(day, time(15, 10), tzinfo=krx.KST))
    s = Stream(sim)
    st = sim.market.state(CODE)
    resting = place(sim, qty=3, price=krx.tick_up(st.lower, 2))
    assert resting.open_qty == 3
    end = datetime.combine(day, time(15, 31), tzinfo=krx.KST)
    while sim.now < end:
        sim.step(min(end, sim.now + timedelta(seconds=30)))
    assert s.states(resting) == ["접수", "취소"]
    assert s.values(resting)[-1]["902"] == "0"
    assert_wire(s.values(resting)[-1])
    assert sim.broker.account.reserved_cash == 0


@pytest.mark.parametrize(
    ("event", "expected"), [("확인", ["확인"]), ("접수", ["접수"]), ("none", [])]
)
def test_a_stop_reaching_its_stop_is_on_the_stream(event: str, expected: list[str]) -> None:
    sim = make_sim(trades_per_s=0, stop_trigger_event=event)
    s = Stream(sim)
    st = sim.market.state(CODE)
    last = st.last
    stop = place(
        sim,
        trade_type="28",
        venue="NXT",
        qty=2,
        price=krx.tick_up(last, 8),
        stop_price=krx.tick_up(last, 2),
    )
    assert s.states(stop) == ["접수"]
    while st.last < stop.stop_price:
        place(sim, trade_type="3", qty=st.asks[0].qty)
    states = s.states(stop)
    fills = [i for i, x in enumerate(states) if x == "체결"]
    assert fills, states
    assert states[1 : fills[0]] == expected  # the trigger's event comes before its fills
    if expected:
        v = s.values(stop)[1]
        assert (v["9203"], v["902"], v["906"], v["904"]) == (
            stop.ord_no,
            "2",
            "스톱지정가",
            "0000000",
        )
        assert v["909"] == v["910"] == v["915"] == ""
        assert v["2134"] == "2"


def test_a_stop_whose_price_left_the_limits_is_refused_with_a_reason(api_factory: Any) -> None:
    sim = make_sim(trades_per_s=0)
    s = Stream(sim)
    st = sim.market.state(CODE)
    last = st.last
    stop = place(
        sim,
        trade_type="28",
        venue="NXT",
        qty=4,
        price=krx.tick_up(last, 8),
        stop_price=krx.tick_up(last, 2),
    )
    reserved = sim.broker.account.reserved_cash
    assert reserved > 0
    # a new day (clock "always" keeps orders): the limits moved below the stop's price
    sim.market.rebase(st, krx.tick_down(last, 200))
    st.last = stop.stop_price
    place(sim, trade_type="3", qty=1)  # the market order's trade checks the stops
    assert s.states(stop) == ["접수", "거부"]
    refused = s.values(stop)[-1]
    assert refused["919"].startswith("507010:주문가격이 가격제한폭을 벗어났습니다.")
    assert refused["902"] == "0"
    assert_wire({**refused, "9001": CODE, "2134": "1", "2135": "KRX", "2136": "N"})
    (ev,) = [e for e in s.decoded(stop) if e.state is OrderState.REJECTED]
    assert ev.reject_reason == refused["919"]
    assert stop.open_qty == 0
    assert sim.broker.account.reserved_cash == 0
    api = api_factory(sim)
    oso = api.ok("ka10075", "acnt", {"all_stk_tp": "0", "trde_tp": "0", "stex_tp": "0"})["oso"]
    assert stop.ord_no not in {r["ord_no"] for r in oso}
    rows = api.ok(
        "kt00007", "acnt", {"qry_tp": "1", "stk_bond_tp": "0", "sell_tp": "0", "dmst_stex_tp": "%"}
    )["acnt_ord_cntr_prps_dtl"]
    (row,) = [r for r in rows if r["ord_no"] == stop.ord_no]
    assert (row["acpt_tp"], row["ord_remnq"], row["cntr_qty"]) == (
        "거부",
        "0000000000",
        "0000000000",
    )


def test_refused_requests_send_no_00_and_the_fault_refuses_after_accepting(sim: Simulator) -> None:
    s = Stream(sim)
    with pytest.raises(OrderRejected, match="507007"):
        place(sim, qty=1, price=67_550)
    assert s.updates == []
    sim.broker.refuse_next = 1
    refused = place(sim, qty=2, price=sim.market.state(CODE).best_bid)
    assert s.states(refused) == ["접수", "거부"]
    assert s.values(refused)[-1]["919"] == REFUSED_BY_FAULT
    assert sim.broker.account.reserved_cash == 0
    ok = place(sim, qty=2, price=sim.market.state(CODE).best_bid)
    assert s.states(ok) == ["접수"]
