"""``KiwoomClient.order_history`` (kt00007) against the simulator over real HTTP: every
page, and what became of each order of the day — what the order service reads for an
order that ka10075 no longer lists after a timeout or a restart."""

from __future__ import annotations

from collections.abc import Callable

from gslts_kiwoom import OrderType, Side, krx
from tests.integration.sim.conftest import SimServer

Make = Callable[..., SimServer]


def test_order_history_pages_and_tells_filled_cancelled_modified(make_server: Make) -> None:
    srv = make_server(page_sizes={"kt00007": 2}, trades_per_s=0.0)
    code = srv.sim.market._focus[0][0]  # type: ignore[index]
    rest = srv.client()
    st = srv.sim.market.state(code)
    filled = rest.buy(code, 3, order_type=OrderType.MARKET)
    low = krx.tick_down(st.best_bid, 20)
    resting = rest.buy(code, 10, low)
    modified = rest.modify_order(resting.order_no, code, 4, krx.tick_down(low))
    cancelled = rest.cancel_order(modified.order_no, code)
    still_open = rest.sell(code, 2, krx.tick_up(st.best_ask, 20))
    ioc_qty = st.asks[0].qty + 7
    ioc = rest.buy(code, ioc_qty, st.asks[0].price, order_type=OrderType.LIMIT_IOC)
    # the open-order list no longer shows the filled, modified, cancelled and IOC orders
    assert {o.order_no for o in rest.open_orders(code)} == {resting.order_no, still_open.order_no}

    entries = rest.order_history()  # 6 rows, 2 a page: 3 pages followed

    by_no = {e.order_no: e for e in entries}
    assert [e.order_no for e in entries] == sorted(srv.sim.broker.account.orders)
    assert len(entries) == 6
    body = {"qry_tp": "1", "stk_bond_tp": "1", "sell_tp": "0", "dmst_stex_tp": "%"}
    assert [len(p.data["acnt_ord_cntr_prps_dtl"]) for p in rest.iter_pages("kt00007", body)] == [
        2,
        2,
        2,
    ]
    f = by_no[filled.order_no]
    assert (f.code, f.side, f.order_type, f.filled_qty, f.open_qty, f.closed_qty) == (
        code,
        Side.BUY,
        "시장가",
        3,
        0,
        0,
    )
    assert f.filled_price == srv.sim.broker.account.orders[filled.order_no].filled_value // 3
    r = by_no[resting.order_no]
    assert (r.order_qty, r.open_qty, r.filled_qty, r.closed_qty) == (10, 6, 0, 4)
    m = by_no[modified.order_no]
    assert (m.is_modify, m.original_order_no, m.confirmed_qty, m.open_qty) == (
        True,
        resting.order_no,
        4,
        0,
    )
    assert m.order_price == krx.tick_down(low)
    assert m.closed_qty == 4  # cancelled by the next entry
    c = by_no[cancelled.order_no]
    assert (c.is_cancel, c.original_order_no, c.confirmed_qty, c.acceptance) == (
        True,
        modified.order_no,
        4,
        "확인",
    )
    assert c.confirm_time is not None
    s = by_no[still_open.order_no]
    assert (s.side, s.open_qty, s.closed_qty) == (Side.SELL, 2, 0)
    i = by_no[ioc.order_no]
    assert i.order_type == "보통(IOC)"
    assert i.filled_qty + i.closed_qty == ioc_qty
    assert i.closed_qty > 0  # the exchange cancelled what did not fill at once
    assert all(e.exchange == "KRX" and e.time is not None for e in entries)

    # finding one order again: start at its number, one stock, one side
    (again,) = rest.order_history(code, order_no_from=ioc.order_no)
    assert again == i
    assert [e.order_no for e in rest.order_history(code, side=Side.SELL)] == [still_open.order_no]
    assert rest.find_order(ioc.order_no) == i
    assert rest.find_order(cancelled.order_no.lstrip("0"), code) == c
    assert rest.find_order("0999999") is None
    assert rest.order_history(venue="NXT") == []
    assert len(rest.order_history(venue="KRX")) == 6
    assert rest.order_history(day=srv.sim.now.date().replace(day=1)) == []
