"""The sector model: links, bars, the aligned sample, walk-forward betas, recommendations.

Everything the recommendation for KRX session ``D`` uses is known before 08:30 KST on
``D``; the code is laid out so that this holds by construction:

1. :func:`recommend` first *drops* every KR bar dated ``>= D`` and every US bar of a
   session that closed at or after the cutoff, then computes on what is left.
2. :func:`align` builds, per link, one row per KRX session ``d``: the link's US return
   compounded over the US sessions of ``d``'s window (closed after the previous KRX close,
   before ``d``'s cutoff: :func:`~gslts_backend.sectors.calendars.us_session_windows`),
   the market factor over the same sessions, the signal net of the market, and the KR
   stock's gap (previous close → open) and day (open → close) returns of ``d``.
3. Every estimate used on row ``d`` (the US instrument's market beta, the gap and day
   betas, the hit rate) is fit on rows dated ``< d`` only (:func:`asof_ols`: prefix sums
   over earlier rows, optionally the last ``window`` of them).

The backtest computes the same panel once over its whole range; row ``d`` of it equals
:func:`recommend` for ``d`` (a unit test holds the two to that).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gslts_backend.sectors.calendars import (
    cutoff_kst,
    kr_sessions,
    us_close_kst,
    us_session_windows,
    us_sessions,
)

__all__ = [
    "AlignedSample",
    "Bar",
    "Driver",
    "Link",
    "ModelConfig",
    "Panel",
    "Recommendation",
    "WindowsFn",
    "align",
    "asof_joint",
    "asof_ols",
    "bars_from_rows",
    "build_panel",
    "known_before",
    "load_default_links",
    "parse_links_csv",
    "recommend",
    "recommendations_at",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Confidence = Literal["H", "M", "L"]
#: ``(kr_days, us_days) -> [(lo, hi), ...]``: which US sessions each KRX session compounds
#: (the seam a look-ahead test uses to show that a shifted alignment would be caught)
WindowsFn = Callable[[Sequence[date], Sequence[date]], list[tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class Link:
    """One US instrument → Korean stock link of the map (many-to-many)."""

    us_symbol: str
    kr_code: str
    #: ``H`` same global industry and cycle, ``M`` plausible channel, ``L`` weak
    confidence: str
    rationale: str
    us_name: str = ""
    kr_name: str = ""


@dataclass(frozen=True, slots=True)
class Bar:
    """An adjusted daily bar (prices in the instrument's currency)."""

    day: date
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Model settings; the defaults are argued for in ``docs/sectors.md``.

    Attributes:
        window: rows (KRX sessions with a signal) each fit uses: the last ``window``
            before the day; None for an expanding window.
        min_history: rows a link needs before its beta is used.
        shrink: shrinkage target of the betas: ``"zero"``, ``"sector"`` (the mean OLS
            beta of the links of the same US instrument) or ``"none"`` (plain OLS).
        prior_sd: the prior's standard deviation of a gap/day beta for ``H``, ``M``, ``L``
            links: the posterior mean is the precision-weighted blend of the OLS beta
            (precision 1/SE²) and the target (precision 1/prior_sd²).
        market_symbol: the market factor the US signal is netted of.
        net_market: ``"beta"`` (subtract the instrument's walk-forward beta × the market
            factor), ``"subtract"`` (beta 1) or ``"none"``.
        market_min_history: rows the instrument's market beta needs.
        combine: how a stock with several links is fit: ``"joint"`` (one regression on
            all its links' signals, :func:`asof_joint`: links that move together share
            the credit) or ``"sum"`` (each link alone, the contributions added: counts a
            shared move once per link).
    """

    window: int | None = 500
    min_history: int = 120
    shrink: Literal["zero", "sector", "none"] = "zero"
    prior_sd: tuple[float, float, float] = (0.20, 0.15, 0.10)
    market_symbol: str = "EWY"
    net_market: Literal["beta", "subtract", "none"] = "beta"
    market_min_history: int = 60
    combine: Literal["joint", "sum"] = "joint"

    def prior_for(self, confidence: str) -> float:
        """The prior standard deviation of a link of ``confidence`` (unknown tags: L)."""
        h, m, low = self.prior_sd
        return {"H": h, "M": m}.get(confidence, low)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "min_history": self.min_history,
            "shrink": self.shrink,
            "prior_sd": {"H": self.prior_sd[0], "M": self.prior_sd[1], "L": self.prior_sd[2]},
            "market_symbol": self.market_symbol,
            "net_market": self.net_market,
            "market_min_history": self.market_min_history,
            "combine": self.combine,
        }


@dataclass(frozen=True, slots=True)
class Driver:
    """One link's part of a recommendation.

    ``us_return`` is the instrument's return compounded over the US sessions since the
    previous KRX session, ``signal`` that net of the market factor, ``beta`` the shrunk
    gap beta and ``contribution = beta × signal`` (its share of the expected gap).
    """

    us_symbol: str
    us_return: float
    beta: float
    contribution: float
    signal: float = 0.0
    beta_se: float = math.nan
    beta_ols: float = math.nan
    beta_day: float = math.nan
    beta_day_se: float = math.nan
    confidence: str = "L"
    history_days: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "us_symbol": self.us_symbol,
            "us_return": _num(self.us_return),
            "signal": _num(self.signal),
            "beta": _num(self.beta),
            "beta_se": _num(self.beta_se),
            "beta_ols": _num(self.beta_ols),
            "beta_day": _num(self.beta_day),
            "beta_day_se": _num(self.beta_day_se),
            "contribution": _num(self.contribution),
            "confidence": self.confidence,
            "history_days": self.history_days,
        }


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One Korean stock of the morning's ranked list.

    ``score`` = ``expected_gap`` = Σ over the stock's links of the shrunk gap beta × the
    link's net US signal. ``beta_gap``/``beta_gap_se``/``beta_day`` are those of the main
    driver (largest |contribution|; every link's are in ``drivers``). ``hit_rate``: how
    often the sign of this stock's past forecasts (each made walk-forward on its own day)
    matched the sign of the gap, over the fit window; None before any.
    """

    kr_code: str
    rank: int
    score: float
    expected_gap: float
    beta_gap: float
    beta_gap_se: float
    beta_day: float
    expected_day: float
    history_days: int
    hit_rate: float | None
    drivers: tuple[Driver, ...]
    explanation: str
    day: date | None = None
    kr_name: str = ""
    hit_days: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat() if self.day else None,
            "kr_code": self.kr_code,
            "kr_name": self.kr_name,
            "rank": self.rank,
            "score": _num(self.score),
            "expected_gap": _num(self.expected_gap),
            "beta_gap": _num(self.beta_gap),
            "beta_gap_se": _num(self.beta_gap_se),
            "beta_day": _num(self.beta_day),
            "expected_day": _num(self.expected_day),
            "history_days": self.history_days,
            "hit_rate": _num(self.hit_rate) if self.hit_rate is not None else None,
            "hit_days": self.hit_days,
            "drivers": [d.to_dict() for d in self.drivers],
            "explanation": self.explanation,
        }


def _num(x: float) -> float | None:
    """A JSON-able float: NaN/inf become None."""
    return float(x) if math.isfinite(x) else None


# --- links and bars ---------------------------------------------------------------------

_TAG = re.compile(r"^\s*\[([HML])\]\s*")


def parse_links_csv(text: str) -> list[Link]:
    """Links from the map's CSV (``us_symbol, us_name, kr_code, kr_name, rationale``; the
    rationale starts with the confidence tag ``[H]``/``[M]``/``[L]``, kept in it)."""
    out: list[Link] = []
    for row in csv.DictReader(io.StringIO(text)):
        rationale = (row.get("rationale") or "").strip()
        tag = _TAG.match(rationale)
        out.append(
            Link(
                us_symbol=row["us_symbol"].strip(),
                kr_code=row["kr_code"].strip(),
                confidence=tag.group(1) if tag else "L",
                rationale=rationale,
                us_name=(row.get("us_name") or "").strip(),
                kr_name=(row.get("kr_name") or "").strip(),
            )
        )
    return out


def load_default_links() -> list[Link]:
    """The shipped default map (26 US ETFs → 88 Korean stocks, 93 links), package data
    ``gslts_backend/sectors/data/sector_links_default.csv``."""
    text = (
        resources.files("gslts_backend.sectors")
        .joinpath("data/sector_links_default.csv")
        .read_text("utf-8")
    )
    return parse_links_csv(text)


def bars_from_rows(rows: Iterable[Any]) -> list[Bar]:
    """Bars from ``(day, open, high, low, close, volume)`` tuples (what
    :func:`gslts_kiwoom.sim.sector_world.make_world` returns), dicts with those keys, or
    :class:`Bar` values; sorted by day."""
    out: list[Bar] = []
    for r in rows:
        if isinstance(r, Bar):
            out.append(r)
        elif isinstance(r, Mapping):
            out.append(
                Bar(r["day"], r["open"], r["high"], r["low"], r["close"], r.get("volume", 0.0))
            )
        else:
            d, o, h, lo, c, v = r
            out.append(Bar(d, float(o), float(h), float(lo), float(c), float(v)))
    out.sort(key=lambda b: b.day)
    return out


# --- estimation -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OlsFit:
    """Walk-forward OLS ``y = a + b x``: row ``t`` holds the fit on valid rows ``< t``."""

    beta: FloatArray
    alpha: FloatArray
    se: FloatArray
    n: IntArray


def asof_ols(x: FloatArray, y: FloatArray, window: int | None, min_n: int) -> OlsFit:
    """For each row ``t``: OLS of ``y`` on ``x`` (with intercept) over the rows ``s < t``
    where both are finite, the last ``window`` of them (all when None). NaN where fewer
    than ``max(min_n, 3)`` rows or no variation in ``x``. O(T) via prefix sums."""
    t_len = x.shape[0]
    valid = np.isfinite(x) & np.isfinite(y)
    xv = np.where(valid, x, 0.0)
    yv = np.where(valid, y, 0.0)
    cols = np.stack([valid.astype(np.float64), xv, yv, xv * xv, xv * yv, yv * yv])
    prefix = np.zeros((6, t_len + 1))
    np.cumsum(cols, axis=1, out=prefix[:, 1:])
    # row t sees prefix[:, t] (rows < t); its window starts where the count was W fewer
    count = prefix[0]
    end = np.arange(t_len)
    if window is None:
        start = np.zeros(t_len, dtype=np.int64)
    else:
        start = np.searchsorted(count, count[end] - window, side="left").astype(np.int64)
        start = np.minimum(start, end)
    s = prefix[:, end] - prefix[:, start]
    n, sx, sy, sxx, sxy, syy = s
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = sx / n
        my = sy / n
        cxx = sxx - sx * mx
        cxy = sxy - sx * my
        cyy = syy - sy * my
        beta = cxy / cxx
        alpha = my - beta * mx
        rss = np.maximum(cyy - beta * cxy, 0.0)
        se = np.sqrt(rss / (n - 2) / cxx)
    ok = (n >= max(min_n, 3)) & (cxx > 1e-18)
    nan = np.full(t_len, np.nan)
    return OlsFit(
        np.where(ok, beta, nan),
        np.where(ok, alpha, nan),
        np.where(ok, se, nan),
        np.rint(n).astype(np.int64),
    )


def _asof_mean(hit: FloatArray, window: int | None) -> tuple[FloatArray, IntArray]:
    """For each row t, the mean of the finite values of ``hit`` at rows < t (the last
    ``window`` of them) and their count."""
    t_len = hit.shape[0]
    valid = np.isfinite(hit)
    prefix = np.zeros((2, t_len + 1))
    np.cumsum(
        np.stack([valid.astype(np.float64), np.where(valid, hit, 0.0)]), axis=1, out=prefix[:, 1:]
    )
    count = prefix[0]
    end = np.arange(t_len)
    if window is None:
        start = np.zeros(t_len, dtype=np.int64)
    else:
        start = np.minimum(np.searchsorted(count, count[end] - window, side="left"), end)
    n = prefix[0, end] - prefix[0, start]
    total = prefix[1, end] - prefix[1, start]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
    return mean, np.rint(n).astype(np.int64)


@dataclass(frozen=True, slots=True)
class JointFit:
    """Walk-forward Bayesian regression of one stock on all its links' signals: row ``t``
    holds the fit on valid rows ``< t`` (see :func:`asof_joint`). ``(T, k)`` arrays."""

    beta: FloatArray
    se: FloatArray
    beta_ols: FloatArray
    n: IntArray


def asof_joint(
    x: FloatArray,
    y: FloatArray,
    window: int | None,
    min_n: int,
    prior_sd: FloatArray,
    target: FloatArray,
    how: str = "zero",
) -> JointFit:
    """For each row ``t``: ``y = a + Σ_l b_l x_l`` over the valid rows ``s < t`` (the last
    ``window``), the slopes under independent priors N(``target[t, l]``, ``prior_sd[l]²``)
    and a flat intercept, with the noise variance from the OLS residuals.

    A row is valid when ``y`` and at least one ``x`` are finite; a missing ``x`` counts as
    0 (that instrument said nothing that night). For one link this is exactly the OLS beta
    shrunk as :func:`asof_ols` + a normal prior would give; for several it splits the
    credit between links that move together (SOXX and SMH) instead of counting it twice.
    ``how="none"``: the OLS slopes and their SEs. O(T·k²) via prefix sums.
    """
    t_len, k = x.shape
    valid = np.isfinite(y) & np.isfinite(x).any(axis=1)
    xv = np.where(valid[:, None] & np.isfinite(x), x, 0.0)
    yv = np.where(valid, y, 0.0)
    vf = valid.astype(np.float64)

    def prefix(a: FloatArray) -> FloatArray:
        out = np.zeros((t_len + 1, *a.shape[1:]))
        np.cumsum(a, axis=0, out=out[1:])
        return out

    p_n = prefix(vf)
    p_x = prefix(xv)
    p_y = prefix(yv)
    p_xx = prefix(xv[:, :, None] * xv[:, None, :])
    p_xy = prefix(xv * yv[:, None])
    p_yy = prefix(yv * yv)
    end = np.arange(t_len)
    if window is None:
        start = np.zeros(t_len, dtype=np.int64)
    else:
        start = np.minimum(np.searchsorted(p_n, p_n[end] - window, side="left"), end)
    n = p_n[end] - p_n[start]
    ok = n >= max(min_n, k + 2)
    nn = np.where(ok, n, 1.0)
    sx = p_x[end] - p_x[start]
    sy = p_y[end] - p_y[start]
    cxx = (p_xx[end] - p_xx[start]) - sx[:, :, None] * sx[:, None, :] / nn[:, None, None]
    cxy = (p_xy[end] - p_xy[start]) - sx * (sy / nn)[:, None]
    cyy = (p_yy[end] - p_yy[start]) - sy * sy / nn
    eye = np.eye(k)[None, :, :]
    scale = np.maximum(np.trace(cxx, axis1=1, axis2=2), 1e-18)[:, None, None]
    cxx_safe = np.where(ok[:, None, None], cxx, eye) + 1e-9 * scale * eye
    b_ols = np.linalg.solve(cxx_safe, cxy[:, :, None])[:, :, 0]
    rss = np.maximum(cyy - (b_ols * cxy).sum(axis=1), 1e-18)
    s2 = rss / np.maximum(nn - k - 1, 1.0)
    if how == "none":
        cov = np.linalg.inv(cxx_safe) * s2[:, None, None]
        post = b_ols
    else:
        prec_prior = 1.0 / (prior_sd * prior_sd)
        a = cxx_safe / s2[:, None, None] + eye * prec_prior[None, :, None]
        rhs = cxy / s2[:, None] + target * prec_prior[None, :]
        post = np.linalg.solve(a, rhs[:, :, None])[:, :, 0]
        cov = np.linalg.inv(a)
    se = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0))
    nan = np.full((t_len, k), np.nan)
    okk = ok[:, None]
    return JointFit(
        np.where(okk, post, nan),
        np.where(okk, se, nan),
        np.where(okk, b_ols, nan),
        np.rint(n).astype(np.int64),
    )


def _shrink(
    beta: FloatArray,
    se: FloatArray,
    target: FloatArray | float,
    prior_sd: FloatArray | float,
    how: str,
) -> tuple[FloatArray, FloatArray]:
    """Posterior mean and SD of a beta under the prior N(target, prior_sd²)."""
    if how == "none":
        return beta, se
    with np.errstate(divide="ignore", invalid="ignore"):
        prec_data = 1.0 / (se * se)
        prec_prior = 1.0 / (prior_sd * prior_sd)
        post_var = 1.0 / (prec_data + prec_prior)
        post = post_var * (beta * prec_data + target * prec_prior)
    return post, np.sqrt(post_var)


# --- the aligned sample -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlignedSample:
    """One link's rows, one per KRX session of the grid: ``(kr_day, us_signal, gap_ret,
    day_ret)`` plus the raw parts. ``us_signal`` uses only US sessions that closed before
    08:30 KST of ``kr_day`` (and after the previous KRX close); NaN when there was no US
    session (a US holiday) or a bar is missing; the returns are NaN without the bars."""

    kr_days: tuple[date, ...]
    n_us_sessions: IntArray
    us_ret: FloatArray
    market_ret: FloatArray
    market_beta: FloatArray
    us_signal: FloatArray
    gap_ret: FloatArray
    day_ret: FloatArray

    def rows(self) -> list[tuple[date, float, float, float]]:
        """``(kr_day, us_signal, gap_ret, day_ret)`` per session."""
        return [
            (d, float(s), float(g), float(r))
            for d, s, g, r in zip(
                self.kr_days, self.us_signal, self.gap_ret, self.day_ret, strict=True
            )
        ]


def _closes_on(grid_index: Mapping[date, int], n: int, bars: Sequence[Bar]) -> FloatArray:
    out = np.full(n, np.nan)
    for b in bars:
        i = grid_index.get(b.day)
        if i is not None and b.close > 0:
            out[i] = b.close
    return out


def _compound(closes: FloatArray, lo: IntArray, hi: IntArray) -> FloatArray:
    """Close-to-close return over US sessions ``[lo, hi)``: close[hi-1] / close[lo-1] − 1
    (NaN for an empty window, the grid's first session or a missing close)."""
    ok = (hi > lo) & (lo >= 1)
    last = np.where(ok, hi - 1, 0)
    first = np.where(ok, lo - 1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = closes[last] / closes[first] - 1.0
    return np.where(ok, r, np.nan)


def _kr_returns(
    grid_index: Mapping[date, int], n: int, bars: Sequence[Bar]
) -> tuple[FloatArray, FloatArray]:
    opens = np.full(n, np.nan)
    closes = np.full(n, np.nan)
    for b in bars:
        i = grid_index.get(b.day)
        if i is not None and b.open > 0 and b.close > 0:
            opens[i] = b.open
            closes[i] = b.close
    prev = np.concatenate([[np.nan], closes[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return opens / prev - 1.0, closes / opens - 1.0


def _net(
    us_ret: FloatArray, market_ret: FloatArray, config: ModelConfig
) -> tuple[FloatArray, FloatArray]:
    """The signal net of the market and the market beta used on each row (fit on rows < t
    of the aligned US returns, so known before the cutoff)."""
    if config.net_market == "none":
        return us_ret, np.zeros_like(us_ret)
    if config.net_market == "subtract":
        return us_ret - market_ret, np.ones_like(us_ret)
    fit = asof_ols(market_ret, us_ret, config.window, config.market_min_history)
    return us_ret - fit.beta * market_ret, fit.beta


@dataclass(frozen=True, slots=True)
class _Grid:
    kr_days: tuple[date, ...]
    us_days: tuple[date, ...]
    lo: IntArray
    hi: IntArray
    kr_index: dict[date, int]
    us_index: dict[date, int]


def _grid(
    us: Mapping[str, Sequence[Bar]],
    kr: Mapping[str, Sequence[Bar]],
    end_day: date | None,
    windows: WindowsFn,
) -> _Grid:
    # bars need not be sorted: the range is taken over all of them
    kr_dates = [min(b.day for b in bars) for bars in kr.values() if bars]
    kr_dates += [max(b.day for b in bars) for bars in kr.values() if bars]
    us_dates = [min(b.day for b in bars) for bars in us.values() if bars]
    us_dates += [max(b.day for b in bars) for bars in us.values() if bars]
    if not kr_dates or not us_dates:
        raise ValueError("no bars: the model needs US and KR daily bars")
    kr_end = max(kr_dates) if end_day is None else max(end_day, max(kr_dates))
    kr_days = tuple(kr_sessions(min(kr_dates), kr_end))
    us_days = tuple(us_sessions(min(us_dates), max(us_dates)))
    win = windows(kr_days, us_days)
    lo = np.array([w[0] for w in win], dtype=np.int64)
    hi = np.array([w[1] for w in win], dtype=np.int64)
    return _Grid(
        kr_days,
        us_days,
        lo,
        hi,
        {d: i for i, d in enumerate(kr_days)},
        {d: i for i, d in enumerate(us_days)},
    )


def align(
    us_bars: Sequence[Bar],
    market_bars: Sequence[Bar] | None,
    kr_bars: Sequence[Bar],
    config: ModelConfig = ModelConfig(),
    *,
    end_day: date | None = None,
    windows: WindowsFn = us_session_windows,
) -> AlignedSample:
    """The aligned sample of one link (see :class:`AlignedSample`).

    Args:
        us_bars: the linked US instrument's daily bars.
        market_bars: the market factor's bars (None: no netting).
        kr_bars: the Korean stock's daily bars.
        config: ``window``/``net_market``/``market_min_history`` for the netting.
        end_day: extend the KRX grid to this session (the day being forecast).
        windows: which US sessions each KRX session compounds (default: the timing rule).
    """
    us_map = {"us": list(us_bars)}
    if market_bars is not None:
        us_map["market"] = list(market_bars)
    g = _grid(us_map, {"kr": list(kr_bars)}, end_day, windows)
    n_us = len(g.us_days)
    t_len = len(g.kr_days)
    us_ret = _compound(_closes_on(g.us_index, n_us, us_bars), g.lo, g.hi)
    if market_bars is None:
        market_ret = np.full(t_len, np.nan)
        signal, mbeta = us_ret, np.zeros(t_len)
    else:
        market_ret = _compound(_closes_on(g.us_index, n_us, market_bars), g.lo, g.hi)
        signal, mbeta = _net(us_ret, market_ret, config)
    gap, day = _kr_returns(g.kr_index, t_len, kr_bars)
    return AlignedSample(g.kr_days, g.hi - g.lo, us_ret, market_ret, mbeta, signal, gap, day)


# --- the panel: every link, every day ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Panel:
    """The walk-forward model over a KRX grid: row ``t`` of every array uses only what
    was known before 08:30 KST on ``kr_days[t]``; realised returns are those of row t.

    Link arrays are ``(T, L)`` in ``links`` order, stock arrays ``(T, N)`` in ``codes``
    order.
    """

    kr_days: tuple[date, ...]
    n_us_sessions: IntArray
    links: tuple[Link, ...]
    codes: tuple[str, ...]
    link_stock: IntArray
    us_ret: FloatArray
    signal: FloatArray
    beta_gap: FloatArray
    beta_gap_se: FloatArray
    beta_gap_ols: FloatArray
    beta_day: FloatArray
    beta_day_se: FloatArray
    n_gap: IntArray
    contrib_gap: FloatArray
    contrib_day: FloatArray
    score: FloatArray
    expected_day: FloatArray
    gap_ret: FloatArray
    day_ret: FloatArray
    hit_rate: FloatArray
    hit_days: IntArray
    index: dict[date, int] = field(default_factory=dict)


def build_panel(
    links: Sequence[Link],
    us: Mapping[str, Sequence[Bar]],
    kr: Mapping[str, Sequence[Bar]],
    config: ModelConfig = ModelConfig(),
    *,
    end_day: date | None = None,
    windows: WindowsFn = us_session_windows,
) -> Panel:
    """Fit every link walk-forward over the KRX sessions of the data (to ``end_day``).

    Links whose US instrument or KR stock has no bars are left out.

    Raises:
        ValueError: no bars at all, or ``net_market`` needs the market factor and it has
            no bars.
    """
    links = tuple(lk for lk in links if us.get(lk.us_symbol) and kr.get(lk.kr_code))
    need_market = config.net_market != "none"
    if need_market and not us.get(config.market_symbol):
        raise ValueError(f"the market factor {config.market_symbol} has no bars")
    used_us = {lk.us_symbol for lk in links} | ({config.market_symbol} if need_market else set())
    codes = tuple(dict.fromkeys(lk.kr_code for lk in links))
    g = _grid({s: us[s] for s in used_us}, {c: kr[c] for c in codes} or dict(kr), end_day, windows)
    t_len, n_us = len(g.kr_days), len(g.us_days)
    n_links, n_codes = len(links), len(codes)

    compounded = {s: _compound(_closes_on(g.us_index, n_us, us[s]), g.lo, g.hi) for s in used_us}
    signals: dict[str, FloatArray] = {}
    if need_market:
        market = compounded[config.market_symbol]
        for s in used_us:
            signals[s] = _net(compounded[s], market, config)[0]
    else:
        signals = compounded
    kr_ret = {c: _kr_returns(g.kr_index, t_len, kr[c]) for c in codes}
    code_index = {c: i for i, c in enumerate(codes)}

    shape = (t_len, n_links)
    us_ret = np.full(shape, np.nan)
    signal = np.full(shape, np.nan)
    b_gap_ols = np.full(shape, np.nan)
    se_gap_ols = np.full(shape, np.nan)
    b_day_ols = np.full(shape, np.nan)
    se_day_ols = np.full(shape, np.nan)
    n_gap = np.zeros(shape, dtype=np.int64)
    for j, lk in enumerate(links):
        x = signals[lk.us_symbol]
        gap, day = kr_ret[lk.kr_code]
        fg = asof_ols(x, gap, config.window, config.min_history)
        fd = asof_ols(x, day, config.window, config.min_history)
        us_ret[:, j] = compounded[lk.us_symbol]
        signal[:, j] = x
        b_gap_ols[:, j], se_gap_ols[:, j], n_gap[:, j] = fg.beta, fg.se, fg.n
        b_day_ols[:, j], se_day_ols[:, j] = fd.beta, fd.se

    def targets(b: FloatArray) -> FloatArray:
        if config.shrink != "sector":
            return np.zeros_like(b)
        out = np.zeros_like(b)
        by_symbol: dict[str, list[int]] = {}
        for j, lk in enumerate(links):
            by_symbol.setdefault(lk.us_symbol, []).append(j)
        for cols in by_symbol.values():
            block = b[:, cols]
            ok = np.isfinite(block)
            cnt = ok.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(cnt > 0, np.where(ok, block, 0.0).sum(axis=1) / cnt, 0.0)
            out[:, cols] = mean[:, None]
        return out

    prior = np.array([config.prior_for(lk.confidence) for lk in links])
    link_stock = np.array([code_index[lk.kr_code] for lk in links], dtype=np.int64)
    # each link alone, shrunk: the answer for single-link stocks and for combine="sum"
    b_gap, se_gap = _shrink(b_gap_ols, se_gap_ols, targets(b_gap_ols), prior, config.shrink)
    b_day, se_day = _shrink(b_day_ols, se_day_ols, targets(b_day_ols), prior, config.shrink)
    if config.combine == "joint":
        tg, td = targets(b_gap_ols), targets(b_day_ols)
        for c, code in enumerate(codes):
            cols = np.nonzero(link_stock == c)[0]
            if cols.size < 2:
                continue  # one link: the joint fit is the univariate one (tested)
            gap, day = kr_ret[code]
            x = signal[:, cols]
            for y, tgt, b_out, se_out in ((gap, tg, b_gap, se_gap), (day, td, b_day, se_day)):
                fit = asof_joint(
                    x,
                    y,
                    config.window,
                    config.min_history,
                    prior[cols],
                    tgt[:, cols],
                    config.shrink,
                )
                b_out[:, cols] = fit.beta
                se_out[:, cols] = fit.se
    contrib_gap = b_gap * signal
    contrib_day = b_day * signal

    score = np.zeros((t_len, n_codes))
    exp_day = np.zeros((t_len, n_codes))
    has = np.zeros((t_len, n_codes), dtype=bool)
    ok_g = np.isfinite(contrib_gap)
    ok_d = np.isfinite(contrib_day)
    for j in range(n_links):
        c = link_stock[j]
        score[:, c] += np.where(ok_g[:, j], contrib_gap[:, j], 0.0)
        exp_day[:, c] += np.where(ok_d[:, j], contrib_day[:, j], 0.0)
        has[:, c] |= ok_g[:, j]
    score = np.where(has, score, np.nan)
    exp_day = np.where(has, exp_day, np.nan)

    gap_ret = np.full((t_len, n_codes), np.nan)
    day_ret = np.full((t_len, n_codes), np.nan)
    hit_rate = np.full((t_len, n_codes), np.nan)
    hit_days = np.zeros((t_len, n_codes), dtype=np.int64)
    for c, code in enumerate(codes):
        gap, day = kr_ret[code]
        gap_ret[:, c], day_ret[:, c] = gap, day
        sc = score[:, c]
        ok = np.isfinite(sc) & np.isfinite(gap) & (sc != 0) & (gap != 0)
        hit = np.where(ok, (np.sign(sc) == np.sign(gap)).astype(np.float64), np.nan)
        hit_rate[:, c], hit_days[:, c] = _asof_mean(hit, config.window)

    return Panel(
        kr_days=g.kr_days,
        n_us_sessions=g.hi - g.lo,
        links=links,
        codes=codes,
        link_stock=link_stock,
        us_ret=us_ret,
        signal=signal,
        beta_gap=b_gap,
        beta_gap_se=se_gap,
        beta_gap_ols=b_gap_ols,
        beta_day=b_day,
        beta_day_se=se_day,
        n_gap=n_gap,
        contrib_gap=contrib_gap,
        contrib_day=contrib_day,
        score=score,
        expected_day=exp_day,
        gap_ret=gap_ret,
        day_ret=day_ret,
        hit_rate=hit_rate,
        hit_days=hit_days,
        index=g.kr_index,
    )


# --- the morning's list -----------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{x * 100:+.2f}%"


def _explain(
    drivers: Sequence[Driver], expected_gap: float, hit: float | None, hit_n: int, market: str
) -> str:
    ko_parts: list[str] = []
    en_parts: list[str] = []
    for d in drivers:
        ko_parts.append(
            f"{d.us_symbol} {_pct(d.us_return)}(시장 {market} 대비 {_pct(d.signal)}), "
            f"갭 베타 {d.beta:.2f}±{d.beta_se:.2f} → {_pct(d.contribution)}"
        )
        en_parts.append(
            f"{d.us_symbol} {_pct(d.us_return)} ({_pct(d.signal)} net of {market}), "
            f"gap beta {d.beta:.2f}±{d.beta_se:.2f} → {_pct(d.contribution)}"
        )
    hist_ko = f"과거 적중률 {hit * 100:.0f}% ({hit_n}일)" if hit is not None else "적중률 이력 없음"
    hist_en = (
        f"past hit rate {hit * 100:.0f}% ({hit_n} days)"
        if hit is not None
        else "no hit-rate history"
    )
    ko = f"예상 갭 {_pct(expected_gap)}: " + "; ".join(ko_parts) + f". {hist_ko}."
    en = f"Expected gap {_pct(expected_gap)}: " + "; ".join(en_parts) + f". {hist_en}."
    return f"{ko}\n{en}"


def recommendations_at(panel: Panel, t: int, market_symbol: str = "EWY") -> list[Recommendation]:
    """The ranked list of row ``t`` of ``panel`` (empty when no US session fed that day)."""
    if panel.n_us_sessions[t] == 0:
        return []
    day = panel.kr_days[t]
    names = {lk.kr_code: lk.kr_name for lk in panel.links}
    by_stock: dict[int, list[int]] = {}
    for j, c in enumerate(panel.link_stock):
        by_stock.setdefault(int(c), []).append(j)
    scored = [
        (float(panel.score[t, c]), c)
        for c in range(len(panel.codes))
        if math.isfinite(panel.score[t, c])
    ]
    scored.sort(key=lambda sc: (-sc[0], panel.codes[sc[1]]))
    out: list[Recommendation] = []
    for rank, (score, c) in enumerate(scored, start=1):
        drivers: list[Driver] = []
        for j in by_stock.get(c, []):
            contrib = float(panel.contrib_gap[t, j])
            if not math.isfinite(contrib):
                continue
            lk = panel.links[j]
            drivers.append(
                Driver(
                    us_symbol=lk.us_symbol,
                    us_return=float(panel.us_ret[t, j]),
                    beta=float(panel.beta_gap[t, j]),
                    contribution=contrib,
                    signal=float(panel.signal[t, j]),
                    beta_se=float(panel.beta_gap_se[t, j]),
                    beta_ols=float(panel.beta_gap_ols[t, j]),
                    beta_day=float(panel.beta_day[t, j]),
                    beta_day_se=float(panel.beta_day_se[t, j]),
                    confidence=lk.confidence,
                    history_days=int(panel.n_gap[t, j]),
                )
            )
        drivers.sort(key=lambda d: -abs(d.contribution))
        main = drivers[0]
        hit = float(panel.hit_rate[t, c])
        hit_n = int(panel.hit_days[t, c])
        hit_v = hit if math.isfinite(hit) else None
        out.append(
            Recommendation(
                kr_code=panel.codes[c],
                rank=rank,
                score=score,
                expected_gap=score,
                beta_gap=main.beta,
                beta_gap_se=main.beta_se,
                beta_day=main.beta_day,
                expected_day=float(panel.expected_day[t, c]),
                history_days=main.history_days,
                hit_rate=hit_v,
                drivers=tuple(drivers),
                explanation=_explain(drivers, score, hit_v, hit_n, market_symbol),
                day=day,
                kr_name=names.get(panel.codes[c], ""),
                hit_days=hit_n,
            )
        )
    return out


def known_before(
    day: date, us: Mapping[str, Sequence[Bar]], kr: Mapping[str, Sequence[Bar]]
) -> tuple[dict[str, list[Bar]], dict[str, list[Bar]]]:
    """What was known at 08:30 KST on ``day``: US bars of sessions that closed before
    then, KR bars dated before ``day``."""
    cutoff = cutoff_kst(day)
    closed = [u for u in us_sessions(day - timedelta(days=14), day) if us_close_kst(u) < cutoff]
    last_us = closed[-1] if closed else day - timedelta(days=15)
    us_k = {s: [b for b in bars if b.day <= last_us] for s, bars in us.items()}
    kr_k = {c: [b for b in bars if b.day < day] for c, bars in kr.items()}
    return us_k, kr_k


def recommend(
    day: date,
    links: Sequence[Link],
    us: Mapping[str, Sequence[Bar]],
    kr: Mapping[str, Sequence[Bar]],
    config: ModelConfig = ModelConfig(),
) -> list[Recommendation]:
    """The ranked watch list for KRX session ``day`` (best expected gap first).

    Uses only what was known before 08:30 KST on ``day`` (everything later is dropped
    first, see :func:`known_before`). Empty when no US session closed since the previous
    KRX session (a US holiday: no signal) or no link has ``min_history`` rows yet.

    Raises:
        ValueError: ``day`` is no KRX session, or the data is unusable (see
            :func:`build_panel`).
    """
    if not kr_sessions(day, day):
        raise ValueError(f"{day} is not a KRX session")
    us_k, kr_k = known_before(day, us, kr)
    us_k = {s: b for s, b in us_k.items() if b}
    kr_k = {c: b for c, b in kr_k.items() if b}
    if not us_k or not kr_k:
        return []
    panel = build_panel(links, us_k, kr_k, config, end_day=day)
    return recommendations_at(panel, panel.index[day], config.market_symbol)
