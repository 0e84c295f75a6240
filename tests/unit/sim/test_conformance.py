"""Every response key catalogue.json documents is present in the simulator's answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gslts_kiwoom import krx
from gslts_kiwoom.sim import Simulator

from .conftest import Api, TestClient, advance, create_app, make_sim

CALLS: dict[str, tuple[str, dict[str, str]]] = {
    "ka10001": ("stkinfo", {"stk_cd": "005930"}),
    "ka10004": ("mrkcond", {"stk_cd": "005930"}),
    "ka10099": ("stkinfo", {"mrkt_tp": "0"}),
    "ka10101": ("stkinfo", {"mrkt_tp": "0"}),
    "ka10032": ("rkinfo", {"mrkt_tp": "000", "mang_stk_incls": "1", "stex_tp": "3"}),
    "ka10079": ("chart", {"stk_cd": "005930", "tic_scope": "1", "upd_stkpc_tp": "1"}),
    "ka10080": ("chart", {"stk_cd": "005930", "tic_scope": "1", "upd_stkpc_tp": "1"}),
    "ka10081": ("chart", {"stk_cd": "005930", "base_dt": "20260928", "upd_stkpc_tp": "1"}),
    "ka20001": ("sect", {"mrkt_tp": "0", "inds_cd": "001"}),
    "ka10075": ("acnt", {"all_stk_tp": "0", "trde_tp": "0", "stex_tp": "0"}),
    "ka10076": ("acnt", {"qry_tp": "0", "sell_tp": "0", "stex_tp": "0"}),
    "kt00007": (
        "acnt",
        {"qry_tp": "1", "stk_bond_tp": "0", "sell_tp": "0", "dmst_stex_tp": "%"},
    ),
    "kt00018": ("acnt", {"qry_tp": "1", "dmst_stex_tp": "KRX"}),
    "kt00001": ("acnt", {"qry_tp": "2"}),
    "kt00010": (
        "acnt",
        {"io_amt": "0", "stk_cd": "005930", "trde_tp": "2", "trde_qty": "1", "uv": "67500"},
    ),
    "kt00011": ("acnt", {"stk_cd": "005930", "uv": "67500"}),
}
ORDER_IDS = ("kt10000", "kt10001", "kt10002", "kt10003")


def _catalogue(shared_dir: Path) -> dict[str, Any]:
    path = shared_dir / "kiwoom-api" / "catalogue.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent: cannot compare response keys with the catalogue")
    return {e["api_id"]: e for e in json.loads(path.read_text(encoding="utf-8"))}


def _assert_keys(api_id: str, spec: dict[str, Any], data: dict[str, Any]) -> None:
    for field in spec["response"]:
        key = field["key"]
        assert key in data, f"{api_id}: response lacks {key!r}"
        if field["type"] == "LIST":
            rows = data[key]
            assert isinstance(rows, list), f"{api_id}.{key} is not a list"
            wanted = [f["key"] for f in field.get("fields", [])]
            for row in rows[:5]:
                missing = [k for k in wanted if k not in row]
                assert not missing, f"{api_id}.{key} rows lack {missing}"
                assert all(isinstance(v, str) for v in row.values()), f"{api_id}.{key}: non-string"
        else:
            assert isinstance(data[key], str), f"{api_id}.{key} is not a string"


@pytest.fixture(scope="module")
def busy() -> tuple[Simulator, Api]:
    """A simulator with trades, an open order, a fill and a holding (so lists have rows)."""
    sim = make_sim(trades_per_s=100)
    advance(sim, 120, step=2)
    api = Api(TestClient(create_app(sim)))
    st = sim.market.state("005930")
    base = {"dmst_stex_tp": "KRX", "stk_cd": "005930"}
    api.ok("kt10000", "ordr", {**base, "ord_qty": "2", "ord_uv": "", "trde_tp": "3"})
    low = str(krx.tick_down(st.best_bid, 10))
    api.ok("kt10000", "ordr", {**base, "ord_qty": "5", "ord_uv": low, "trde_tp": "0"})
    return sim, api


@pytest.mark.parametrize("api_id", sorted(CALLS))
def test_query_responses_carry_every_catalogue_key(
    api_id: str, shared_dir: Path, busy: tuple[Simulator, Api]
) -> None:
    spec = _catalogue(shared_dir)[api_id]
    _, api = busy
    path, body = CALLS[api_id]
    assert spec["path"] == f"/api/dostk/{path}"
    data = api.ok(api_id, path, body)
    for field in spec["response"]:
        if field["type"] == "LIST" and field["key"] != "stk_entr_prst":
            assert data[field["key"]], f"{api_id}: list {field['key']} is empty in this scenario"
    _assert_keys(api_id, spec, data)


def test_order_and_token_responses_carry_every_catalogue_key(
    shared_dir: Path, busy: tuple[Simulator, Api]
) -> None:
    cat = _catalogue(shared_dir)
    sim, api = busy
    st = sim.market.state("005930")
    base = {"dmst_stex_tp": "KRX", "stk_cd": "005930"}
    low = krx.tick_down(st.best_bid, 12)
    buy = api.ok("kt10000", "ordr", {**base, "ord_qty": "3", "ord_uv": str(low), "trde_tp": "0"})
    sell = api.ok("kt10001", "ordr", {**base, "ord_qty": "1", "ord_uv": "", "trde_tp": "3"})
    mod = api.ok(
        "kt10002",
        "ordr",
        {**base, "orig_ord_no": buy["ord_no"], "mdfy_qty": "1", "mdfy_uv": str(krx.tick_down(low))},
    )
    cancel = api.ok("kt10003", "ordr", {**base, "orig_ord_no": buy["ord_no"], "cncl_qty": "0"})
    for api_id, data in zip(ORDER_IDS, (buy, sell, mod, cancel), strict=True):
        _assert_keys(api_id, cat[api_id], data)
    token = api.client.post(
        "/oauth2/token", json={"grant_type": "client_credentials", "appkey": "k", "secretkey": "s"}
    ).json()
    _assert_keys("au10001", cat["au10001"], token)
    assert set(cat) >= set(CALLS) | set(ORDER_IDS)
