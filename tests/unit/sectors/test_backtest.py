"""The backtest on synthetic worlds: it finds a planted relation, finds nothing where there
is nothing, and a look-ahead would not pass unseen; costs follow the tax year."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pytest

from gslts_backend.sectors.backtest import (
    BacktestResult,
    Costs,
    backtest,
    holm,
    rank_rows,
    row_corr,
)

from .conftest import BT_START, END, small_links, world
from .test_model import shifted_windows

HEADLINES = ("ic_gap", "icir_gap", "ic_day", "hit_rate_gap", "top_gap_excess", "top_day_net")


def run(kind: str, seed: int, **kw: object) -> BacktestResult:
    return backtest(small_links(), *world(kind, seed), BT_START, END, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def planted() -> BacktestResult:
    return run("planted", 1)


def test_planted_relation_is_found(planted: BacktestResult) -> None:
    assert planted.days > 400
    assert planted.ic_gap.value > 0.1
    assert planted.ic_gap.p_value is not None
    assert planted.ic_gap.p_value < 0.01
    assert planted.icir_gap.value > 0.5
    assert planted.hit_rate_gap.value > 0.53
    assert planted.top_gap_excess.value > 0
    assert planted.top_gap_excess.p_value is not None
    assert planted.top_gap_excess.p_value < 0.01
    # quantiles of the gap rise with the score
    q = planted.quantiles_gap
    assert q[0] < q[-1]
    assert list(q) == sorted(q)
    # most links survive a multiple-testing correction
    assert planted.multiple_testing.significant_holm > planted.multiple_testing.links_tried // 2
    # the day session was planted flat: the watch list does not pay after costs
    assert planted.ic_day.p_value is not None
    assert planted.ic_day.p_value > 0.05
    assert planted.top_day_net.value < 0


def test_every_headline_carries_a_p_value(planted: BacktestResult) -> None:
    d = planted.to_dict()
    for key in HEADLINES:
        assert 0 < d[key]["p_value"] <= 1
    json.dumps(d, allow_nan=False)  # JSON-able: NaN became None
    assert d["daily"][0].keys() >= {"date", "ic_gap", "ic_day", "cum_gap", "cum_day_net"}
    assert len(d["daily"]) == planted.days
    assert "theoretical bound" in " ".join(d["notes"])


@pytest.mark.parametrize(("kind", "seed"), [("none", 0), ("reversed", 0)])
def test_no_relation_reports_nothing_significant(kind: str, seed: int) -> None:
    r = run(kind, seed)
    for key in HEADLINES:
        stat = getattr(r, key)
        assert stat.p_value > 0.05, (key, stat)
    assert abs(r.ic_gap.value) < 0.03
    assert abs(r.ic_day.value) < 0.03
    assert r.multiple_testing.significant_holm == 0


def test_a_look_ahead_in_the_alignment_would_be_caught() -> None:
    """The reversed world: Korea drives the *following* US session. Shift the alignment
    by one day (same-day US data) and the backtest lights up: the canary works."""
    leak = run("reversed", 0, windows=shifted_windows)
    assert leak.ic_gap.value > 0.1
    assert leak.ic_gap.p_value is not None
    assert leak.ic_gap.p_value < 0.01
    assert leak.ic_day.value > 0.2


def test_tax_follows_the_trade_year() -> None:
    c = Costs()
    assert c.tax_for(2024) == 0.0018
    assert c.tax_for(2025) == 0.0015
    assert c.tax_for(2026) == 0.0020
    assert c.tax_for(2031) == 0.0020  # later years: the last rate
    assert c.tax_for(2020) == 0.0018  # earlier years: the first (pass older rates in)
    assert c.round_trip(date(2025, 12, 30)) == pytest.approx(0.0003 + 0.0015 + 0.0005)
    assert c.round_trip(date(2026, 1, 2)) == pytest.approx(0.0003 + 0.0020 + 0.0005)


def test_the_backtest_charges_each_trade_its_years_tax() -> None:
    free = run("planted", 1, costs=Costs(0.0, {2000: 0.0}, 0.0), permutations=0)
    taxed = run("planted", 1, costs=Costs(0.0, {2023: 0.001, 2024: 0.003}, 0.0), permutations=0)
    for a, b in zip(free.daily, taxed.daily, strict=True):
        assert a.day == b.day
        expected = 0.001 if a.day.year == 2023 else 0.003
        assert a.top_day_net - b.top_day_net == pytest.approx(expected)
    assert taxed.ic_gap.p_value is None  # no permutations, no p-values


def test_holm() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_rank_ic_is_spearman_on_the_common_stocks() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(size=(4, 12))
    b = a + rng.normal(size=(4, 12))
    a[0, 3] = np.nan
    r = row_corr(rank_rows(a), rank_rows(b))
    for i in range(4):
        ok = np.isfinite(a[i])
        ra = np.argsort(np.argsort(a[i][ok]))
        rb = np.argsort(np.argsort(b[i][ok]))
        expected = np.corrcoef(ra, rb)[0, 1]
        if i == 0:
            # b's ranks there were taken over all 12; Spearman needs the common 11
            rr = row_corr(rank_rows(a[:1]), rank_rows(np.where(ok, b[0], np.nan)[None, :]))
            assert rr[0] == pytest.approx(expected)
        else:
            assert r[i] == pytest.approx(expected)
    assert math.isnan(row_corr(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]]))[0])
