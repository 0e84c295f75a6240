"""A synthetic world of US sector ETFs and linked Korean stocks (daily bars), for the
sector model's tests and benchmarks, and for the simulator's US sector feed later.

Standard library only (the simulator package stays light): pass the session lists in
(``us_days`` NYSE sessions, ``kr_days`` KRX sessions; weekdays when omitted).

**US side.** Per US session ``k``: the market factor ``EWY`` returns ``m_k`` (sd 1.2 %),
``SPY`` = 0.55 m + own noise, each linked instrument ``j`` returns
``b_j·m_k + e_jk`` (``b_j`` in 0.7–1.3, ``e`` sd 0.8–2 %).

**Timing** (the rule the model must follow, implemented here independently with
:mod:`zoneinfo`): KRX session ``d`` is fed by the US sessions that closed (16:00 New York)
after the previous KRX session's close (15:30 KST) and before 08:30 KST on ``d``.
``E_jd`` = the instrument's return compounded over those sessions minus ``b_j`` × the
market's compounded over the same sessions (the move net of the market).

**Kinds.**

* ``"planted"``: stock ``i``'s gap (previous close → open) on ``d`` is
  ``a_i·M_d + Σ_links β_l·E_jd + noise`` (``β_l`` drawn in ``gap_beta``, see
  :func:`planted_betas`; ``M_d`` the market's compounded return), the day session
  (open → close) ``day_beta·Σ_links E_jd + common + noise`` (``day_beta`` ≈ 0).
* ``"none"``: the Korean stocks are independent of the US (a Korean common factor only).
* ``"reversed"``: the Korean stocks are independent of the US, but the Korean close-to-close
  return of each session drives the US session of the *same calendar date*, which closes
  after it (``e_jk += reverse_beta × mean close-to-close return of j's linked stocks``):
  the wrong direction in time. A model that peeks one US session ahead sees a strong
  "relation"; one that respects the timing sees nothing. The look-ahead canary.

Everything is deterministic for a given ``seed`` (string-seeded :class:`random.Random`).
Bars are ``(day, open, high, low, close, volume)`` tuples, oldest first.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from gslts_kiwoom.krx import KST

__all__ = [
    "MARKET_SYMBOLS",
    "BarTuple",
    "WorldKind",
    "link_pairs",
    "make_world",
    "planted_betas",
    "session_windows",
]

BarTuple = tuple[date, float, float, float, float, int]
WorldKind = Literal["planted", "none", "reversed"]
#: the market factors every world includes: EWY (the one the model nets) and SPY
MARKET_SYMBOLS = ("EWY", "SPY")

_NY = ZoneInfo("America/New_York")
_KST = KST  # the one definition (gslts_kiwoom.krx)


def link_pairs(links: Iterable[Any]) -> list[tuple[str, str]]:
    """``(us_symbol, kr_code)`` of each link: objects with those attributes, mappings with
    those keys, or 2-tuples."""
    out: list[tuple[str, str]] = []
    for lk in links:
        if hasattr(lk, "us_symbol"):
            out.append((str(lk.us_symbol), str(lk.kr_code)))
        elif isinstance(lk, dict):
            out.append((str(lk["us_symbol"]), str(lk["kr_code"])))
        else:
            us, kr = lk
            out.append((str(us), str(kr)))
    return out


def planted_betas(
    links: Iterable[Any], seed: int, gap_beta: tuple[float, float] = (0.1, 0.25)
) -> dict[tuple[str, str], float]:
    """The gap beta planted for each link by :func:`make_world` with the same arguments."""
    out: dict[tuple[str, str], float] = {}
    for us, kr in link_pairs(links):
        rng = random.Random(f"sector-world:{seed}:beta:{us}:{kr}")  # noqa: S311 (simulation)
        out[(us, kr)] = rng.uniform(*gap_beta)
    return out


def _weekdays(start: date, end: date) -> list[date]:
    days: list[date] = []
    d = start
    while d <= end:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def _previous_weekday(d: date) -> date:
    d -= timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


def session_windows(kr_days: Sequence[date], us_days: Sequence[date]) -> list[list[int]]:
    """For each KRX session, the indices into ``us_days`` of the US sessions it compounds
    (16:00 New York close after the previous KRX session's 15:30 KST close and before
    08:30 KST on the day; the first session's previous one is taken as the weekday
    before). Ignores early closes and 10:00 opens, which never move a US session across
    either bound."""
    closes = [datetime.combine(u, time(16, 0), _NY).astimezone(UTC) for u in us_days]
    out: list[list[int]] = []
    for i, d in enumerate(kr_days):
        prev = kr_days[i - 1] if i else _previous_weekday(d)
        after = datetime.combine(prev, time(15, 30), _KST).astimezone(UTC)
        before = datetime.combine(d, time(8, 30), _KST).astimezone(UTC)
        lo = bisect.bisect_right(closes, after)
        hi = bisect.bisect_left(closes, before)
        out.append(list(range(lo, max(lo, hi))))
    return out


def _bar(rng: random.Random, day: date, o: float, c: float, volume: float) -> BarTuple:
    hi = max(o, c) * (1 + abs(rng.gauss(0, 0.004)))
    lo = min(o, c) * (1 - abs(rng.gauss(0, 0.004)))
    return (day, round(o, 6), round(hi, 6), round(lo, 6), round(c, 6), int(volume))


def make_world(
    kind: WorldKind,
    links: Iterable[Any],
    start: date,
    end: date,
    seed: int = 0,
    gap_beta: tuple[float, float] = (0.1, 0.25),
    day_beta: float = 0.0,
    *,
    us_days: Sequence[date] | None = None,
    kr_days: Sequence[date] | None = None,
    reverse_beta: float = 0.5,
) -> tuple[dict[str, list[BarTuple]], dict[str, list[BarTuple]]]:
    """Daily bars of the linked US instruments (plus EWY, SPY) and Korean stocks.

    Args:
        kind: ``"planted"``, ``"none"`` or ``"reversed"`` (module docstring).
        links: the link map (objects with ``us_symbol``/``kr_code``, or pairs).
        start, end: the date range (inclusive).
        seed: everything is a function of it.
        gap_beta: range the planted gap betas are drawn from.
        day_beta: the day-session response to the net US signal (planted world).
        us_days, kr_days: NYSE / KRX sessions to use (filtered to the range); weekdays
            when None.
        reverse_beta: how strongly the Korean session drives the following US session
            (reversed world).

    Returns:
        ``(us, kr)``: symbol → bars and code → bars, each ``(day, o, h, l, c, volume)``.
    """
    if kind not in ("planted", "none", "reversed"):
        raise ValueError(f"unknown world kind {kind!r}")
    pairs = link_pairs(links)
    us_list = [d for d in (us_days or _weekdays(start, end)) if start <= d <= end]
    kr_list = [d for d in (kr_days or _weekdays(start, end)) if start <= d <= end]
    symbols = list(dict.fromkeys(us for us, _ in pairs if us not in MARKET_SYMBOLS))
    codes = list(dict.fromkeys(kr for _, kr in pairs))
    betas = planted_betas(pairs, seed, gap_beta)
    rng = random.Random(f"sector-world:{seed}:{kind}")  # noqa: S311 (simulation)

    b_mkt = {s: rng.uniform(0.7, 1.3) for s in symbols}
    sd_own = {s: rng.uniform(0.008, 0.02) for s in symbols}
    a_kr = {c: rng.uniform(0.3, 0.9) for c in codes}
    sd_gap = {c: rng.uniform(0.006, 0.012) for c in codes}
    sd_day = {c: rng.uniform(0.012, 0.025) for c in codes}

    n_us, n_kr = len(us_list), len(kr_list)
    m = [rng.gauss(0.0003, 0.012) for _ in range(n_us)]
    spy = [0.55 * x + rng.gauss(0.0004, 0.008) for x in m]
    e = {s: [rng.gauss(0.0, sd_own[s]) for _ in range(n_us)] for s in symbols}
    kr_common_gap = [rng.gauss(0.0, 0.006) for _ in range(n_kr)]
    kr_common_day = [rng.gauss(0.0, 0.008) for _ in range(n_kr)]
    gap_noise = {c: [rng.gauss(0.0, sd_gap[c]) for _ in range(n_kr)] for c in codes}
    day_noise = {c: [rng.gauss(0.0, sd_day[c]) for _ in range(n_kr)] for c in codes}

    windows = session_windows(kr_list, us_list)
    links_of: dict[str, list[tuple[str, float]]] = {c: [] for c in codes}
    stocks_of: dict[str, list[str]] = {s: [] for s in symbols}
    for us, kr in pairs:
        if us in stocks_of:
            links_of[kr].append((us, betas[(us, kr)]))
            stocks_of[us].append(kr)

    gap: dict[str, list[float]] = {c: [0.0] * n_kr for c in codes}
    day: dict[str, list[float]] = {c: [0.0] * n_kr for c in codes}

    def us_returns() -> dict[str, list[float]]:
        return {s: [b_mkt[s] * m[k] + e[s][k] for k in range(n_us)] for s in symbols}

    def compound(rets: Sequence[float], idx: Sequence[int]) -> float:
        g = 1.0
        for k in idx:
            g *= 1.0 + rets[k]
        return g - 1.0

    if kind == "planted":
        r = us_returns()
        for i, win in enumerate(windows):
            big_m = compound(m, win)
            for c in codes:
                drive = 0.0
                day_drive = 0.0
                for us, beta in links_of[c]:
                    net = compound(r[us], win) - b_mkt[us] * big_m
                    drive += beta * net
                    day_drive += day_beta * net
                gap[c][i] = a_kr[c] * big_m + drive + kr_common_gap[i] + gap_noise[c][i]
                day[c][i] = day_drive + kr_common_day[i] + day_noise[c][i]
    else:
        for i in range(n_kr):
            for c in codes:
                gap[c][i] = a_kr[c] * kr_common_gap[i] + gap_noise[c][i]
                day[c][i] = kr_common_day[i] + day_noise[c][i]
        if kind == "reversed":
            kr_index = {d: i for i, d in enumerate(kr_list)}
            for k, u in enumerate(us_list):
                same_day = kr_index.get(u)
                if same_day is None:
                    continue
                for s in symbols:
                    linked = stocks_of[s]
                    if linked:
                        cc = [(1 + gap[c][same_day]) * (1 + day[c][same_day]) - 1 for c in linked]
                        e[s][k] += reverse_beta * sum(cc) / len(cc)

    us_out: dict[str, list[BarTuple]] = {}
    series = {"EWY": m, "SPY": spy, **us_returns()}
    for s, rets in series.items():
        price = rng.uniform(50, 200)
        bars: list[BarTuple] = []
        for k, u in enumerate(us_list):
            o = price * (1 + rng.gauss(0, 0.002))
            price *= 1 + rets[k]
            bars.append(_bar(rng, u, o, price, rng.uniform(1e5, 5e6)))
        us_out[s] = bars

    kr_out: dict[str, list[BarTuple]] = {}
    for c in codes:
        close = rng.uniform(10_000, 100_000)
        bars = []
        for i, d in enumerate(kr_list):
            o = close * (1 + gap[c][i])
            close = o * (1 + day[c][i])
            bars.append(_bar(rng, d, o, close, rng.uniform(1e4, 1e6)))
        kr_out[c] = bars
    return us_out, kr_out
