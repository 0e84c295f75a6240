"""What the trading view asks the backend for when it opens (in real headless Chromium).

The watchlist's change % is against each stock's 기준가: the quote's base price. It used to
ask a page of daily bars for every row *while the quote was still loading* — each one a
ka10081 backfill on a fresh backend — beside the chart's first page, which then waited
(the dashboard benchmark's chart-ready time). Now the daily bars are asked only for a
stock whose quote came without a base price.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.browser.conftest import System

WAIT_MS = 60_000
WATCH = ["000660", "035420", "005380", "035720"]


@pytest.fixture
def page(browser: Any, system: System) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="ko-KR")
    pg = ctx.new_page()
    pg.set_default_timeout(WAIT_MS)
    yield pg
    ctx.close()


def test_the_watchlist_asks_no_daily_bars_when_the_quotes_have_a_base_price(
    page: Any, system: System
) -> None:
    api = system.api()
    bases = {c: api.get(f"/api/stocks/{c}").json()["quote"]["base_price"] for c in WATCH}
    assert all(bases.values()), bases  # the simulator's quotes carry 기준가

    page.goto(system.url + "/login/")
    page.fill("input[name=username]", system.username)
    page.fill("input[name=password]", system.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/stock/"))
    page.evaluate(f"localStorage.setItem('gslts.watchlist', JSON.stringify({WATCH!r}))")

    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(system.url + "/stock/?code=005930")
    page.wait_for_selector("[data-testid=chart][data-ready='1']")
    for code in WATCH:  # every row shows its change % (so its 기준가 is known)
        page.wait_for_function(
            f"() => /%/.test(document.querySelector("
            f"'[data-testid=watchlist] li[data-code=\"{code}\"]')?.textContent ?? '')"
        )
    daily = [u for u in asked if "/api/charts/" in u and "interval=1d" in u]
    assert daily == [], daily
    assert any("/api/charts/005930" in u and "interval=1m" in u for u in asked)
    assert httpx.URL(asked[0]).host == httpx.URL(system.url).host
