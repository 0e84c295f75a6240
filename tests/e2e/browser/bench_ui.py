"""The dashboard's speed in headless Chromium against ``gslts run`` (issue #12's ``ui.*``).

* ``first_paint_ms`` — first contentful paint of the trading view (/stock/?code=005930),
  from navigation start, logged in, caches warm.
* ``chart_ready_ms`` — navigation start to the chart's first page on screen (the page
  records it: ``window.__gslts.chartReadyMs``), with a day of 1m candles (500 bars).
* ``tick_to_screen_p50_ms`` / ``_p99_ms`` — a trade made by the simulator to the commit that
  shows it as the book's last price: the page records each shown last price with its
  cumulative volume and the commit's epoch time (``window.__gslts.paints``), matched here
  to the simulator's ground truth (same machine, same clock), during a market of
  ``UI_BENCH_TRADES_PER_S`` (10,000) trades/s over 10 stocks, all 10 subscribed by the page
  (the trading view + its watchlist).
* ``long_task_max_ms`` / ``long_tasks`` — the main thread's longest task during the flood
  and how many exceeded 50 ms (PerformanceObserver ``longtask``).

Run: ``python -m tests.e2e.browser.bench_ui`` (prints the figures as JSON). It exposes
``run() -> dict[str, float]`` like the ``tests/bench`` modules; ``make bench`` runs it
through ``tests/bench/bench_ui.py`` (keys ``ui.*``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from gslts_kiwoom.krx import KST
from tests.conftest import CHROMIUM_ARGS, DEFAULT_TEST_DATABASE_URL
from tests.e2e.browser.conftest import DASHBOARD, System, running_system

CODES = ("005930", "000660", "035420", "005380", "035720",
         "051910", "006400", "068270", "105560", "055550")  # fmt: skip
TRADES_PER_S = float(os.environ.get("UI_BENCH_TRADES_PER_S", "10000"))
FLOOD_S = float(os.environ.get("UI_BENCH_FLOOD_S", "15"))

LONG_TASKS = """
window.__longtasks = [];
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push(e.duration);
  }).observe({ type: "longtask", buffered: true });
} catch (e) {}
"""


def _percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def _trade_epoch_ms(date: str, hhmmss_us: str) -> float:
    t = datetime.strptime(date + hhmmss_us[:6], "%Y%m%d%H%M%S").replace(tzinfo=KST)
    return t.timestamp() * 1000 + int(hhmmss_us[6:] or 0) / 1000


def _truth(sim_url: str, since: int) -> dict[tuple[str, int], float]:
    out: dict[tuple[str, int], float] = {}
    seq = since
    while True:
        r = httpx.get(
            sim_url + "/_sim/ground-truth", params={"since_seq": seq, "limit": 200_000}, timeout=60
        ).json()
        cols = {c: i for i, c in enumerate(r["columns"])}
        if not r["rows"]:
            return out
        for row in r["rows"]:
            out[(row[cols["code"]], row[cols["cum_volume"]])] = _trade_epoch_ms(
                str(row[cols["date"]]), str(row[cols["time"]])
            )
        seq = r["next_seq"]


def _login(page: Any, system: System) -> None:
    page.goto(system.url + "/login/")
    page.fill("input[name=username]", system.username)
    page.fill("input[name=password]", system.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/stock/"))


def measure(system: System, chromium: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="ko-KR")
            ctx.add_init_script(LONG_TASKS)
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            _login(page, system)
            page.evaluate(
                f"localStorage.setItem('gslts.watchlist', JSON.stringify({list(CODES[1:])!r}))"
            )
            page.goto(system.url + "/stock/?code=005930")
            page.wait_for_selector("[data-testid=chart][data-ready='1']")
            fcp = page.evaluate(
                "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
            )
            chart_ready = page.evaluate("window.__gslts.chartReadyMs")
            page.wait_for_function("() => (window.__gslts?.paints || []).length > 0")
            since = int(
                httpx.get(system.sim_url + "/_sim/ground-truth", params={"limit": 1}, timeout=30)
                .json()
                .get("total", 0)
            )
            page.evaluate("window.__gslts.paints = []; window.__longtasks = []")
            system.market_rate(TRADES_PER_S, CODES)
            time.sleep(FLOOD_S)  # a benchmark: the flood runs for a fixed time
            paints = page.evaluate("window.__gslts.paints")
            long_tasks = page.evaluate("window.__longtasks")
            system.market_rate(30, CODES[:3])
        finally:
            browser.close()
    truth = _truth(system.sim_url, max(0, since - 1))
    latencies = [
        p["paintedAt"] - truth[(p["code"], p["cumVolume"])]
        for p in paints
        if (p["code"], p["cumVolume"]) in truth
    ]
    return {
        "first_paint_ms": round(float(fcp), 1),
        "chart_ready_ms": float(chart_ready),
        "tick_to_screen_p50_ms": round(_percentile(latencies, 50), 1),
        "tick_to_screen_p99_ms": round(_percentile(latencies, 99), 1),
        "tick_to_screen_samples": float(len(latencies)),
        "paints_unmatched": float(len(paints) - len(latencies)),
        "long_task_max_ms": round(max(long_tasks, default=0.0), 1),
        "long_tasks": float(len(long_tasks)),
    }


def run() -> dict[str, float]:
    if not DASHBOARD.is_file():
        raise RuntimeError(f"the dashboard is not built ({DASHBOARD}): run `make frontend`")
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise RuntimeError("Chromium not installed (apt-get install chromium)")
    mysql = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    with (
        tempfile.TemporaryDirectory(prefix="gslts-ui-bench-") as tmp,
        running_system(mysql, Path(tmp), focus=CODES[:3]) as system,
    ):
        return measure(system, chromium)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
