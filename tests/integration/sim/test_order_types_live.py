"""Every order type once through a KRX day, over real sockets: the REST client places
them (kt10000), the raw 00 stream reports them, and ka10075/ka10076 agree with that stream
at every stage (the reconciliation the backend will do)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from gslts_kiwoom import KiwoomClient, OrderType, krx
from gslts_kiwoom.sim._sessions import single_price_band
from tests.integration.sim.conftest import START, SimServer
from tests.integration.sim.test_order_stream import Stream, _reconciles, _states

Make = Callable[..., SimServer]


def at(h: int, m: int, s: int = 0) -> datetime:
    return datetime.combine(START.date(), time(h, m, s), tzinfo=krx.KST)


def test_every_order_type_through_a_krx_day(make_server: Make) -> None:
    srv = make_server(clock="krx", start_time=at(8, 31), trades_per_s=5.0)
    sim = srv.sim
    code = sim.market._focus[0][0]  # type: ignore[index]
    rest: KiwoomClient = srv.client()
    s = Stream(srv)
    st = sim.market.state(code)
    seen: set[OrderType] = set()

    def buy(qty: int, price: int | None, t: OrderType, **kw: object) -> str:
        seen.add(t)
        return rest.buy(code, qty, price, order_type=t, **kw).order_no  # type: ignore[arg-type]

    try:
        # 08:31 장전시간외 (at the previous close, at once); the opening call takes 보통/시장가
        pre = buy(2, None, OrderType.PRE_OPEN_CLOSE_PRICE)
        assert _states(s.of(pre, 2)) == ["접수", "체결"]
        assert s.seen[-1]["910"] == str(st.base_price)
        call_limit = buy(3, st.upper, OrderType.LIMIT)
        call_market = buy(1, None, OrderType.MARKET)
        assert _states(s.of(call_market, 1)) == ["접수"]
        _reconciles(s.ledger, rest, code)
        sim.step(at(9, 0, 1))  # the opening call crosses
        assert _states(s.of(call_limit, 2)) == ["접수", "체결"]
        assert _states(s.of(call_market, 2)) == ["접수", "체결"]
        _reconciles(s.ledger, rest, code)

        # 10:00, the continuous session
        sim.step(at(10, 0))
        st = sim.market.state(code)
        ask, bid = st.best_ask, st.best_bid
        assert _states(s.of(buy(1, None, OrderType.BEST_LIMIT), 2)) == ["접수", "체결"]
        priority = buy(1, None, OrderType.PRIORITY_LIMIT)  # at the best bid: it waits
        for t in (OrderType.LIMIT_IOC, OrderType.LIMIT_FOK):
            assert _states(s.of(buy(1, ask, t), 2)) == ["접수", "체결"]
        for t in (OrderType.MARKET_IOC, OrderType.MARKET_FOK, OrderType.BEST_IOC):
            assert _states(s.of(buy(1, None, t), 2)) == ["접수", "체결"]
        too_many = sim.market.available(code, "buy", ask) + 1  # type: ignore[arg-type]
        assert _states(s.of(buy(too_many, None, OrderType.BEST_FOK), 2)) == ["접수", "취소"]
        conditional = buy(2, krx.tick_down(bid, 30), OrderType.CONDITIONAL_LIMIT)
        stop = buy(
            1,
            krx.tick_up(ask, 40),
            OrderType.STOP_LIMIT,
            exchange="NXT",
            stop_price=krx.tick_up(ask, 30),
        )
        mid = buy(1, None, OrderType.MID_PRICE, exchange="NXT")
        for t in (OrderType.MID_PRICE_IOC, OrderType.MID_PRICE_FOK):
            assert _states(s.of(buy(1, None, t, exchange="NXT"), 2)) == ["접수", "취소"]
        s.of(mid, 1)
        (row,) = [o for o in rest.open_orders(code) if o.order_no == stop]
        assert row.order_type == "스톱지정가"
        _reconciles(s.ledger, rest, code)

        # 15:20 조건부지정가 turns market; 15:30 it trades at the close, KRX's day orders end
        sim.step(at(15, 21))
        sim.step(at(15, 30, 1))
        close = sim.market.state(code).last
        events = s.of(conditional, 2)
        assert (events[-1]["913"], events[-1]["910"]) == ("체결", str(close))
        # 최우선 waited at the best bid: the close filled it, or it ended with the day
        assert _states(s.of(priority, 2))[-1] in ("체결", "취소")
        _reconciles(s.ledger, rest, code)

        # 15:41 장후시간외 at today's close; 16:01 시간외단일가 waits for 16:10
        sim.step(at(15, 41))
        post = buy(1, None, OrderType.POST_CLOSE_CLOSE_PRICE)
        assert [(v["913"], v["910"]) for v in s.of(post, 2)] == [("접수", ""), ("체결", str(close))]
        sim.step(at(16, 1))
        high = single_price_band(close, st.lower, st.upper)[1]
        single = buy(2, high, OrderType.AFTER_HOURS_SINGLE_PRICE)
        assert _states(s.of(single, 1)) == ["접수"]
        sim.step(at(16, 10, 1))
        assert _states(s.of(single, 2)) == ["접수", "체결"]
        _reconciles(s.ledger, rest, code)

        # 20:00 NXT's day ends: the stop and the mid order that never traded end with it
        sim.step(at(20, 0, 1))
        for no in (stop, mid):
            if s.ledger.orders[no].open_qty:
                assert _states(s.of(no, 2))[-1] == "취소"
        _reconciles(s.ledger, rest, code)
        assert rest.open_orders(code) == []
    finally:
        s.raw.close()
    assert seen == set(OrderType)
    assert sim.broker.account.reserved_cash == 0
