"""The sector model: the morning's list and the 5-year walk-forward backtest.

A synthetic planted world (``gslts_kiwoom.sim.sector_world``, seed 7) over the real XNYS
and XKRX sessions of 2021-01-01 … 2025-12-31 with the whole default map (26 US ETFs plus
EWY and SPY → 88 Korean stocks, 93 links), converted to :class:`Bar` values once:

* ``sectors.recommend_ms`` — :func:`gslts_backend.sectors.recommend` for the last session,
  with all five years of history (median of ``BENCH_SECTORS_REPEAT`` = 5 calls): the
  cutoff filter, the alignment, every link's walk-forward fit and the ranked list. Target
  ≤ 1,000 ms.
* ``sectors.backtest_ms`` — :func:`gslts_backend.sectors.backtest` over the five years
  (top 5, 200 permutations: the figure the page shows). Target ≤ 10,000 ms.
  ``sectors.backtest_no_perm_ms`` is the same without the permutation test.
* ``sectors.backtest_via_recommend_est_ms`` — side by side: the naive backtest, one
  ``recommend()`` call per session (each refitting every link from scratch), estimated
  from ``BENCH_SECTORS_NAIVE_DAYS`` = 10 of them × the sessions scored.
* ``sectors.calendar_load_ms`` — the XNYS + XKRX calendars' first build in this process
  (a one-off per process, excluded from the figures above).
* ``sectors.ic_gap`` — the backtest's mean rank IC on the planted world (a check that the
  timed run did real work: below 0.1 fails the benchmark).
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import date

from gslts_backend.sectors import (
    Bar,
    bars_from_rows,
    kr_sessions,
    load_default_links,
    recommend,
    us_sessions,
)
from gslts_backend.sectors.backtest import backtest
from gslts_kiwoom.sim.sector_world import make_world
from tests.bench._runner import BenchProblem

START = date(2021, 1, 1)
END = date(2025, 12, 31)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)


def run() -> dict[str, float]:
    repeat = int(os.environ.get("BENCH_SECTORS_REPEAT", "5"))
    naive_days = int(os.environ.get("BENCH_SECTORS_NAIVE_DAYS", "10"))
    out: dict[str, float] = {}

    t0 = time.perf_counter()
    us_days = us_sessions(START, END)
    kr_days = kr_sessions(START, END)
    out["sectors.calendar_load_ms"] = _ms(t0)

    links = load_default_links()
    us_raw, kr_raw = make_world(
        "planted", links, START, END, seed=7, us_days=us_days, kr_days=kr_days
    )
    us: dict[str, list[Bar]] = {s: bars_from_rows(b) for s, b in us_raw.items()}
    kr: dict[str, list[Bar]] = {c: bars_from_rows(b) for c, b in kr_raw.items()}
    last = kr_days[-1]

    times = []
    recs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        recs = recommend(last, links, us, kr)
        times.append(_ms(t0))
    out["sectors.recommend_ms"] = statistics.median(times)
    out["sectors.recommend_stocks"] = float(len(recs))

    t0 = time.perf_counter()
    result = backtest(links, us, kr, START, END, top_n=5, permutations=200, seed=0)
    out["sectors.backtest_ms"] = _ms(t0)
    out["sectors.backtest_days"] = float(result.days)
    out["sectors.ic_gap"] = round(result.ic_gap.value, 4)

    t0 = time.perf_counter()
    backtest(links, us, kr, START, END, top_n=5, permutations=0)
    out["sectors.backtest_no_perm_ms"] = _ms(t0)

    sample = [d.day for d in result.daily[:: max(1, result.days // naive_days)]][:naive_days]
    t0 = time.perf_counter()
    for day in sample:
        recommend(day, links, us, kr)
    per_day = (time.perf_counter() - t0) * 1000 / max(1, len(sample))
    out["sectors.backtest_via_recommend_est_ms"] = round(per_day * result.days, 1)

    problems = []
    if not recs:
        problems.append("recommend() returned an empty list on the planted world")
    if result.ic_gap.value < 0.1:
        problems.append(f"sectors.ic_gap = {result.ic_gap.value:.3f} on the planted world (< 0.1)")
    if problems:
        raise BenchProblem(problems, out)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
