"""The model core: links, the aligned sample, walk-forward OLS, shrinkage, recommend()."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from gslts_backend.sectors import calendars as cal
from gslts_backend.sectors.model import (
    Bar,
    ModelConfig,
    align,
    asof_joint,
    asof_ols,
    build_panel,
    load_default_links,
    parse_links_csv,
    recommend,
    recommendations_at,
)
from gslts_kiwoom.sim.sector_world import planted_betas

from .conftest import World, small_links, world

DAY = date(2024, 6, 12)  # a Wednesday KRX session deep in the history


def test_default_map_ships_as_package_data() -> None:
    links = load_default_links()
    assert len(links) == 93
    assert len({lk.us_symbol for lk in links}) == 26
    assert len({lk.kr_code for lk in links}) == 88
    first = links[0]
    assert (first.us_symbol, first.kr_code, first.kr_name) == ("SOXX", "005930", "삼성전자")
    assert first.confidence == "H"
    assert first.rationale.startswith("[H] 반도체")
    assert {lk.confidence for lk in links} == {"H", "M", "L"}


def test_parse_links_csv_untagged_rationale_is_low_confidence() -> None:
    text = "us_symbol,us_name,kr_code,kr_name,rationale\nXBI,Biotech,207940,삼성바이오로직스,bio\n"
    (link,) = parse_links_csv(text)
    assert (link.us_symbol, link.kr_code, link.confidence) == ("XBI", "207940", "L")


def naive_asof(x: np.ndarray, y: np.ndarray, t: int, window: int | None) -> tuple[float, float]:
    idx = [s for s in range(t) if math.isfinite(x[s]) and math.isfinite(y[s])]
    if window is not None:
        idx = idx[-window:]
    xs, ys = x[idx], y[idx]
    a = np.vstack([np.ones_like(xs), xs]).T
    coef, _res, *_ = np.linalg.lstsq(a, ys, rcond=None)
    resid = ys - a @ coef
    se = math.sqrt(float(resid @ resid) / (len(xs) - 2) / float(((xs - xs.mean()) ** 2).sum()))
    return float(coef[1]), se


@pytest.mark.parametrize("window", [None, 40])
def test_asof_ols_matches_a_refit_on_earlier_rows_only(window: int | None) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.01, 200)
    y = 0.3 * x + rng.normal(0, 0.01, 200)
    x[rng.choice(200, 20, replace=False)] = np.nan
    y[rng.choice(200, 20, replace=False)] = np.nan
    fit = asof_ols(x, y, window, min_n=30)
    for t in (60, 120, 199):
        beta, se = naive_asof(x, y, t, window)
        assert fit.beta[t] == pytest.approx(beta, rel=1e-9)
        assert fit.se[t] == pytest.approx(se, rel=1e-9)
    # too little history: no estimate
    assert math.isnan(fit.beta[10])
    # row t's estimate ignores row t itself
    y2 = y.copy()
    y2[150] = 99.0
    assert asof_ols(x, y2, window, 30).beta[150] == fit.beta[150]


def bars(day_closes: Sequence[tuple[date, float]], gap: float = 0.0) -> list[Bar]:
    return [Bar(d, c * (1 + gap), c, c, c, 1.0) for d, c in day_closes]


def test_align_compounds_the_us_sessions_of_each_krx_session() -> None:
    # US closes around Chuseok 2025; KR bars every session
    us_days = cal.us_sessions(date(2025, 9, 29), date(2025, 10, 10))
    us_closes = [100.0 * 1.01**i for i in range(len(us_days))]
    kr_days = cal.kr_sessions(date(2025, 9, 29), date(2025, 10, 13))
    kr = [Bar(d, 1000.0 + i, 1000.0, 1000.0, 1000.0 + 2 * i, 1.0) for i, d in enumerate(kr_days)]
    sample = align(
        bars(list(zip(us_days, us_closes, strict=True))),
        None,
        kr,
        ModelConfig(net_market="none"),
    )
    rows = {d: (s, g, r) for d, s, g, r in sample.rows()}
    # 10-10 compounds 10-02 … 10-09: six sessions of +1 %
    assert rows[date(2025, 10, 10)][0] == pytest.approx(1.01**6 - 1)
    assert sample.n_us_sessions[kr_days.index(date(2025, 10, 10))] == 6
    # 10-01 gets 09-30 only
    assert rows[date(2025, 10, 1)][0] == pytest.approx(0.01)
    # KR returns: gap = open / previous close − 1, day = close / open − 1
    i = kr_days.index(date(2025, 10, 10))
    prev_close = 1000.0 + 2 * (i - 1)
    assert rows[date(2025, 10, 10)][1] == pytest.approx((1000.0 + i) / prev_close - 1)
    assert rows[date(2025, 10, 10)][2] == pytest.approx((1000.0 + 2 * i) / (1000.0 + i) - 1)
    # the first US session of the data has no previous close: no signal for 09-30
    assert math.isnan(rows[date(2025, 9, 30)][0])


def shifted_windows(kr_days: Sequence[date], us_days: Sequence[date]) -> list[tuple[int, int]]:
    """A deliberate look-ahead: each KRX session gets the next session's US window, i.e.
    the US session that closes *after* it (same-day US data)."""
    right = cal.us_session_windows(kr_days, us_days)
    return [*right[1:], (len(us_days), len(us_days))]


def test_a_one_day_shift_in_the_alignment_is_caught_by_the_reversed_world() -> None:
    us, kr = world("reversed", 0)
    link = small_links()[0]
    right = align(us[link.us_symbol], us["EWY"], kr[link.kr_code])
    leak = align(us[link.us_symbol], us["EWY"], kr[link.kr_code], windows=shifted_windows)

    def corr(s: np.ndarray, r: np.ndarray) -> float:
        ok = np.isfinite(s) & np.isfinite(r)
        return float(np.corrcoef(s[ok], r[ok])[0, 1])

    cc_right = corr(right.us_signal, (1 + right.gap_ret) * (1 + right.day_ret) - 1)
    cc_leak = corr(leak.us_signal, (1 + leak.gap_ret) * (1 + leak.day_ret) - 1)
    assert abs(cc_right) < 0.1
    assert cc_leak > 0.3


def test_planted_betas_are_recovered() -> None:
    us, kr = world("planted", 1)
    links = small_links()
    panel = build_panel(links, us, kr)
    t = panel.index[DAY]
    truth = planted_betas(links, 1)
    errors = []
    for j, lk in enumerate(panel.links):
        b, se = panel.beta_gap_ols[t, j], panel.beta_gap_se[t, j]
        err = b - truth[(lk.us_symbol, lk.kr_code)]
        errors.append(err)
        assert abs(err) < 5 * panel.beta_gap_se[t, j] + 0.02, (lk, b, se)
        # shrinkage pulls toward zero, never past it
        assert 0 < panel.beta_gap[t, j] < b
        # the planted day-session beta is 0
        assert abs(panel.beta_day[t, j]) < 4 * panel.beta_day_se[t, j]
    assert float(np.mean(np.abs(errors))) < 0.04


def dicts(recs: Sequence[object]) -> list[dict[str, object]]:
    return [r.to_dict() for r in recs]  # type: ignore[attr-defined]


def poison(data: World, day: date) -> World:
    """Future bars replaced with absurd values, plus extra future bars."""
    us, kr = data

    def spoil(bs: list[Bar], future: bool) -> list[Bar]:
        out = [replace(b, open=1e9, close=1e-9) if future(b) else b for b in bs]  # type: ignore[operator]
        last = out[-1]
        return [*out, replace(last, day=date(2025, 6, 2), close=5e8)]

    cutoff = cal.cutoff_kst(day)
    return (
        {s: spoil(b, lambda x: cal.us_close_kst(x.day) >= cutoff) for s, b in us.items()},  # type: ignore[arg-type]
        {c: spoil(b, lambda x: x.day >= day) for c, b in kr.items()},  # type: ignore[arg-type]
    )


def test_recommend_never_reads_a_bar_known_after_the_cutoff() -> None:
    data = world("planted", 1)
    links = small_links()
    base = dicts(recommend(DAY, links, *data))
    assert base  # a real list to compare
    cutoff = cal.cutoff_kst(DAY)
    truncated = (
        {s: [b for b in bs if cal.us_close_kst(b.day) < cutoff] for s, bs in data[0].items()},
        {c: [b for b in bs if b.day < DAY] for c, bs in data[1].items()},
    )
    assert dicts(recommend(DAY, links, *truncated)) == base
    assert dicts(recommend(DAY, links, *poison(data, DAY))) == base


def test_recommend_uses_the_us_session_that_closed_this_morning() -> None:
    us, kr = world("planted", 1)
    links = small_links()
    base = dicts(recommend(DAY, links, us, kr))
    last_us = cal.us_sessions_for(DAY, sorted(b.day for b in us["EWY"]))
    assert last_us == [date(2024, 6, 11)]
    moved = {
        s: [replace(b, close=b.close * 1.05) if b.day == last_us[0] else b for b in bs]
        for s, bs in us.items()
    }
    moved["EWY"] = us["EWY"]
    assert dicts(recommend(DAY, links, moved, kr)) != base


def test_recommend_is_the_panel_row_the_backtest_scores() -> None:
    us, kr = world("planted", 1)
    links = small_links()
    panel = build_panel(links, us, kr)
    for day in (DAY, date(2023, 9, 1), date(2024, 12, 30)):
        assert dicts(recommendations_at(panel, panel.index[day])) == dicts(
            recommend(day, links, us, kr)
        )


def test_the_ranked_list_and_its_explanation() -> None:
    us, kr = world("planted", 1)
    recs = recommend(DAY, small_links(), us, kr)
    assert [r.rank for r in recs] == list(range(1, len(recs) + 1))
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    top = recs[0]
    assert top.expected_gap == pytest.approx(sum(d.contribution for d in top.drivers))
    assert top.history_days >= ModelConfig().min_history
    assert top.hit_rate is not None
    assert 0 <= top.hit_rate <= 1
    ko, en = top.explanation.split("\n")
    assert ko.startswith("예상 갭")
    assert en.startswith("Expected gap")
    assert top.drivers[0].us_symbol in ko


def test_no_us_session_no_list() -> None:
    us, kr = world("planted", 1)
    assert recommend(date(2024, 11, 29), small_links(), us, kr) == []  # after Thanksgiving
    with pytest.raises(ValueError, match="not a KRX session"):
        recommend(date(2024, 6, 15), small_links(), us, kr)  # a Saturday


def test_too_little_history_gives_no_list() -> None:
    us, kr = world("planted", 1)
    assert recommend(date(2022, 3, 2), small_links(), us, kr) == []


def naive_joint(
    x: np.ndarray, y: np.ndarray, t: int, prior_sd: np.ndarray, target: np.ndarray
) -> np.ndarray:
    rows = [s for s in range(t) if math.isfinite(y[s]) and np.isfinite(x[s]).any()]
    xs = np.nan_to_num(x[rows])
    ys = y[rows]
    xc = xs - xs.mean(axis=0)
    yc = ys - ys.mean()
    b_ols = np.linalg.lstsq(xc, yc, rcond=None)[0]
    resid = yc - xc @ b_ols
    s2 = float(resid @ resid) / (len(ys) - x.shape[1] - 1)
    a = xc.T @ xc / s2 + np.diag(1 / prior_sd**2)
    return np.asarray(np.linalg.solve(a, xc.T @ yc / s2 + target / prior_sd**2))


def test_joint_fit_is_the_bayesian_regression_on_earlier_rows() -> None:
    rng = np.random.default_rng(8)
    common = rng.normal(0, 0.01, 300)
    x = np.stack([common + rng.normal(0, 0.003, 300), rng.normal(0, 0.01, 300)], axis=1)
    y = 0.2 * common + 0.1 * x[:, 1] + rng.normal(0, 0.01, 300)
    x[5:40, 1] = np.nan  # the second instrument listed later: counts as 0 there
    prior = np.array([0.2, 0.1])
    target = np.zeros((300, 2))
    fit = asof_joint(x, y, None, 50, prior, target)
    for t in (80, 200, 299):
        assert fit.beta[t] == pytest.approx(naive_joint(x, y, t, prior, target[t]), rel=1e-6)
    assert np.isnan(fit.beta[40]).all()


def test_one_link_joint_equals_the_shrunk_univariate_fit() -> None:
    """Single-link stocks take the univariate path; it is the joint fit with k = 1."""
    us, kr = world("planted", 1)
    cfg = ModelConfig()
    panel = build_panel(small_links(), us, kr, cfg)
    counts = np.bincount(panel.link_stock)
    single = [j for j in range(len(panel.links)) if counts[panel.link_stock[j]] == 1]
    assert len(single) > 10
    for j in single[:5]:
        lk = panel.links[j]
        c = int(panel.link_stock[j])
        fit = asof_joint(
            panel.signal[:, j : j + 1],
            panel.gap_ret[:, c],
            cfg.window,
            cfg.min_history,
            np.array([cfg.prior_for(lk.confidence)]),
            np.zeros((len(panel.kr_days), 1)),
        )
        np.testing.assert_allclose(fit.beta[:, 0], panel.beta_gap[:, j], rtol=1e-6)
        np.testing.assert_allclose(fit.se[:, 0], panel.beta_gap_se[:, j], rtol=1e-6)


def test_links_that_move_together_are_not_counted_twice() -> None:
    us, kr = world("planted", 1)
    link = small_links()[0]
    twin = replace(link, us_symbol=link.us_symbol + "_TWIN")
    # the twin is the same instrument under another ticker (think SOXX and SMH)
    us = {**us, twin.us_symbol: [replace(b, close=b.close * 1.0001) for b in us[link.us_symbol]]}
    one = recommend(DAY, [link], us, kr)[0]
    both = recommend(DAY, [link, twin], us, kr)[0]
    summed = recommend(DAY, [link, twin], us, kr, ModelConfig(combine="sum"))[0]
    assert both.expected_gap == pytest.approx(one.expected_gap, rel=0.05)
    assert summed.expected_gap == pytest.approx(2 * one.expected_gap, rel=0.05)


def test_the_market_factor_is_required_unless_netting_is_off() -> None:
    us, kr = world("planted", 1)
    no_market = {s: b for s, b in us.items() if s != "EWY"}
    with pytest.raises(ValueError, match="market factor EWY"):
        recommend(DAY, small_links(), no_market, kr)
    assert recommend(DAY, small_links(), no_market, kr, ModelConfig(net_market="none"))
    spy = recommend(DAY, small_links(), us, kr, ModelConfig(market_symbol="SPY"))
    assert spy
    assert "SPY" in spy[0].explanation


def test_links_without_bars_are_left_out() -> None:
    us, kr = world("planted", 1)
    links = [
        *small_links(),
        replace(small_links()[0], us_symbol="NOPE"),
        replace(small_links()[0], kr_code="999999"),
    ]
    assert dicts(recommend(DAY, links, us, kr)) == dicts(recommend(DAY, small_links(), us, kr))


def test_sector_shrinkage_pulls_toward_the_instruments_mean() -> None:
    us, kr = world("planted", 1)
    links = small_links()
    zero = build_panel(links, us, kr, ModelConfig(shrink="zero", combine="sum"))
    sector = build_panel(links, us, kr, ModelConfig(shrink="sector", combine="sum"))
    none = build_panel(links, us, kr, ModelConfig(shrink="none", combine="sum"))
    t = zero.index[DAY]
    np.testing.assert_allclose(none.beta_gap[t], none.beta_gap_ols[t])
    # toward a positive mean, the sector target shrinks less than the zero target
    assert (sector.beta_gap[t] >= zero.beta_gap[t] - 1e-12).all()
    assert (np.abs(zero.beta_gap[t]) <= np.abs(none.beta_gap[t]) + 1e-12).all()


def test_bar_order_does_not_matter() -> None:
    us, kr = world("planted", 1)
    shuffled_us = {s: b[::-1] for s, b in us.items()}
    shuffled_kr = {c: b[::-1] for c, b in kr.items()}
    assert dicts(recommend(DAY, small_links(), shuffled_us, shuffled_kr)) == dicts(
        recommend(DAY, small_links(), us, kr)
    )


def test_a_recommendation_is_json_able() -> None:
    import json

    us, kr = world("planted", 1)
    rec = recommend(DAY, small_links(), us, kr)[0]
    d = json.loads(json.dumps(rec.to_dict(), allow_nan=False, ensure_ascii=False))
    assert d["day"] == DAY.isoformat()
    assert d["kr_code"] == rec.kr_code
    assert d["drivers"][0]["us_symbol"] == rec.drivers[0].us_symbol
    assert d["explanation"].startswith("예상 갭")


def test_the_package_exports_resolve_and_modules_stay_modules() -> None:
    import importlib
    import types

    import gslts_backend.sectors as pkg

    assert all(hasattr(pkg, n) for n in pkg.__all__)
    for name in ("calendars", "model", "backtest"):
        mod = importlib.import_module(f"gslts_backend.sectors.{name}")
        assert isinstance(mod, types.ModuleType)
        assert getattr(pkg, name) is mod
