"""Wire formatting helpers, ground truth paging over HTTP, and replay of a recorded file."""

from __future__ import annotations

import json
import warnings
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from gslts_kiwoom.sim import _fmt, create_app
from gslts_kiwoom.sim._fmt import pct, sgn

from .conftest import START, advance, make_sim

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette nags about httpx versions
    from starlette.testclient import TestClient


@pytest.mark.parametrize(
    ("value", "base"), [(68100, 67500), (67000, 67500), (67500, 67500), (1, 3), (100005, 100000)]
)
def test_integer_percent_matches_decimal_formatting(value: int, base: int) -> None:
    assert pct(value, base) == _fmt.rate(Decimal(value), Decimal(base))


def test_signed_prices() -> None:
    assert (sgn(101, 100), sgn(99, 100), sgn(100, 100)) == ("+101", "-99", "100")


def test_ground_truth_pages_every_trade_once() -> None:
    sim = make_sim(trade_universe=5, trades_per_s=50.0)
    advance(sim, 10.0)
    with TestClient(create_app(sim)) as client:
        rows: list[list[object]] = []
        since = 0
        while True:
            page = client.get("/_sim/ground-truth", params={"since_seq": since, "limit": 97})
            body = page.json()
            if not body["rows"]:
                break
            rows.extend(body["rows"])
            since = body["next_seq"]
        assert body["total"] == len(rows) > 300
        assert body["dropped"] == 0
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
        one = rows[0][1]
        per_code = client.get("/_sim/trades", params={"code": one}).json()["rows"]
        assert [(r[5], r[7]) for r in per_code] == [
            (t.price, t.cum_volume) for t in sim.trades(str(one))
        ]
        assert client.post("/_sim/rate", json={"trades_per_s": 7}).json() == {"trades_per_s": 7.0}
        assert client.get("/_sim/state").json()["trades_per_s"] == 7.0


def test_ground_truth_cap_counts_overflow() -> None:
    sim = make_sim(trade_universe=5, trades_per_s=50.0, ground_truth_cap=10)
    advance(sim, 5.0)
    gt = sim.market.ground_truth
    assert len(gt) == 10
    assert gt.dropped > 0


def test_replay_streams_recorded_ticks_through_the_model(tmp_path: Path) -> None:
    path = tmp_path / "ticks.jsonl"
    rows = [
        {
            "stock_code": "005930",
            "trade_time": (START + timedelta(seconds=i)).isoformat(),
            "price": 67500 + 100 * (i % 3),
            "volume": (-1) ** i * (10 + i),
        }
        for i in range(20)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    sim = make_sim(replay=str(path), replay_speed=2.0)
    advance(sim, 5.0)  # 5 s at 2x → the first 11 rows (0..10 s recorded)
    got = sim.trades("005930")
    assert [(t.price, t.volume) for t in got] == [(r["price"], r["volume"]) for r in rows[:11]]
    cums = [t.cum_volume for t in got]
    assert all(b - a == abs(t.volume) for a, b, t in zip(cums, cums[1:], got[1:], strict=False))
