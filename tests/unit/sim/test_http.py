"""HTTP behaviour of the simulator app: auth, envelopes, errors, paging, every endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from gslts_kiwoom import krx
from gslts_kiwoom.sim import Simulator, create_app

from .conftest import START, Api, TestClient, advance, make_sim

TOKEN_BODY = {"grant_type": "client_credentials", "appkey": "k", "secretkey": "s"}


def _price(s: str) -> int:
    return abs(int(s.strip()))


def test_token_shape_and_reissue_returns_same_token(sim: Simulator) -> None:
    c = TestClient(create_app(sim))
    r = c.post("/oauth2/token", json=TOKEN_BODY)
    data = r.json()
    assert r.status_code == 200
    assert data["return_code"] == 0
    assert data["token_type"] == "bearer"
    assert len(data["expires_dt"]) == 14
    assert data["expires_dt"].isdigit()
    assert c.post("/oauth2/token", json=TOKEN_BODY).json()["token"] == data["token"]


def test_reissue_can_invalidate_old_token() -> None:
    sim = make_sim(token_reissue_invalidates_old=True)
    api = Api(TestClient(create_app(sim)))
    old = api.token
    new = api.client.post("/oauth2/token", json=TOKEN_BODY).json()["token"]
    assert new != old
    r = api.call("ka10001", "stkinfo", {"stk_cd": "005930"})
    assert r.json() == {
        "return_code": 3,
        "return_msg": "인증에 실패했습니다[8005:Token이 유효하지 않습니다]",
    }


def test_configured_keys_are_checked() -> None:
    sim = make_sim(app_key=SecretStr("right"), secret_key=SecretStr("secret"))
    c = TestClient(create_app(sim))
    bad_app = c.post("/oauth2/token", json={**TOKEN_BODY, "appkey": "wrong", "secretkey": "secret"})
    assert "[8001:" in bad_app.json()["return_msg"]
    bad_secret = c.post("/oauth2/token", json={**TOKEN_BODY, "appkey": "right"})
    assert "[8002:" in bad_secret.json()["return_msg"]
    assert "secret" not in bad_secret.text.replace("Secret Key", "")
    good = c.post("/oauth2/token", json={**TOKEN_BODY, "appkey": "right", "secretkey": "secret"})
    assert good.json()["return_code"] == 0
    no_grant = c.post("/oauth2/token", json={"appkey": "right", "secretkey": "secret"})
    assert "[8011:" in no_grant.json()["return_msg"]


def test_revoke_then_calls_fail_with_8005(api: Api) -> None:
    r = api.client.post(
        "/oauth2/revoke", json={"appkey": "k", "secretkey": "s", "token": api.token}
    )
    assert r.json() == {"return_code": 0, "return_msg": "정상적으로 처리되었습니다"}
    r = api.call("ka10001", "stkinfo", {"stk_cd": "005930"})
    assert r.status_code == 200
    assert r.json()["return_code"] == 3
    assert "[8005:" in r.json()["return_msg"]


def test_error_envelopes(api: Api) -> None:
    unknown = api.call("ka99999", "stkinfo", {}).json()
    assert unknown["return_code"] == 2
    assert "[1505:" in unknown["return_msg"]
    wrong_path = api.call("ka10001", "chart", {"stk_cd": "005930"}).json()
    assert wrong_path["return_code"] == 2
    assert "[1504:" in wrong_path["return_msg"]
    missing = api.call(
        "kt10003", "ordr", {"dmst_stex_tp": "KRX", "orig_ord_no": "0000001", "stk_cd": "005930"}
    )
    assert missing.json() == {
        "return_code": 2,
        "return_msg": "입력 값 오류입니다[1511:필수입력 파라미터=cncl_qty]",
    }
    no_stock = api.call("ka10001", "stkinfo", {"stk_cd": "999999"}).json()
    assert no_stock["return_code"] == 2
    assert "[1902:" in no_stock["return_msg"]
    no_auth = api.client.post(
        "/api/dostk/stkinfo", json={"stk_cd": "005930"}, headers={"api-id": "ka10001"}
    )
    assert "[1513:" in no_auth.json()["return_msg"]
    bad = api.client.post(
        "/api/dostk/stkinfo",
        json={"stk_cd": "005930"},
        headers={"api-id": "ka10001", "authorization": "Bearer nope"},
    )
    assert bad.json()["return_code"] == 3
    not_here = api.call("ka10095", "stkinfo", {"stk_cd": "005930"}).json()
    assert not_here["return_code"] == 20


def test_rate_limit_answers_429_per_api_id() -> None:
    sim = make_sim(default_rate_per_s=5, rate_burst=2)
    api = Api(TestClient(create_app(sim)))
    codes = [api.call("ka10001", "stkinfo", {"stk_cd": "005930"}).status_code for _ in range(4)]
    assert codes[:2] == [200, 200]
    assert 429 in codes[2:]
    r = api.call("ka10001", "stkinfo", {"stk_cd": "005930"})
    assert r.status_code == 429
    assert r.json() == {
        "return_code": 5,
        "return_msg": "허용된 요청 개수를 초과하였습니다"
        "[1700:허용된 요청 개수를 초과하였습니다. 유량=5, API ID=ka10001]",
    }
    # another api-id has its own bucket
    assert api.call("ka10004", "mrkcond", {"stk_cd": "005930"}).status_code == 200


def test_fault_switches(api: Api) -> None:
    c = api.client
    assert c.post("/_sim/faults", json={"rate_limit_storm_s": 30}).status_code == 200
    assert api.call("ka10001", "stkinfo", {"stk_cd": "005930"}).status_code == 429
    c.post("/_sim/faults", json={"rate_limit_storm_s": 0, "delay_ms": 150})
    t0 = time.monotonic()
    assert api.call("ka10001", "stkinfo", {"stk_cd": "005930"}).status_code == 200
    assert time.monotonic() - t0 >= 0.15
    c.post("/_sim/faults", json={"delay_ms": 0, "expire_tokens": True})
    assert api.call("ka10001", "stkinfo", {"stk_cd": "005930"}).json()["return_code"] == 3
    state = c.get("/_sim/state").json()
    assert state["tokens"] == 0
    assert state["clock"] == "always"
    assert api.token not in c.get("/_sim/state").text


def test_token_ttl_expiry() -> None:
    sim = make_sim(token_ttl_s=0.2)
    api = Api(TestClient(create_app(sim)))
    assert api.call("ka10001", "stkinfo", {"stk_cd": "005930"}).json()["return_code"] == 0
    time.sleep(0.25)
    assert api.call("ka10001", "stkinfo", {"stk_cd": "005930"}).json()["return_code"] == 3


def test_ka10001_quote(sim: Simulator, api: Api) -> None:
    advance(sim, 60)
    d = api.ok("ka10001", "stkinfo", {"stk_cd": "005930"})
    st = sim.market.state("005930")
    assert d["stk_nm"] == "삼성전자"
    assert _price(d["cur_prc"]) == st.last
    assert krx.is_valid_price(_price(d["cur_prc"]))
    sign = "+" if st.last > 67500 else ("-" if st.last < 67500 else " ")
    assert d["cur_prc"][0] == sign
    assert d["base_pric"] == "67500"
    assert (_price(d["lst_pric"]), _price(d["upl_pric"])) == krx.price_limits(67500)
    assert d["upl_pric"].startswith("+")
    assert d["lst_pric"].startswith("-")
    assert int(d["trde_qty"]) == st.cum_volume
    assert d["pre_sig"] in {"2", "3", "5"}


def test_ka10004_book(api: Api) -> None:
    d = api.ok("ka10004", "mrkcond", {"stk_cd": "005930"})
    assert _price(d["sel_fpr_bid"]) > _price(d["buy_fpr_bid"])
    asks = [_price(d["sel_fpr_bid"])] + [_price(d[f"sel_{n}th_pre_bid"]) for n in range(2, 11)]
    bids = [_price(d["buy_fpr_bid"])] + [_price(d[f"buy_{n}th_pre_bid"]) for n in range(2, 11)]
    assert asks == sorted(asks)
    assert bids == sorted(bids, reverse=True)
    assert int(d["tot_sel_req"]) == int(d["sel_fpr_req"]) + sum(
        int(d[f"sel_{n}th_pre_req"]) for n in range(2, 11)
    )
    assert len(d["bid_req_base_tm"]) == 6


def _all_pages(
    api: Api, api_id: str, path: str, body: dict[str, Any], key: str
) -> tuple[list[Any], int]:
    rows: list[Any] = []
    headers: dict[str, str] = {}
    pages = 0
    while True:
        r = api.call(api_id, path, body, headers)
        assert r.json()["return_code"] == 0, r.json()
        rows.extend(r.json()[key])
        pages += 1
        if r.headers["cont-yn"] != "Y":
            assert r.headers["next-key"] == ""
            return rows, pages
        headers = {"cont-yn": "Y", "next-key": r.headers["next-key"]}


def test_ka10099_paged_stock_list(api_factory: Callable[[Simulator], Api]) -> None:
    api = api_factory(make_sim(page_sizes={"ka10099": 400}))
    rows, pages = _all_pages(api, "ka10099", "stkinfo", {"mrkt_tp": "0"}, "list")
    assert pages == 3
    assert len(rows) == len({r["code"] for r in rows}) == 950
    samsung = next(r for r in rows if r["code"] == "005930")
    assert samsung["name"] == "삼성전자"
    assert samsung["listCount"] == "0000005969782550"
    assert samsung["lastPrice"] == "00067500"
    assert samsung["nxtEnable"] == "Y"
    assert next(r for r in rows if r["code"] == "005935")["nxtEnable"] == "N"  # 삼성전자우
    kosdaq, _ = _all_pages(api, "ka10099", "stkinfo", {"mrkt_tp": "10"}, "list")
    assert len(kosdaq) == 1667


def test_bad_next_key(api: Api) -> None:
    r = api.call("ka10099", "stkinfo", {"mrkt_tp": "0"}, {"cont-yn": "Y", "next-key": "nope-5"})
    assert "[1517:" in r.json()["return_msg"]


def test_ka10032_top_trading_value_looks_real(api: Api) -> None:
    d = api.ok("ka10032", "rkinfo", {"mrkt_tp": "000", "mang_stk_incls": "1", "stex_tp": "3"})
    rows = d["trde_prica_upper"]
    assert len(rows) == 100
    names = [r["stk_nm"] for r in rows[:15]]
    assert "삼성전자" in names
    assert "SK하이닉스" in names
    values = [int(r["trde_prica"]) for r in rows]
    assert values == sorted(values, reverse=True)
    assert [r["now_rank"] for r in rows[:3]] == ["1", "2", "3"]
    samsung = next(r for r in rows if r["stk_cd"] == "005930")
    # 백만원: roughly half of the real day's 664bn KRW by the first second
    assert 250_000 < int(samsung["trde_prica"]) < 420_000
    kospi = api.ok("ka10032", "rkinfo", {"mrkt_tp": "001", "mang_stk_incls": "1", "stex_tp": "3"})
    assert "에코프로" not in [r["stk_nm"] for r in kospi["trde_prica_upper"]]  # KOSDAQ


def test_charts(sim: Simulator, api_factory: Callable[[Simulator], Api]) -> None:
    # minute bars of today only (tests/unit/sim/test_minute_history.py pages the past)
    sim = make_sim(
        trades_per_s=100,
        page_sizes={"ka10079": 20, "ka10080": 2, "ka10081": 100},
        minute_history_days=0,
    )
    advance(sim, 300, step=2)
    api = api_factory(sim)
    ticks, pages = _all_pages(
        api,
        "ka10079",
        "chart",
        {"stk_cd": "005930", "tic_scope": "1", "upd_stkpc_tp": "1"},
        "stk_tic_chart_qry",
    )
    truth = sim.trades("005930")
    assert pages >= 3
    assert len(ticks) == len(truth)
    assert [_price(t["cur_prc"]) for t in ticks] == [t.price for t in reversed(truth)]
    assert ticks[0]["cntr_tm"] >= ticks[-1]["cntr_tm"]
    mins, pages = _all_pages(
        api,
        "ka10080",
        "chart",
        {"stk_cd": "005930", "tic_scope": "1", "upd_stkpc_tp": "1"},
        "stk_min_pole_chart_qry",
    )
    assert pages >= 3
    assert sum(int(m["trde_qty"]) for m in mins) == sum(abs(t.volume) for t in truth)
    assert mins[0]["cntr_tm"] > mins[-1]["cntr_tm"]
    five = api.ok("ka10080", "chart", {"stk_cd": "005930", "tic_scope": "5", "upd_stkpc_tp": "1"})
    assert all(
        r["cntr_tm"][10:12] in ("00", "05") or int(r["cntr_tm"][10:12]) % 5 == 0
        for r in five["stk_min_pole_chart_qry"]
    )
    days, pages = _all_pages(
        api,
        "ka10081",
        "chart",
        {"stk_cd": "005930", "base_dt": "20260928", "upd_stkpc_tp": "1"},
        "stk_dt_pole_chart_qry",
    )
    assert pages >= 3
    assert days[0]["dt"] == "20260928"
    assert [d["dt"] for d in days] == sorted((d["dt"] for d in days), reverse=True)
    assert all(krx.is_valid_price(int(d["cur_prc"])) for d in days)
    older = api.ok(
        "ka10081", "chart", {"stk_cd": "005930", "base_dt": "20260401", "upd_stkpc_tp": "1"}
    )
    assert older["stk_dt_pole_chart_qry"][0]["dt"] <= "20260401"


def test_sector_codes_and_index(api: Api) -> None:
    codes = api.ok("ka10101", "stkinfo", {"mrkt_tp": "0"})["list"]
    assert {"marketCode": "0", "code": "001", "name": "종합(KOSPI)", "group": "1"} in codes
    d = api.ok("ka20001", "sect", {"mrkt_tp": "0", "inds_cd": "001"})
    assert "." in d["cur_prc"]
    assert 1500 < abs(float(d["cur_prc"])) < 4000
    bad = api.call("ka20001", "sect", {"mrkt_tp": "0", "inds_cd": "999"}).json()
    assert "[1901:" in bad["return_msg"]


def test_order_flow_over_http(sim: Simulator, api: Api) -> None:
    st = sim.market.state("005930")
    low = krx.tick_down(st.best_bid, 10)
    body = {
        "dmst_stex_tp": "KRX",
        "stk_cd": "005930",
        "ord_qty": "10",
        "ord_uv": str(low),
        "trde_tp": "0",
    }
    placed = api.ok("kt10000", "ordr", body)
    assert placed["ord_no"] == "0000001"
    assert placed["return_msg"] == "매수주문이 완료되었습니다."
    oso = api.ok("ka10075", "acnt", {"all_stk_tp": "0", "trde_tp": "0", "stex_tp": "0"})["oso"]
    assert [(o["ord_no"], o["oso_qty"], o["io_tp_nm"], o["orig_ord_no"]) for o in oso] == [
        ("0000001", "10", "+매수", "0000000")
    ]
    mod = api.ok(
        "kt10002",
        "ordr",
        {
            "dmst_stex_tp": "KRX",
            "orig_ord_no": "0000001",
            "stk_cd": "005930",
            "mdfy_qty": "4",
            "mdfy_uv": str(krx.tick_down(low)),
        },
    )
    assert (mod["ord_no"], mod["base_orig_ord_no"], mod["mdfy_qty"]) == (
        "0000002",
        "0000001",
        "000000000004",
    )
    cancel = api.ok(
        "kt10003",
        "ordr",
        {"dmst_stex_tp": "KRX", "orig_ord_no": "0000002", "stk_cd": "005930", "cncl_qty": "0"},
    )
    assert (cancel["ord_no"], cancel["base_orig_ord_no"], cancel["cncl_qty"]) == (
        "0000003",
        "0000001",
        "000000000004",
    )
    oso = api.ok("ka10075", "acnt", {"all_stk_tp": "0", "trde_tp": "0", "stex_tp": "0"})["oso"]
    assert [(o["ord_no"], o["oso_qty"]) for o in oso] == [("0000001", "6")]
    bought = api.ok("kt10000", "ordr", {**body, "ord_uv": "", "trde_tp": "3", "ord_qty": "3"})
    fills = api.ok("ka10076", "acnt", {"qry_tp": "0", "sell_tp": "0", "stex_tp": "0"})["cntr"]
    assert [f["ord_no"] for f in fills] == [bought["ord_no"]]
    bal = api.ok("kt00018", "acnt", {"qry_tp": "1", "dmst_stex_tp": "KRX"})
    row = bal["acnt_evlt_remn_indv_tot"][0]
    assert row["stk_cd"] == "A005930"
    assert row["rmnd_qty"] == "000000000000003"
    assert len(row["pur_pric"]) == 12
    cash = api.ok("kt00001", "acnt", {"qry_tp": "2"})
    acct = sim.broker.account
    assert cash["entr"] == f"{acct.cash:015d}"
    assert cash["ord_alow_amt"] == f"{acct.orderable_cash:015d}"
    assert acct.orderable_cash < acct.cash  # the resting 6 shares keep cash reserved
    reject = api.call("kt10001", "ordr", {**body, "ord_qty": "100"}).json()
    assert reject["return_code"] == 20
    assert reject["return_msg"].startswith("[2000](800033:")
    off_tick = api.call("kt10000", "ordr", {**body, "ord_uv": str(low + 1)}).json()
    assert off_tick["return_code"] == 20
    no_price = api.call("kt10000", "ordr", {**body, "ord_uv": ""}).json()
    assert no_price["return_msg"] == "입력 값 오류입니다[1511:필수입력 파라미터=ord_uv]"


def test_holiday_order_rejected_over_http(api_factory: Callable[[Simulator], Api]) -> None:
    from datetime import datetime

    api = api_factory(
        make_sim(clock="krx", start_time=datetime(2026, 9, 25, 10, 0, tzinfo=krx.KST))
    )
    r = api.call(
        "kt10000",
        "ordr",
        {
            "dmst_stex_tp": "KRX",
            "stk_cd": "005930",
            "ord_qty": "1",
            "ord_uv": "67500",
            "trde_tp": "0",
        },
    )
    assert r.json() == {
        "return_code": 20,
        "return_msg": "[2000](571489:장이 열리지 않는 날입니다.)",
    }
    assert START.weekday() == 0
