"""Walk-forward backtest of the sector model, scored honestly.

One :func:`~gslts_backend.sectors.model.build_panel` over the whole history gives, for
every KRX session ``d``, the scores the model would have published before 08:30 KST on
``d`` (fit on rows ``< d`` only) and the returns realised on ``d``. On the sessions in
``[start, end]`` that had a US signal:

* **Rank IC** — Spearman correlation, across the linked stocks, of the score with the
  realised gap (previous close → open) and with the day-session return (open → close);
  mean, ICIR (mean / sd of the daily IC) and the t-statistic.
* **Hit rate** — the share of stock-days whose score sign matched the gap's sign.
* **Top-N and quantile baskets** against the equal-weight linked universe. The gap is a
  **forecast**: it cannot be bought with a signal computed after the US close (except in
  the thin 08:30–08:40 장전 시간외 session), so any gap P&L is a *theoretical bound*. The
  **day session** is the tradable strategy: buy the top N at the open, sell at the close,
  after brokerage on both sides, the sell tax of the trade's year and a spread.
* **Significance** — a permutation test beside every headline figure: the day each
  score cross-section is paired with is shuffled (``permutations`` times), i.e. the US
  dates are shuffled against the KR dates, and the same statistic is recomputed; the
  p-value is ``(1 + #{null >= observed}) / (1 + permutations)`` (one-sided: the model
  claims a positive relation; it estimates the day-session sign itself).
* **Multiple testing** — every link is a hypothesis tried: each link's out-of-sample
  forecast is correlated with the realised gap, and Holm's and Bonferroni's corrections
  say how many survive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from gslts_backend.sectors.calendars import us_session_windows
from gslts_backend.sectors.model import (
    Bar,
    Link,
    ModelConfig,
    Panel,
    WindowsFn,
    build_panel,
)

__all__ = [
    "BacktestResult",
    "Costs",
    "DailyPoint",
    "LinkTest",
    "MultipleTesting",
    "Stat",
    "backtest",
    "holm",
    "rank_rows",
    "row_corr",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _default_tax() -> dict[int, float]:
    return {2024: 0.0018, 2025: 0.0015, 2026: 0.0020}


@dataclass(frozen=True, slots=True)
class Costs:
    """Korean trading costs of a day round trip (fractions of the traded value).

    ``sell_tax`` maps a year to the sell-side tax (증권거래세 + 농어촌특별세) from that year
    on: later years use the last year's rate, earlier years the first's (pass the older
    rates in to backtest before 2024: 0.23 % in 2021–2022, 0.20 % in 2023).
    """

    brokerage_per_side: float = 0.00015
    sell_tax: Mapping[int, float] = field(default_factory=_default_tax)
    spread: float = 0.0005

    def tax_for(self, year: int) -> float:
        """The sell tax of a trade in ``year``."""
        years = sorted(self.sell_tax)
        if not years:
            return 0.0
        chosen = years[0]
        for y in years:
            if y <= year:
                chosen = y
        return float(self.sell_tax[chosen])

    def round_trip(self, day: date) -> float:
        """Buy at the open and sell at the close of ``day``: brokerage both sides, the sell
        tax of the year, the spread."""
        return 2 * self.brokerage_per_side + self.tax_for(day.year) + self.spread

    def to_dict(self) -> dict[str, Any]:
        return {
            "brokerage_per_side": self.brokerage_per_side,
            "sell_tax": {str(k): v for k, v in sorted(self.sell_tax.items())},
            "spread": self.spread,
        }


@dataclass(frozen=True, slots=True)
class Stat:
    """A headline figure and its permutation p-value (None: not tested)."""

    value: float
    p_value: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {"value": _num(self.value), "p_value": self.p_value}


@dataclass(frozen=True, slots=True)
class DailyPoint:
    """One backtest session, for charts: the day's ICs, the top-N basket's gap return
    (theoretical) and net day-session return, and the cumulative products."""

    day: date
    ic_gap: float
    ic_day: float
    top_gap: float
    top_day_net: float
    universe_gap: float
    universe_day: float
    cum_gap: float
    cum_day_net: float
    stocks: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "ic_gap": _num(self.ic_gap),
            "ic_day": _num(self.ic_day),
            "top_gap": _num(self.top_gap),
            "top_day_net": _num(self.top_day_net),
            "universe_gap": _num(self.universe_gap),
            "universe_day": _num(self.universe_day),
            "cum_gap": _num(self.cum_gap),
            "cum_day_net": _num(self.cum_day_net),
            "stocks": self.stocks,
        }


@dataclass(frozen=True, slots=True)
class LinkTest:
    """One link's out-of-sample test: correlation of its forecast with the gap."""

    us_symbol: str
    kr_code: str
    n: int
    corr: float
    p_value: float
    p_holm: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "us_symbol": self.us_symbol,
            "kr_code": self.kr_code,
            "n": self.n,
            "corr": _num(self.corr),
            "p_value": _num(self.p_value),
            "p_holm": _num(self.p_holm),
        }


@dataclass(frozen=True, slots=True)
class MultipleTesting:
    links_tried: int
    significant_raw: int
    significant_bonferroni: int
    significant_holm: int
    alpha: float
    links: tuple[LinkTest, ...]
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "links_tried": self.links_tried,
            "alpha": self.alpha,
            "significant_raw": self.significant_raw,
            "significant_bonferroni": self.significant_bonferroni,
            "significant_holm": self.significant_holm,
            "links": [lt.to_dict() for lt in self.links],
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """What :func:`backtest` found; every headline :class:`Stat` carries its p-value."""

    start: date
    end: date
    days: int
    top_n: int
    permutations: int
    seed: int
    ic_gap: Stat
    icir_gap: Stat
    ic_gap_t: float
    ic_day: Stat
    icir_day: Stat
    ic_day_model: Stat
    hit_rate_gap: Stat
    top_gap: Stat
    top_gap_excess: Stat
    universe_gap: float
    top_day_gross: float
    top_day_net: Stat
    top_day_excess: Stat
    universe_day: float
    mean_cost: float
    quantiles_gap: tuple[float, ...]
    quantiles_day: tuple[float, ...]
    multiple_testing: MultipleTesting
    daily: tuple[DailyPoint, ...]
    config: ModelConfig
    costs: Costs
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (NaN → None, dates ISO)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "top_n": self.top_n,
            "permutations": self.permutations,
            "seed": self.seed,
            "ic_gap": self.ic_gap.to_dict(),
            "icir_gap": self.icir_gap.to_dict(),
            "ic_gap_t": _num(self.ic_gap_t),
            "ic_day": self.ic_day.to_dict(),
            "icir_day": self.icir_day.to_dict(),
            "ic_day_model": self.ic_day_model.to_dict(),
            "hit_rate_gap": self.hit_rate_gap.to_dict(),
            "top_gap": self.top_gap.to_dict(),
            "top_gap_excess": self.top_gap_excess.to_dict(),
            "universe_gap": _num(self.universe_gap),
            "top_day_gross": _num(self.top_day_gross),
            "top_day_net": self.top_day_net.to_dict(),
            "top_day_excess": self.top_day_excess.to_dict(),
            "universe_day": _num(self.universe_day),
            "mean_cost": _num(self.mean_cost),
            "quantiles_gap": [_num(q) for q in self.quantiles_gap],
            "quantiles_day": [_num(q) for q in self.quantiles_day],
            "multiple_testing": self.multiple_testing.to_dict(),
            "daily": [p.to_dict() for p in self.daily],
            "config": self.config.to_dict(),
            "costs": self.costs.to_dict(),
            "notes": list(self.notes),
        }


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


# --- vectorised cross-sections ----------------------------------------------------------


def rank_rows(a: FloatArray) -> FloatArray:
    """Ranks (0-based, ordinal) of each row's finite values; NaN stays NaN."""
    finite = np.isfinite(a)
    keyed = np.where(finite, a, np.inf)
    order = np.argsort(keyed, axis=1, kind="stable")
    ranks = np.empty_like(a)
    rows = np.arange(a.shape[0])[:, None]
    ranks[rows, order] = np.arange(a.shape[1], dtype=np.float64)[None, :]
    return np.where(finite, ranks, np.nan)


def row_corr(a: FloatArray, b: FloatArray, min_n: int = 3) -> FloatArray:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` over the
    entries finite in both (NaN with fewer than ``min_n`` or no variation)."""
    m = np.isfinite(a) & np.isfinite(b)
    n = m.sum(axis=1).astype(np.float64)
    a0 = np.where(m, a, 0.0)
    b0 = np.where(m, b, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ma = a0.sum(axis=1) / n
        mb = b0.sum(axis=1) / n
        da = np.where(m, a0 - ma[:, None], 0.0)
        db = np.where(m, b0 - mb[:, None], 0.0)
        cov = (da * db).sum(axis=1)
        r = cov / np.sqrt((da * da).sum(axis=1) * (db * db).sum(axis=1))
    return np.where(n >= min_n, r, np.nan)


def _top_mask(order: npt.NDArray[np.int64], valid: BoolArray, top_n: int) -> BoolArray:
    """Per row, the first ``top_n`` columns of ``order`` that are ``valid`` (as a mask in
    column space)."""
    ok = np.take_along_axis(valid, order, axis=1)
    chosen = ok & (np.cumsum(ok, axis=1) <= top_n)
    mask = np.zeros_like(valid)
    np.put_along_axis(mask, order, chosen, axis=1)
    return mask


def _masked_mean(x: FloatArray, mask: BoolArray) -> FloatArray:
    n = mask.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, np.where(mask, x, 0.0).sum(axis=1) / n, np.nan)


def _icir(ic: FloatArray) -> float:
    v = ic[np.isfinite(ic)]
    if v.size < 3:
        return math.nan
    sd = float(np.std(v, ddof=1))
    return float(np.mean(v)) / sd if sd > 0 else math.nan


def _nanmean(x: FloatArray) -> float:
    v = x[np.isfinite(x)]
    return float(np.mean(v)) if v.size else math.nan


def _p(null: FloatArray, observed: float) -> float | None:
    if not math.isfinite(observed):
        return None
    v = null[np.isfinite(null)]
    return float((1 + np.sum(v >= observed)) / (1 + v.size))


def holm(p: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [1.0] * m
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[i]))
        adjusted[i] = running
    return adjusted


def _link_tests(panel: Panel, rows: npt.NDArray[np.int64], alpha: float) -> MultipleTesting:
    tests: list[tuple[str, str, int, float, float]] = []
    for j, lk in enumerate(panel.links):
        f = panel.contrib_gap[rows, j]
        g = panel.gap_ret[rows, panel.link_stock[j]]
        ok = np.isfinite(f) & np.isfinite(g)
        n = int(ok.sum())
        if n < 10 or np.std(f[ok]) == 0 or np.std(g[ok]) == 0:
            tests.append((lk.us_symbol, lk.kr_code, n, math.nan, 1.0))
            continue
        r = float(np.corrcoef(f[ok], g[ok])[0, 1])
        t = r * math.sqrt((n - 2) / max(1e-12, 1 - r * r))
        tests.append((lk.us_symbol, lk.kr_code, n, r, 0.5 * math.erfc(t / math.sqrt(2))))
    ps = [t[4] for t in tests]
    adj = holm(ps)
    m = len(tests)
    link_tests = tuple(
        LinkTest(us, kr, n, r, p, ph) for (us, kr, n, r, p), ph in zip(tests, adj, strict=True)
    )
    raw = sum(1 for p in ps if p < alpha)
    bonf = sum(1 for p in ps if p * m < alpha)
    hol = sum(1 for p in adj if p < alpha)
    note = (
        f"{m} links were tried. At {alpha:.0%}, {raw} look significant on their own "
        f"(about {alpha * m:.1f} would by chance alone), {hol} after Holm's correction and "
        f"{bonf} after Bonferroni's. Each link's test is its out-of-sample forecast against "
        "the realised gap (one-sided, normal approximation). The headline figures add "
        "more comparisons (gap and day, IC, baskets): read a lone p just under 0.05 as "
        "noise."
    )
    return MultipleTesting(m, raw, bonf, hol, alpha, link_tests, note)


NOTES = (
    "The gap (previous close → open) is scored as a forecast: a signal computed after the "
    "US close cannot buy it, except in the thin 08:30–08:40 pre-open off-hours session. "
    "Gap basket returns are a theoretical bound, before costs.",
    "The day session (open → close) is the tradable strategy: the top N by score bought "
    "at the open and sold at the close, after brokerage on both sides, the sell tax of "
    "the trade's year and the spread.",
    "p-values come from a permutation test: the US dates are shuffled against the KR "
    "dates and each statistic recomputed. They describe this history on these links, not "
    "the future; links and defaults chosen after looking at the same history make them "
    "optimistic.",
    "Synthetic or short histories say nothing about real markets; a model fit on "
    "2001–2017 data found the gap beta of 삼성전자 to Micron falling from 0.23 to 0.08.",
)


def backtest(
    links: Sequence[Link],
    us: Mapping[str, Sequence[Bar]],
    kr: Mapping[str, Sequence[Bar]],
    start: date,
    end: date,
    top_n: int = 5,
    config: ModelConfig = ModelConfig(),  # noqa: B008 - frozen, immutable default
    costs: Costs = Costs(),
    permutations: int = 200,
    seed: int = 0,
    *,
    quantiles: int = 5,
    alpha: float = 0.05,
    windows: WindowsFn = us_session_windows,
) -> BacktestResult:
    """Walk-forward backtest over the KRX sessions in ``[start, end]``.

    Args:
        links, us, kr, config: as for :func:`~gslts_backend.sectors.model.recommend`; bars
            before ``start`` are the model's training history.
        top_n: size of the basket (watch list) scored.
        costs: trading costs of the day-session strategy.
        permutations: size of the permutation test (0: no p-values).
        seed: of the permutations.
        quantiles: number of score buckets for the quantile returns.
        alpha: significance level of the multiple-testing summary.
        windows: the US-session alignment (a seam for the look-ahead tests only).

    Raises:
        ValueError: no data (see :func:`~gslts_backend.sectors.model.build_panel`).
    """
    panel = build_panel(links, us, kr, config, windows=windows)
    days = panel.kr_days
    in_range = np.array([start <= d <= end for d in days]) & (panel.n_us_sessions > 0)
    rows = np.nonzero(in_range)[0].astype(np.int64)
    score = panel.score[rows]
    gap = panel.gap_ret[rows]
    dayr = panel.day_ret[rows]
    exp_day = panel.expected_day[rows]
    # a day counts when at least 3 stocks have a score and a gap
    usable = (np.isfinite(score) & np.isfinite(gap)).sum(axis=1) >= 3
    rows, score, gap, dayr, exp_day = (
        rows[usable],
        score[usable],
        gap[usable],
        dayr[usable],
        exp_day[usable],
    )
    t_len = rows.size
    cost = np.array([costs.round_trip(days[r]) for r in rows])

    r_score = rank_rows(score)
    r_gap = rank_rows(gap)
    r_day = rank_rows(dayr)
    r_exp_day = rank_rows(exp_day)
    order = np.argsort(np.where(np.isfinite(score), -score, np.inf), axis=1, kind="stable")
    valid_gap = np.isfinite(gap)
    valid_day = np.isfinite(dayr)
    sign_score = np.sign(score)
    sign_gap = np.where(gap != 0, np.sign(gap), np.nan)

    def stats(
        perm: npt.NDArray[np.int64] | None,
    ) -> tuple[dict[str, float], dict[str, FloatArray]]:
        p = np.arange(t_len) if perm is None else perm
        rs = r_score[p]
        ic_g = row_corr(rs, r_gap)
        ic_d = row_corr(rs, r_day)
        ic_dm = row_corr(r_exp_day[p], r_day)
        s = sign_score[p]
        agree = np.isfinite(s) & np.isfinite(sign_gap) & (s != 0)
        hits = float(np.sum((s == sign_gap) & agree)) / max(1, int(agree.sum()))
        scored = np.isfinite(score[p])
        top_g = _masked_mean(gap, _top_mask(order[p], valid_gap & scored, top_n))
        top_d = _masked_mean(dayr, _top_mask(order[p], valid_day & scored, top_n))
        uni_g = _masked_mean(gap, valid_gap & scored)
        uni_d = _masked_mean(dayr, valid_day & scored)
        scalars = {
            "ic_gap": _nanmean(ic_g),
            "icir_gap": _icir(ic_g),
            "ic_day": _nanmean(ic_d),
            "icir_day": _icir(ic_d),
            "ic_day_model": _nanmean(ic_dm),
            "hit_rate_gap": hits,
            "top_gap": _nanmean(top_g),
            "top_gap_excess": _nanmean(top_g - uni_g),
            "top_day_net": _nanmean(top_d - cost),
            "top_day_excess": _nanmean(top_d - uni_d),
        }
        series = {
            "ic_g": ic_g,
            "ic_d": ic_d,
            "top_g": top_g,
            "top_d": top_d,
            "uni_g": uni_g,
            "uni_d": uni_d,
        }
        return scalars, series

    observed, obs_series = stats(None)
    null: dict[str, list[float]] = {k: [] for k in observed}
    rng = np.random.default_rng(seed)
    for _ in range(permutations if t_len > 1 else 0):
        s, _series = stats(rng.permutation(t_len).astype(np.int64))
        for k, v in s.items():
            null[k].append(v)

    def stat(k: str) -> Stat:
        value = float(observed[k])
        if not null[k]:
            return Stat(value, None)
        return Stat(value, _p(np.array(null[k]), value))

    ic_g, ic_d = obs_series["ic_g"], obs_series["ic_d"]
    top_g, top_d = obs_series["top_g"], obs_series["top_d"]
    uni_g, uni_d = obs_series["uni_g"], obs_series["uni_d"]
    top_day_net = top_d - cost
    cum_gap = np.cumprod(1 + np.nan_to_num(top_g)) - 1
    cum_day = np.cumprod(1 + np.nan_to_num(top_day_net)) - 1
    n_ic = int(np.isfinite(ic_g).sum())
    icir = float(observed["icir_gap"])

    def quantile_means(realised: FloatArray) -> tuple[float, ...]:
        n = (np.isfinite(r_score) & np.isfinite(realised)).sum(axis=1)
        rr = rank_rows(np.where(np.isfinite(realised), score, np.nan))
        with np.errstate(invalid="ignore", divide="ignore"):
            bucket = np.floor(rr * quantiles / n[:, None])
        out: list[float] = []
        for q in range(quantiles):
            out.append(_nanmean(_masked_mean(realised, bucket == q)))
        return tuple(out)

    stocks = (np.isfinite(score) & valid_gap).sum(axis=1)
    daily = tuple(
        DailyPoint(
            day=days[r],
            ic_gap=float(ic_g[i]),
            ic_day=float(ic_d[i]),
            top_gap=float(top_g[i]),
            top_day_net=float(top_day_net[i]),
            universe_gap=float(uni_g[i]),
            universe_day=float(uni_d[i]),
            cum_gap=float(cum_gap[i]),
            cum_day_net=float(cum_day[i]),
            stocks=int(stocks[i]),
        )
        for i, r in enumerate(rows)
    )
    return BacktestResult(
        start=start,
        end=end,
        days=t_len,
        top_n=top_n,
        permutations=permutations,
        seed=seed,
        ic_gap=stat("ic_gap"),
        icir_gap=stat("icir_gap"),
        ic_gap_t=icir * math.sqrt(n_ic) if math.isfinite(icir) else math.nan,
        ic_day=stat("ic_day"),
        icir_day=stat("icir_day"),
        ic_day_model=stat("ic_day_model"),
        hit_rate_gap=stat("hit_rate_gap"),
        top_gap=stat("top_gap"),
        top_gap_excess=stat("top_gap_excess"),
        universe_gap=_nanmean(uni_g),
        top_day_gross=_nanmean(top_d),
        top_day_net=stat("top_day_net"),
        top_day_excess=stat("top_day_excess"),
        universe_day=_nanmean(uni_d),
        mean_cost=float(np.mean(cost)) if t_len else math.nan,
        quantiles_gap=quantile_means(gap),
        quantiles_day=quantile_means(dayr),
        multiple_testing=_link_tests(panel, rows, alpha),
        daily=daily,
        config=config,
        costs=costs,
        notes=NOTES,
    )
