"""ka10080 minute bars of past sessions: drawn from the daily bars (ka10081) and agreeing
with them, deterministic, paged backwards with ``cont-yn``/``next-key`` (no overlap, no
gap), ``base_dt`` for an earlier day; today's bars still from the live market."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from gslts_kiwoom import krx
from gslts_kiwoom.models import Bar
from gslts_kiwoom.sim import Simulator
from gslts_kiwoom.sim._history import SESSION_MINUTES, synthetic_minutes

from .conftest import START, Api, advance, make_sim

CODE = "005930"
BODY = {"stk_cd": CODE, "tic_scope": "1", "upd_stkpc_tp": "1"}
#: cntr_tm labels (the bar's end) of a full synthetic session: 0901 … 1520 and 1531
SESSION_LABELS = {f"{(m + 1) // 60:02d}{(m + 1) % 60:02d}00" for m in SESSION_MINUTES}


def _check_day(bars: list[Bar], day: Bar) -> None:
    assert bars[0].open == day.open
    assert bars[-1].close == day.close
    assert max(b.high for b in bars) == day.high
    assert min(b.low for b in bars) == day.low
    assert sum(b.volume for b in bars) == day.volume
    assert [b.start for b in bars] == sorted({b.start for b in bars})
    lower, upper = krx.price_limits(day.base_price)
    for b in bars:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
        assert all(krx.is_valid_price(p) for p in (b.open, b.high, b.low, b.close))
        assert lower <= b.low <= b.high <= upper
        assert b.volume >= 1
        assert b.start.date() == day.start.date()


@pytest.mark.parametrize("seed", range(6))
def test_synthetic_minutes_agree_with_their_daily_bar(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        base = krx.round_to_tick(rng.randint(500, 900_000))
        lower, upper = krx.price_limits(base)
        prices = sorted(krx.round_to_tick(rng.randint(lower, upper)) for _ in range(4))
        lo, hi = max(prices[0], lower), min(prices[3], upper)
        op, close = rng.choice(prices[1:3]), rng.choice(prices[1:3])
        volume = rng.choice([1, 2, 50, 380, 381, 382, 10_000, 7_654_321])
        day = Bar(START.replace(hour=0, minute=0), op, hi, lo, close, volume, 0, base_price=base)
        bars = synthetic_minutes(day, seed, "005930")
        _check_day(bars, day)
        assert len(bars) == min(volume, len(SESSION_MINUTES))
        assert bars == synthetic_minutes(day, seed, "005930")  # deterministic


def test_every_past_session_of_the_history_agrees_with_ka10081() -> None:
    sim = make_sim(history_days=30)
    m = sim.market
    for code in (CODE, "000660", "035720", "001340"):
        days = m.minute_days(code)
        assert days[0][0] == START.date()  # today first (live), then the history
        daily = {b.start.date(): b for b in m.daily_bars(code)}
        assert [d for d, _ in days[1:]] == sorted(d for d in daily if d < START.date())[::-1]
        for day, base in days[1:]:
            assert base == daily[day].base_price
            _check_day(m.minute_bars(code, day), daily[day])


def test_same_seed_same_bars_other_seed_other_bars() -> None:
    day = make_sim().market.minute_days(CODE)[3][0]
    a = make_sim().market.minute_bars(CODE, day)
    assert a == make_sim().market.minute_bars(CODE, day)
    assert a != make_sim(seed=8).market.minute_bars(CODE, day)
    assert len(a) == len(SESSION_MINUTES)  # a liquid stock trades every minute


def _pages(api: Api, body: dict[str, Any], limit: int = 1000) -> list[tuple[str, list[Any]]]:
    """Every page as (cont-yn, rows), following next-key, at most ``limit`` pages."""
    out: list[tuple[str, list[Any]]] = []
    key = ""
    for _ in range(limit):
        r = api.call("ka10080", "chart", body, {"cont-yn": "Y", "next-key": key} if key else {})
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["return_code"] == 0, data
        out.append((r.headers["cont-yn"], data["stk_min_pole_chart_qry"]))
        key = r.headers["next-key"]
        if r.headers["cont-yn"] != "Y":
            assert key == ""
            break
    return out


def _by_day(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    days: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        days[r["cntr_tm"][:8]].append(r)
    return days


def test_pages_of_the_observed_size_go_back_without_gap_or_overlap(api_factory: Any) -> None:
    sim = make_sim(trades_per_s=100, history_days=8)
    advance(sim, 180, step=2)
    api = api_factory(sim)
    assert sim.config.page_size("ka10080") == 900  # PROTOCOL §3.2: about 900 rows [T2]
    pages = _pages(api, BODY)
    assert [len(rows) for _, rows in pages[:-1]] == [900] * (len(pages) - 1)
    assert [c for c, _ in pages] == ["Y"] * (len(pages) - 1) + ["N"]
    rows = [r for _, page in pages for r in page]
    labels = [r["cntr_tm"] for r in rows]
    assert labels == sorted(set(labels), reverse=True)  # newest first, no row twice
    days = _by_day(rows)
    today = START.strftime("%Y%m%d")
    history = sim.market.history_dates()
    assert sorted(days) == sorted([today, *(d.strftime("%Y%m%d") for d in history)])
    # today: what the live market traded, minute by minute
    truth = sim.trades(CODE)
    assert sum(int(r["trde_qty"]) for r in days[today]) == sum(abs(t.volume) for t in truth)
    # each past session: every minute of the session once, and the daily bar's numbers
    daily = {
        r["dt"]: r
        for r in api.ok("ka10081", "chart", {**BODY, "base_dt": today})["stk_dt_pole_chart_qry"]
    }
    for d in history:
        ymd = d.strftime("%Y%m%d")
        bars = days[ymd][::-1]
        assert {r["cntr_tm"][8:] for r in bars} == SESSION_LABELS
        price = [abs(int(r[k])) for r in bars for k in ("open_pric", "high_pric", "low_pric")]
        assert abs(int(bars[0]["open_pric"])) == int(daily[ymd]["open_pric"])
        assert abs(int(bars[-1]["cur_prc"])) == int(daily[ymd]["cur_prc"])
        assert max(price) == int(daily[ymd]["high_pric"])
        assert min(price) == int(daily[ymd]["low_pric"])
        assert sum(int(r["trde_qty"]) for r in bars) == int(daily[ymd]["trde_qty"])
        assert int(bars[-1]["acc_trde_qty"]) == int(daily[ymd]["trde_qty"])
        # signed versus that day's previous close, as the daily bar's change says
        assert bars[-1]["pred_pre"].strip() == daily[ymd]["pred_pre"].strip()


def test_small_pages_base_dt_and_scopes(api_factory: Any) -> None:
    sim = make_sim(history_days=6, page_sizes={"ka10080": 97})
    api = api_factory(sim)
    hist = sim.market.history_dates()
    all_rows = [r for _, page in _pages(api, BODY) for r in page]
    labels = [r["cntr_tm"] for r in all_rows]
    assert labels == sorted(set(labels), reverse=True)
    assert len(all_rows) == 6 * len(SESSION_MINUTES)  # nothing traded today yet
    # base_dt: that day and earlier, the same rows as the full listing from there on
    day = hist[-3]
    ymd = day.strftime("%Y%m%d")
    since = [r for _, page in _pages(api, {**BODY, "base_dt": ymd}) for r in page]
    assert since[0]["cntr_tm"] == ymd + "153100"
    assert since == [r for r in all_rows if r["cntr_tm"][:8] <= ymd]
    assert _pages(api, {**BODY, "base_dt": "20200102"}) == [("N", [])]  # before the history
    # 5-minute bars fold the 1-minute ones: same totals and range per day
    five = [r for _, page in _pages(api, {**BODY, "tic_scope": "5"}) for r in page]
    assert all(int(r["cntr_tm"][10:12]) % 5 == 0 or r["cntr_tm"][8:] == "153100" for r in five)
    for d, rows in _by_day(five).items():
        ones = _by_day(all_rows)[d]
        assert sum(int(r["trde_qty"]) for r in rows) == sum(int(r["trde_qty"]) for r in ones)
        highs = [abs(int(r["high_pric"])) for r in rows]
        assert max(highs) == max(abs(int(r["high_pric"])) for r in ones)
    # a continuation key that is not one of ours
    bad = api.call("ka10080", "chart", BODY, {"cont-yn": "Y", "next-key": "nonsense"})
    assert bad.json()["return_code"] == 2
    assert "1517" in bad.json()["return_msg"]


def test_minute_history_days_bounds_the_past() -> None:
    sim: Simulator = make_sim(history_days=20, minute_history_days=3)
    days = [d for d, _ in sim.market.minute_days(CODE)]
    assert days == [START.date(), *sim.market.history_dates()[-3:][::-1]]
    assert sim.market.minute_bars(CODE, date(2020, 1, 2)) == []
    none = make_sim(minute_history_days=0)
    assert [d for d, _ in none.market.minute_days(CODE)] == [START.date()]
