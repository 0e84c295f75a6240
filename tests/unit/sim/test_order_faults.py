"""The order faults of ``POST /_sim/faults``: ``order_delay_ms`` holds only the order APIs'
answers, after the order is applied (``after``, the default: a client that times out has
really placed it) or before (``before``: applied only after the delay);
``reject_orders`` accepts the next orders and has the exchange refuse them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gslts_kiwoom import krx
from gslts_kiwoom.sim import MarketEvent, OrderUpdate, Simulator

from .conftest import Api

CODE = "005930"
DELAY_MS = 400


def buy_body(sim: Simulator) -> dict[str, str]:
    low = krx.tick_down(sim.market.state(CODE).best_bid, 10)
    return {
        "dmst_stex_tp": "KRX",
        "stk_cd": CODE,
        "ord_qty": "1",
        "ord_uv": str(low),
        "trde_tp": "0",
    }


def accepted_at(sim: Simulator) -> list[float]:
    """Monotonic times of every 00 접수 (when the simulator applied an order)."""
    times: list[float] = []

    def on(e: MarketEvent) -> None:
        if isinstance(e, OrderUpdate) and e.status == "접수":
            times.append(time.monotonic())

    sim.add_listener(on)
    return times


def faults(api: Api, **body: Any) -> dict[str, Any]:
    r = api.client.post("/_sim/faults", json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()["faults"]
    return out


@pytest.mark.parametrize("phase", ["after", "before"])
def test_order_delay_holds_the_answer_after_or_the_order_before(
    sim: Simulator, api: Api, phase: str
) -> None:
    state = faults(api, order_delay_ms=DELAY_MS, order_delay_phase=phase)
    assert (state["order_delay_ms"], state["order_delay_phase"]) == (DELAY_MS, phase)
    applied = accepted_at(sim)
    sent = time.monotonic()
    ack = api.ok("kt10000", "ordr", buy_body(sim))
    answered = time.monotonic()
    (at,) = applied
    assert ack["ord_no"] in sim.broker.account.orders
    if phase == "after":  # applied at once, the answer held
        assert answered - at >= DELAY_MS / 1000
    else:  # held first, applied after the delay
        assert at - sent >= DELAY_MS / 1000
    # a refused order is held the same way (the simulator handled it)
    refused_sent = time.monotonic()
    bad = api.call("kt10000", "ordr", {**buy_body(sim), "ord_uv": "67550"}).json()
    assert bad["return_code"] == 20
    assert time.monotonic() - refused_sent >= DELAY_MS / 1000


def test_order_delay_targets_only_the_order_apis_asked_for(sim: Simulator, api: Api) -> None:
    hold_s = 20.0  # a generous hold: an untargeted call is far faster than that
    faults(api, order_delay_ms=int(hold_s * 1000), order_delay_api_ids=["kt10001", "kt10003"])
    t0 = time.monotonic()
    ack = api.ok("kt10000", "ordr", buy_body(sim))  # not targeted
    api.ok("ka10075", "acnt", {"all_stk_tp": "0", "trde_tp": "0", "stex_tp": "0"})
    mod = api.ok(
        "kt10002",
        "ordr",
        {
            **buy_body(sim),
            "orig_ord_no": ack["ord_no"],
            "mdfy_qty": "1",
            "mdfy_uv": buy_body(sim)["ord_uv"],
        },
    )
    assert time.monotonic() - t0 < hold_s
    state = faults(api, order_delay_ms=0)
    assert state["order_delay_api_ids"] == ["kt10001", "kt10003"]  # kept until changed
    t0 = time.monotonic()
    api.ok(
        "kt10003",
        "ordr",
        {"dmst_stex_tp": "KRX", "stk_cd": CODE, "orig_ord_no": mod["ord_no"], "cncl_qty": "0"},
    )
    assert time.monotonic() - t0 < hold_s  # 0 turned it off


def test_reject_orders_accepts_then_the_exchange_refuses(sim: Simulator, api: Api) -> None:
    updates: list[OrderUpdate] = []
    sim.add_listener(lambda e: updates.append(e) if isinstance(e, OrderUpdate) else None)
    assert faults(api, reject_orders=2)["reject_orders"] == 2
    first = api.ok("kt10000", "ordr", buy_body(sim))["ord_no"]
    second = api.ok("kt10000", "ordr", buy_body(sim))["ord_no"]
    third = api.ok("kt10000", "ordr", buy_body(sim))["ord_no"]
    by_no: dict[str, list[str]] = {}
    for u in updates:
        by_no.setdefault(u.order.ord_no, []).append(u.status)
    assert by_no == {first: ["접수", "거부"], second: ["접수", "거부"], third: ["접수"]}
    assert faults(api)["reject_orders"] == 0
    oso = api.ok("ka10075", "acnt", {"all_stk_tp": "0", "trde_tp": "0", "stex_tp": "0"})["oso"]
    assert [r["ord_no"] for r in oso] == [third]
    rows = api.ok(
        "kt00007", "acnt", {"qry_tp": "1", "stk_bond_tp": "0", "sell_tp": "0", "dmst_stex_tp": "%"}
    )["acnt_ord_cntr_prps_dtl"]
    assert [r["acpt_tp"] for r in rows] == ["거부", "거부", "접수"]
    assert sim.broker.account.reserved_cash == sim.broker.account.orders[third].reserved
