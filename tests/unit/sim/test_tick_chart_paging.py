"""ka10079 one trade a row, paged by itself: pages are contiguous while the market moves,
and a page costs its rows, not the whole kept history (every page used to rebuild every
kept trade under the simulator's lock, which stalled the market while a gap walk paged)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from gslts_kiwoom.sim import Simulator
from gslts_kiwoom.sim import _events as events
from tests.unit.sim.conftest import START, Api, make_sim


def _flooded(history: int, steps: int = 6) -> Simulator:
    """A market whose busiest stocks keep ``history`` trades, made on both trade paths
    (the flood's batches and single trades)."""
    sim = make_sim(trades_per_s=20_000, trade_universe=5, trade_history=history)
    for i in range(steps):
        sim.step(START + timedelta(seconds=0.1 * (i + 1)))
    return sim


def _pages(api: Api, code: str, sim: Simulator, between: Callable[[], None]) -> list[Any]:
    rows: list[Any] = []
    headers: dict[str, str] = {}
    body = {"stk_cd": code, "tic_scope": "1", "upd_stkpc_tp": "1"}
    while True:
        r = api.call("ka10079", "chart", body, headers)
        assert r.status_code == 200, r.text
        rows.extend(r.json()["stk_tic_chart_qry"])
        if r.headers["cont-yn"] != "Y":
            return rows
        headers = {"cont-yn": "Y", "next-key": r.headers["next-key"]}
        between()


def test_pages_are_the_kept_trades_newest_first_while_the_market_moves(
    api_factory: Callable[[Simulator], Api],
) -> None:
    sim = _flooded(history=50_000)  # nothing falls off while it pages
    code = sim.market.ground_truth.rows(limit=1)[0][1]
    kept = list(sim.trades(code))  # oldest first
    assert len(kept) > 2 * 900, "the test needs several pages"
    api = api_factory(sim)
    now = [sim.now]

    def trade_on() -> None:  # newer trades between the pages must not shift them
        now[0] += timedelta(seconds=0.1)
        sim.step(now[0])

    rows = _pages(api, code, sim, trade_on)
    want = [(abs(t.volume), t.time.strftime("%Y%m%d%H%M%S")) for t in reversed(kept)]
    assert [(int(r["trde_qty"]), r["cntr_tm"]) for r in rows] == want
    assert [abs(int(r["cur_prc"])) for r in rows] == [t.price for t in reversed(kept)]


def test_a_page_does_not_build_the_whole_history(
    api_factory: Callable[[Simulator], Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = _flooded(history=50_000, steps=20)
    code = sim.market.ground_truth.rows(limit=1)[0][1]
    assert len(sim.trades(code)) > 5 * 900
    made = [0]
    real = events.us_to_datetime

    def counting(us: int) -> Any:
        made[0] += 1
        return real(us)

    monkeypatch.setattr("gslts_kiwoom.sim._stock.us_to_datetime", counting)
    api = api_factory(sim)
    body = {"stk_cd": code, "tic_scope": "1", "upd_stkpc_tp": "1"}
    r = api.call("ka10079", "chart", body)
    assert len(r.json()["stk_tic_chart_qry"]) == 900
    r = api.call("ka10079", "chart", body, {"cont-yn": "Y", "next-key": r.headers["next-key"]})
    assert len(r.json()["stk_tic_chart_qry"]) == 900
    assert made[0] <= 2 * 901  # two pages' trades, not the whole history per page


def test_a_bad_page_key_is_a_clear_error(api: Api, sim: Simulator) -> None:
    r = api.call(
        "ka10079",
        "chart",
        {"stk_cd": "005930", "tic_scope": "1", "upd_stkpc_tp": "1"},
        {"cont-yn": "Y", "next-key": "x1"},
    )
    data = r.json()
    assert data["return_code"] != 0
    assert "next-key" in data["return_msg"]


def test_the_oldest_kept_trade_ends_the_walk() -> None:
    sim = _flooded(history=1000)
    code = sim.market.ground_truth.rows(limit=1)[0][1]
    kept = list(sim.trades(code))
    assert len(kept) == 1000
    got = list(sim.market.state(code).trades.newest_first())
    assert [(p, q) for _, _, p, q in got] == [(t.price, abs(t.volume)) for t in reversed(kept)]
    numbers = [n for n, *_ in got]
    assert numbers == list(range(numbers[0], numbers[0] - 1000, -1))
    # from a number in the middle: that trade and the older ones
    mid = numbers[400]
    assert [n for n, *_ in sim.market.state(code).trades.newest_first(mid)] == numbers[400:]
