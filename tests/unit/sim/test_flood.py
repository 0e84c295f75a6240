"""The market's flood path (``bulk_min_trades_per_s``): same ground truth, history, bars
and listener events as the per-trade path promises; the calm default does not use it."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest

from gslts_kiwoom import krx
from gslts_kiwoom.sim import MarketEvent, MarketTrade, SimConfig, Simulator
from gslts_kiwoom.sim._events import datetime_to_us
from gslts_kiwoom.sim._market import Market

START = datetime(2026, 9, 28, 10, 0, tzinfo=krx.KST)


def _sim(**kw: Any) -> Simulator:
    fields: dict[str, Any] = {"ticker": False, "start_time": START, "seed": 5, "history_days": 5}
    fields.update(kw)
    return Simulator(SimConfig(**fields))


def _run(sim: Simulator, steps: int, dt: float = 0.1) -> None:
    for i in range(steps):
        sim.step(START + timedelta(seconds=dt * (i + 1)))


def test_calm_default_keeps_the_per_trade_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: Any, **_k: Any) -> int:
        raise AssertionError("flood path used at the calm default rate")

    monkeypatch.setattr(Market, "_bulk_trades", boom)
    sim = _sim()
    assert sim.config.trades_per_s < sim.config.bulk_min_trades_per_s
    _run(sim, 50, 1.0)
    assert len(sim.market.ground_truth) > 100


def test_flood_records_every_trade_consistently() -> None:
    sim = _sim(trades_per_s=50_000, trade_universe=60)
    seen: list[MarketTrade] = []

    def listener(e: MarketEvent) -> None:  # a plain listener gets MarketTrade events
        if isinstance(e, MarketTrade):
            seen.append(e)

    sim.add_listener(listener)
    _run(sim, 5)
    gt = sim.market.ground_truth
    rows = gt.rows()
    assert len(rows) > 15_000
    assert gt.dropped == 0
    codes = {r[1] for r in rows}
    assert len(codes) >= 50
    assert [(t.code, t.price, t.volume, t.cum_volume, t.seq) for t in seen] == [
        (r[1], r[3], r[4], r[5], r[6]) for r in rows
    ]
    for code in codes:
        mine = [r for r in rows if r[1] == code]
        trades = sim.trades(code)  # ka10079's history
        assert [
            (datetime_to_us(t.time), t.price, t.volume, t.cum_volume, t.seq) for t in trades
        ] == [r[2:] for r in mine]
        st = sim.market.state(code)
        assert [t.seq for t in trades] == list(range(1, len(trades) + 1))
        first_cum = trades[0].cum_volume - abs(trades[0].volume)
        for a, b in itertools.pairwise(trades):
            assert b.cum_volume - a.cum_volume == abs(b.volume) > 0
            assert b.time >= a.time
        # cum_value is KRW million (백만원, truncated like FID 14) of the exact running value
        exact = st.cum_value_krw
        for t in reversed(trades):
            assert t.cum_value == exact // 1_000_000
            exact -= t.price * abs(t.volume)
        for t in trades:
            assert krx.is_valid_price(t.price)
            assert st.lower <= t.price <= st.upper
            assert t.low <= t.price <= t.high
            assert t.open == st.open
            assert START <= t.time <= sim.now
        # the book after the last trade is the one the step's 0D shows
        last = trades[-1]
        assert (last.best_ask, last.best_bid) == (st.best_ask, st.best_bid)
        assert st.best_bid < st.best_ask
        # minute bars (ka10080) hold exactly the streamed volume
        assert sum(b.volume for b in st.minute_bars) == last.cum_volume - first_cum
        assert st.minute_bars[-1].close == last.price


def test_flood_history_keeps_the_last_trades_and_is_deterministic() -> None:
    a = _sim(trades_per_s=20_000, trade_universe=50, trade_history=10)
    b = _sim(trades_per_s=20_000, trade_universe=50, trade_history=10)
    _run(a, 4)
    _run(b, 4)
    assert a.market.ground_truth.rows() == b.market.ground_truth.rows()
    code = a.market.ground_truth.rows(limit=1)[0][1]
    mine = a.market.ground_truth.rows(code=code)
    assert len(mine) > 10
    kept = a.trades(code)
    assert [(t.price, t.cum_volume) for t in kept] == [(r[3], r[5]) for r in mine[-10:]]


def test_flood_feed_batches_0b_and_one_0d_per_stock_per_step() -> None:
    sim = _sim(trades_per_s=20_000, trade_universe=50)
    codes = list(sim.market._focus[0])  # type: ignore[index]
    sim.feed._wanted = {"0B": frozenset(codes), "0D": frozenset(codes)}
    sim.feed.refresh = lambda: None  # type: ignore[method-assign]
    batches: list[list[Any]] = []
    sim.feed.add_listener(lambda entries: batches.append(list(entries)))
    _run(sim, 3)
    assert len(batches) == 3
    total = 0
    for entries in batches:
        zero_b = [e for e in entries if isinstance(e, tuple) and e[0] == "0B"]
        zero_d = [e for e in entries if isinstance(e, dict) and e["type"] == "0D"]
        total += len(zero_b)
        assert len(zero_d) == len({e[1] for e in zero_b})  # one 0D per traded stock
    assert total == len(sim.market.ground_truth)
