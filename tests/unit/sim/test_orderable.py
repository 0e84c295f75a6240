"""kt00011 / kt00010 in the simulator agree with its broker: the quantity answered for a
price is exactly what a buy at that price may have (one more is refused), and they follow
cash as orders and fills change it."""

from __future__ import annotations

from typing import Any

from gslts_kiwoom import krx
from gslts_kiwoom.sim import Simulator

from .conftest import Api, make_sim

CODE = "005930"


def kt00011(api: Api, price: int) -> dict[str, Any]:
    return api.ok("kt00011", "acnt", {"stk_cd": CODE, "uv": str(price)})


def buy(api: Api, qty: int, price: int) -> Any:
    body = {"dmst_stex_tp": "KRX", "stk_cd": CODE, "ord_qty": str(qty), "ord_uv": str(price)}
    return api.call("kt10000", "ordr", {**body, "trde_tp": "0"}).json()


def test_cash_quantity_is_what_the_broker_accepts(api_factory: Any) -> None:
    sim = make_sim(initial_cash=50_000_000)
    api = api_factory(sim)
    price = krx.tick_down(sim.market.state(CODE).best_bid, 10)
    data = kt00011(api, price)
    qty = int(data["min_ord_alowq"])
    assert qty == 50_000_000 // (price + int(price * 0.00015) + 1)
    assert (data["stk_profa_rt"], data["profa_rt"], data["aplc_rt"]) == ("20%", "100%", "100%")
    assert data["profa_100ord_alowq"] == data["min_ord_alowq"] == f"{qty:012d}"
    assert data["profa_20ord_alowq"] == ""  # a cash account: no 미수 rates
    assert int(data["min_ord_alow_amt"]) == int(data["ord_alowa"]) == 50_000_000
    refused = buy(api, qty + 1, price)
    assert refused["return_code"] == 20
    assert f"{qty}주 매수가능" in refused["return_msg"]
    assert buy(api, qty, price)["return_code"] == 0
    after = kt00011(api, price)
    assert (after["min_ord_alowq"], after["profa_100ord_alowq"]) == ("0" * 12, "0" * 12)
    assert int(after["min_ord_alow_amt"]) == sim.broker.account.orderable_cash < price
    assert int(after["entr"]) == 50_000_000  # nothing paid yet: reserved, not spent


def test_quantity_follows_the_price_and_zero_is_the_current_price(sim: Simulator, api: Api) -> None:
    st = sim.market.state(CODE)
    cheap = int(kt00011(api, krx.tick_down(st.last, 50))["min_ord_alowq"])
    dear = int(kt00011(api, krx.tick_up(st.last, 50))["min_ord_alowq"])
    at_last = int(kt00011(api, st.last)["min_ord_alowq"])
    assert cheap > at_last > dear
    assert int(api.ok("kt00011", "acnt", {"stk_cd": CODE, "uv": "0"})["min_ord_alowq"]) == at_last


def test_kt00010_simulates_a_trade(sim: Simulator, api: Api) -> None:
    st = sim.market.state(CODE)
    price = st.last
    cash = sim.broker.account.orderable_cash
    body = {"io_amt": "000000000000", "stk_cd": CODE, "trde_qty": "0000000010", "uv": str(price)}
    b = api.ok("kt00010", "acnt", {**body, "trde_tp": "2", "exp_buy_unp": str(price)})
    cost = int(b["cmsn"])
    assert int(b["pur_amt"]) == 10 * price
    assert int(b["pur_exct_amt"]) == 10 * price + cost
    assert int(b["ord_alowa"]) == cash
    assert int(b["wthd_alowa"]) == cash - 10 * price - cost
    assert len(b["profa_100ord_alowq"]) == 10
    assert int(b["profa_100ord_alowq"]) == (cash - 10 * price - cost) // (
        price + int(price * 0.00015) + 1
    )
    refused = api.call("kt00010", "acnt", {**body, "trde_tp": "1"}).json()
    assert refused["return_code"] == 20
    assert "800033" in refused["return_msg"]  # nothing held to sell
    api.ok(
        "kt10000",
        "ordr",
        {"dmst_stex_tp": "KRX", "stk_cd": CODE, "ord_qty": "10", "ord_uv": "", "trde_tp": "3"},
    )
    s = api.ok("kt00010", "acnt", {**body, "trde_tp": "1"})
    cash = sim.broker.account.orderable_cash
    assert int(s["ord_alowa"]) == cash
    assert int(s["wthd_alowa"]) > cash  # the sale's proceeds count at once
    assert int(s["tdy_reu_alowa"]) == int(s["wthd_alowa"]) - cash
    bad = api.call("kt00010", "acnt", {**body, "trde_tp": "3"}).json()
    assert bad["return_code"] == 2
    bad = api.call("kt00011", "acnt", {"stk_cd": CODE, "uv": "-5"}).json()
    assert bad["return_code"] == 2
    assert "1517:입력값 형식 오류(uv" in bad["return_msg"]
