"""The order book's market-state badges in real headless Chromium, driven by the live
stream from a simulator whose clock the test holds (the simulator runs in this process,
the hub and the backend as the processes ``make run`` starts):

* 동시호가: the simulated day (KRX clock) starts frozen at 08:29:58; when the clock runs,
  the opening call auction begins and its books reach the page: the 동시호가 badge with
  예상체결가 = the simulator's indicative price and 예상체결량; the clock is sped to the
  09:00 crossing, after which the books come without it and the badge goes — all without
  a reload;
* VI: a tight static VI band (0.5 %); a market buy walks the price through it, the page
  shows the VI badge from the ``vi`` push, a reload shows it again from the REST book, and
  the release takes it away.

Every wait is on a DOM condition, never a sleep.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gslts_db import make_engine, upgrade
from gslts_kiwoom import krx
from tests.conftest import missing
from tests.e2e.browser.conftest import DASHBOARD
from tests.e2e.harness import HubProcess, Market, free_port, hub_env, own_schema, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WAIT_MS = 60_000
CODE = "005930"
#: a trading day (Monday), two seconds before the opening call auction starts (08:30): the
#: simulator is held there until the page watches (a phase that began before the hub
#: registered its stocks would have sent its books to no one)
DAY_START = datetime(2026, 9, 28, 8, 29, 58, tzinfo=krx.KST)
VI_THRESHOLD = 0.005
VI_DURATION_S = 30.0
_PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


@dataclass
class Stack:
    market: Market
    url: str
    username: str
    password: str
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def stack(mysql_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not DASHBOARD.is_file():
        missing(f"the dashboard is not built ({DASHBOARD} absent): run `make frontend`")
    tmp = tmp_path_factory.mktemp("market-state")
    data = tmp / "data"
    market = Market(
        trades_per_s=200,
        clock="krx",
        start_time=DAY_START,
        vi_threshold=VI_THRESHOLD,
        vi_duration_s=VI_DURATION_S,
    )
    market.sim.set_time_warp(0)  # held at 08:29:58 until the page watches
    market.sim.market.set_trade_codes([CODE, "000660", "035420"])
    market.start()
    with own_schema(mysql_server_url) as db_url:
        engine = make_engine(db_url)
        upgrade(engine)
        engine.dispose()
        hub = HubProcess(hub_env(market, db_url, data), free_port(), tmp / "hub.log").start(60)
        port = free_port()
        env = {k: os.environ[k] for k in _PASS_ENV if k in os.environ}
        env.update(hub_env(market, db_url, data))
        env.update(BACKEND_PORT=str(port), HUB_URL=hub.url, LOG_LEVEL="INFO")
        log = tmp / "backend.log"
        cwd = tmp / "backend-cwd"
        cwd.mkdir()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gslts_backend"],
                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            pw_file = data / "admin-password.txt"

            def up() -> bool:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    h = httpx.get(url + "/api/health", timeout=5)
                    return h.status_code == 200 and pw_file.exists()
                return False

            assert wait_for(up, 180), log.read_text(errors="replace")[-4000:]
            user, password = pw_file.read_text().split("\n")[:2]
            s = Stack(market, url, user.strip(), password.strip(), log)
            with _api(s) as api:

                def master() -> bool:
                    r = api.get("/api/stocks/status")
                    return r.status_code == 200 and r.json().get("state") == "ok"

                assert wait_for(master, 120), s.tail()
            yield s
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            hub.terminate()
            market.stop()


def _api(s: Stack) -> httpx.Client:
    r = httpx.post(
        s.url + "/api/auth/login",
        json={"username": s.username, "password": s.password, "token": "bearer"},
        timeout=10,
    )
    r.raise_for_status()
    return httpx.Client(
        base_url=s.url, headers={"Authorization": f"Bearer {r.json()['token']}"}, timeout=30
    )


@pytest.fixture(scope="module")
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="ko-KR")
    pg = ctx.new_page()
    pg.set_default_timeout(WAIT_MS)
    pg.goto(stack.url + f"/stock/?code={CODE}")
    pg.wait_for_url(re.compile(r"/login/"))
    pg.fill("input[name=username]", stack.username)
    pg.fill("input[name=password]", stack.password)
    pg.click("button[type=submit]")
    pg.wait_for_url(re.compile(rf"/stock/\?code={CODE}"))
    pg.wait_for_function(
        "() => document.querySelector('[data-testid=ws-state]')?.textContent === '실시간'"
    )
    pg.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=bid-price]')]"
        ".filter(e => /[0-9]/.test(e.textContent)).length === 10"
    )
    yield pg
    ctx.close()


def _int(text: str) -> int:
    digits = re.sub(r"[^0-9]", "", text)
    return int(digits) if digits else 0


def test_the_opening_auction_shows_live_with_its_expected_price_and_ends_at_the_cross(
    page: Any, stack: Stack
) -> None:
    sim = stack.market.sim
    assert page.locator("[data-testid=auction-badge]").count() == 0  # frozen: no auction yet
    sim.set_time_warp(1)  # the auction's books go out
    try:
        page.locator("[data-testid=auction-badge]").wait_for()
    except Exception as exc:
        with _api(stack) as api:
            book = api.get(f"/api/orderbook/{CODE}").json()
            health = api.get("/api/health").json()
        raise AssertionError(
            f"phase {sim.market.phase_code!r} auction {sim.market.in_auction}; book {book}; "
            f"health {health}; backend log {stack.tail()[-1500:]}"
        ) from exc
    page.locator("[data-testid=expected-price]").wait_for()
    indicative = sim.market.state(CODE).last  # nothing trades during the call
    assert sim.market.in_auction
    assert _int(page.inner_text("[data-testid=expected-price]")) == indicative
    assert _int(page.inner_text("[data-testid=expected-qty]")) > 0
    assert "동시호가" in page.inner_text("[data-testid=orderbook] .panel-title")
    # to the 09:00 crossing fast (no trades in a call), then the market at its pace
    sim.set_time_warp(100)
    assert wait_for(lambda: sim.market.phase_code == "3", 60, poll=0.02), sim.market.phase_code
    sim.set_time_warp(1)
    page.wait_for_function("() => !document.querySelector('[data-testid=auction-badge]')")
    assert page.locator("[data-testid=expected]").count() == 0
    assert not sim.market.in_auction


def test_a_vi_shows_live_and_after_a_reload_and_ends_with_its_release(
    page: Any, stack: Stack
) -> None:
    sim = stack.market.sim
    with sim.lock:
        st = sim.market.state(CODE)
        ref = st.vi_ref or st.base_price
        over = ref * (1 + 2 * VI_THRESHOLD)
        # a market buy taking every ask up to twice the band: it trades through the band
        qty = sum(lv.qty for lv in st.asks if lv.price <= over) + 1
        in_vi = st.vi_until is not None
    with _api(stack) as api:
        cash = api.get("/api/account").json()["orderable_cash"]
        if not in_vi:  # (the market may have moved through the band on its own already)
            assert qty * krx.price_limits(st.base_price)[1] < cash, (qty, cash)
            r = api.post(
                "/api/orders",
                json={"stock_code": CODE, "side": "buy", "quantity": qty,
                      "order_type": "market", "venue": "KRX",
                      "client_order_id": f"test-vi-{uuid.uuid4()}"},
            )  # fmt: skip
            assert r.status_code in (200, 201, 202), r.text
    badge = page.locator("[data-testid=vi-badge]")
    badge.wait_for()  # the /ws vi push
    text = badge.inner_text()
    assert text.startswith("VI"), text
    assert "해제" in text  # the announced release time
    with sim.lock:
        vi_price = sim.market.state(CODE).vi_ref
    assert f"{vi_price:,}원" in text, (text, vi_price)
    page.reload()  # the REST book carries the state: shown again before any push
    page.locator("[data-testid=vi-badge]").wait_for()
    # released after VI_DURATION_S of market time: the badge goes
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=vi-badge]')",
        timeout=int(VI_DURATION_S * 1000) + WAIT_MS,
    )
    with sim.lock:
        released = sim.market.state(CODE)
        # released (or, the market having walked through the new band already, a new VI)
        assert released.vi_until is None or released.vi_ref != vi_price
