"""kt00007 계좌별주문체결내역상세요청 in the simulator: every order of the day whatever became
of it (filled, exchange-cancelled, modified, cancelled), its filters and paging."""

from __future__ import annotations

from typing import Any

from gslts_kiwoom import krx
from gslts_kiwoom.sim import Simulator

from .conftest import Api, make_sim

CODE = "005930"
BASE = {"dmst_stex_tp": "KRX", "stk_cd": CODE}
QUERY = {"qry_tp": "1", "stk_bond_tp": "0", "sell_tp": "0", "dmst_stex_tp": "%"}


def history(api: Api, **kw: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = api.ok("kt00007", "acnt", {**QUERY, **kw})[
        "acnt_ord_cntr_prps_dtl"
    ]
    return rows


def day_of_orders(sim: Simulator, api: Api) -> dict[str, str]:
    """A filled market buy, an IOC whose rest the exchange cancels, a resting limit that
    is modified and then cancelled; returns their order numbers."""
    st = sim.market.state(CODE)
    market = api.ok("kt10000", "ordr", {**BASE, "ord_qty": "2", "ord_uv": "", "trde_tp": "3"})
    ioc_qty = str(sim.market.state(CODE).asks[0].qty + 5)
    ask = sim.market.state(CODE).asks[0].price
    ioc = api.ok(
        "kt10000", "ordr", {**BASE, "ord_qty": ioc_qty, "ord_uv": str(ask), "trde_tp": "10"}
    )
    low = krx.tick_down(st.best_bid, 15)
    rest = api.ok("kt10000", "ordr", {**BASE, "ord_qty": "10", "ord_uv": str(low), "trde_tp": "0"})
    mod = api.ok(
        "kt10002",
        "ordr",
        {
            **BASE,
            "orig_ord_no": rest["ord_no"],
            "mdfy_qty": "4",
            "mdfy_uv": str(krx.tick_down(low)),
        },
    )
    cancel = api.ok("kt10003", "ordr", {**BASE, "orig_ord_no": mod["ord_no"], "cncl_qty": "0"})
    return {
        "market": market["ord_no"],
        "ioc": ioc["ord_no"],
        "rest": rest["ord_no"],
        "mod": mod["ord_no"],
        "cancel": cancel["ord_no"],
    }


def test_every_order_of_the_day_with_what_became_of_it(sim: Simulator, api: Api) -> None:
    nos = day_of_orders(sim, api)
    rows = {r["ord_no"]: r for r in history(api)}
    assert list(rows) == sorted(nos.values())  # 주문순: ascending order numbers
    orders = sim.broker.account.orders
    m = rows[nos["market"]]
    filled = orders[nos["market"]]
    assert m["stk_cd"] == "A" + CODE
    assert (m["trde_tp"], m["io_tp_nm"], m["mdfy_cncl"], m["acpt_tp"]) == (
        "시장가",
        "현금매수",
        "",
        "접수",
    )
    assert (m["ord_qty"], m["ord_uv"], m["cntr_qty"], m["ord_remnq"]) == (
        "0000000002",
        "0000000000",
        "0000000002",
        "0000000000",
    )
    assert m["cntr_uv"] == f"{filled.filled_value // 2:010d}"
    assert m["ori_ord"] == "0000000"
    assert len(m["ord_tm"]) == 8
    assert m["ord_tm"][2] == ":"
    assert (m["crd_tp"], m["cnfm_qty"], m["cnfm_tm"], m["dmst_stex_tp"]) == (
        "보통매매",
        "0000000000",
        "",
        "KRX",
    )
    ioc = rows[nos["ioc"]]
    ioc_order = orders[nos["ioc"]]
    assert ioc["trde_tp"] == "보통(IOC)"
    assert int(ioc["cntr_qty"]) == ioc_order.filled_qty < int(ioc["ord_qty"])
    assert ioc["ord_remnq"] == "0000000000"  # the exchange cancelled the rest
    rest = rows[nos["rest"]]
    assert (int(rest["ord_qty"]), int(rest["ord_remnq"]), int(rest["cntr_qty"])) == (10, 6, 0)
    mod = rows[nos["mod"]]
    assert (mod["mdfy_cncl"], mod["ori_ord"], mod["acpt_tp"]) == ("정정", nos["rest"], "확인")
    assert (int(mod["ord_qty"]), int(mod["cnfm_qty"]), int(mod["ord_remnq"])) == (4, 4, 0)
    assert mod["cnfm_tm"] == mod["ord_tm"]
    cancel = rows[nos["cancel"]]
    assert (cancel["mdfy_cncl"], cancel["ori_ord"], cancel["acpt_tp"]) == (
        "취소",
        nos["mod"],
        "확인",
    )
    assert (int(cancel["ord_qty"]), int(cancel["cnfm_qty"]), int(cancel["ord_remnq"])) == (4, 4, 0)
    assert all(isinstance(v, str) for r in rows.values() for v in r.values())


def test_filters_direction_and_start(sim: Simulator, api: Api) -> None:
    nos = day_of_orders(sim, api)
    everything = sorted(nos.values())
    assert [r["ord_no"] for r in history(api, qry_tp="2")] == everything[::-1]
    assert [r["ord_no"] for r in history(api, fr_ord_no=nos["rest"])] == everything[2:]
    assert [r["ord_no"] for r in history(api, qry_tp="2", fr_ord_no=nos["ioc"])] == everything[
        1::-1
    ]
    assert [r["ord_no"] for r in history(api, fr_ord_no=nos["rest"].lstrip("0"))] == everything[2:]
    assert {r["ord_no"] for r in history(api, qry_tp="4")} == {nos["market"], nos["ioc"]}
    assert [r["ord_no"] for r in history(api, qry_tp="3")] == [nos["rest"]]
    assert history(api, sell_tp="1") == []
    assert len(history(api, sell_tp="2")) == 5
    assert history(api, stk_bond_tp="2") == []
    assert history(api, stk_cd="000660") == []
    assert len(history(api, stk_cd="A" + CODE)) == 5
    assert history(api, dmst_stex_tp="NXT") == []
    assert len(history(api, dmst_stex_tp="KRX")) == 5
    assert history(api, ord_dt="20260927") == []
    assert len(history(api, ord_dt=sim.now.strftime("%Y%m%d"))) == 5


def test_pages_with_cont_yn_and_next_key(api_factory: Any) -> None:
    sim = make_sim(page_sizes={"kt00007": 2})
    api = api_factory(sim)
    day_of_orders(sim, api)
    seen: list[str] = []
    r = api.call("kt00007", "acnt", QUERY)
    while True:
        assert r.status_code == 200
        seen += [row["ord_no"] for row in r.json()["acnt_ord_cntr_prps_dtl"]]
        if r.headers["cont-yn"] != "Y":
            break
        r = api.call("kt00007", "acnt", QUERY, {"cont-yn": "Y", "next-key": r.headers["next-key"]})
    assert seen == sorted(sim.broker.account.orders)
    assert len(seen) == 5


def test_bad_requests_name_the_field(api: Api) -> None:
    for key in ("qry_tp", "stk_bond_tp", "sell_tp", "dmst_stex_tp"):
        body = {k: v for k, v in QUERY.items() if k != key}
        data = api.call("kt00007", "acnt", body).json()
        assert (data["return_code"], data["return_msg"]) == (
            2,
            f"입력 값 오류입니다[1511:필수입력 파라미터={key}]",
        )
    for key, value in (
        ("qry_tp", "5"),
        ("stk_bond_tp", "x"),
        ("sell_tp", "3"),
        ("dmst_stex_tp", "ALL"),
        ("ord_dt", "2026-09-28"),
        ("fr_ord_no", "12a"),
    ):
        data = api.call("kt00007", "acnt", {**QUERY, key: value}).json()
        assert data["return_code"] == 2, (key, data)
        assert f"1517:입력값 형식 오류({key}" in data["return_msg"]
    data = api.call("kt00007", "acnt", {**QUERY, "stk_cd": "999999"}).json()
    assert data["return_code"] == 2
    assert "1902" in data["return_msg"]
