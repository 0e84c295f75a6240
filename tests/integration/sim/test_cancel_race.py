"""A cancel racing with fills, over the real WebSocket and REST (``order_confirm_before_fills
=False``): the exchange takes the cancel at the next market step, so fills of the original
made before that reach the stream first, the cancel's 확인 cancels what is left (900), and
ka10075/ka10076/kt00007 tell the same story as the 00 stream."""

from __future__ import annotations

from collections.abc import Callable

from gslts_kiwoom import Side
from gslts_kiwoom.sim import _matching
from tests.integration.sim.conftest import SimServer
from tests.integration.sim.test_order_stream import Stream, _reconciles

Make = Callable[..., SimServer]


def test_fills_before_the_exchange_takes_a_cancel(make_server: Make) -> None:
    srv = make_server(
        trades_per_s=0.0, active_order_stock_rate=0.0, order_confirm_before_fills=False
    )
    code = srv.sim.market._focus[0][0]  # type: ignore[index]
    rest = srv.client()
    s = Stream(srv)
    try:
        st = srv.sim.market.state(code)
        ack = rest.buy(code, 6, st.best_bid)  # at the touch: first for the next seller
        s.of(ack.order_no, 1)
        cxl = rest.cancel_order(ack.order_no, code)
        assert [v["913"] for v in s.of(cxl.order_no, 1)] == ["접수"]
        # not taken yet: the original is still open in full
        (still,) = rest.open_orders(code)
        assert (still.order_no, still.open_qty) == (ack.order_no, 6)
        with srv.sim.lock:  # a seller arrives before the exchange takes the cancel
            left = _matching.passive_fills(srv.sim.market, st, Side.SELL, 2, srv.sim.now)
            assert left == 0
        srv.sim.flush()
        srv.advance(0.1)  # the next step: the exchange takes the cancel
        events = s.of(cxl.order_no, 2)
        assert [(v["913"], v["900"], v["902"]) for v in events] == [
            ("접수", "6", "6"),
            ("확인", "4", "0"),
        ]
        order_events = [v for v in s.seen if v["9203"] == ack.order_no]
        assert [v["913"] for v in order_events] == ["접수", "체결"]
        assert s.seen.index(order_events[-1]) < s.seen.index(events[-1])
        _reconciles(s.ledger, rest, code)
        assert rest.open_orders(code) == []
        history = {e.order_no: e for e in rest.order_history(code)}
        assert (history[ack.order_no].filled_qty, history[ack.order_no].closed_qty) == (2, 4)
        assert history[cxl.order_no].confirmed_qty == 4

        # all filled before the exchange takes it: the cancel is refused (거부)
        st = srv.sim.market.state(code)
        ack2 = rest.buy(code, 3, st.best_bid)
        s.of(ack2.order_no, 1)
        cxl2 = rest.cancel_order(ack2.order_no, code)
        with srv.sim.lock:
            _matching.passive_fills(srv.sim.market, st, Side.SELL, 3, srv.sim.now)
        srv.sim.flush()
        srv.advance(0.1)
        refused = s.of(cxl2.order_no, 2)[-1]
        assert (refused["913"], refused["902"]) == ("거부", "0")
        assert refused["919"].startswith("800050")
        _reconciles(s.ledger, rest, code)
    finally:
        s.raw.close()
