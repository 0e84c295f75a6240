"""The hub's monitoring page in real headless Chromium: the numbers move."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import uvicorn

from gslts_hub.app import create_app
from gslts_kiwoom.realtime import KST
from tests.conftest import CHROMIUM_ARGS
from tests.e2e.conftest import _settings
from tests.e2e.harness import Market, free_port, hub_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def hub_url(market: Market, db_url: str, tmp_path: Path) -> Iterator[str]:
    app = create_app(_settings(hub_env(market, db_url, tmp_path / "data")))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


def _number(text: str) -> int:
    digits = re.sub(r"[^0-9]", "", text)
    return int(digits) if digits else -1


def test_monitoring_page_shows_ticks_growing(hub_url: str, chromium_path: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page()
            page.goto(hub_url + "/")
            ticks = page.locator("#ticks-today")
            page.wait_for_function(
                "() => /[0-9]/.test(document.querySelector('#ticks-today').textContent)"
                " && Number(document.querySelector('#ticks-today').textContent"
                ".replace(/[^0-9]/g, '')) > 0",
                timeout=20_000,
            )
            first = _number(ticks.inner_text())
            page.wait_for_function(
                f"() => Number(document.querySelector('#ticks-today').textContent"
                f".replace(/[^0-9]/g, '')) > {first}",
                timeout=15_000,
            )
            second = _number(ticks.inner_text())
            assert second > first > 0
            rows = page.locator("#stocks-table tbody tr")
            page.wait_for_function(
                "() => document.querySelectorAll('#stocks-table tbody tr').length >= 10",
                timeout=15_000,
            )
            assert rows.count() >= 10
            assert _number(rows.first.locator("td.ticks").inner_text()) > 0
        finally:
            browser.close()


def test_monitoring_page_shows_kst_times_in_any_viewer_zone(
    hub_url: str, chromium_path: str, tmp_path: Path
) -> None:
    """A viewer in New York still sees Korean market time (KST), and a healthy hub shows
    no problem banner."""
    import httpx
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(timezone_id="America/New_York")
            page.goto(hub_url + "/")
            page.wait_for_function(
                "() => document.querySelectorAll('#events li time').length > 0", timeout=20_000
            )
            shown = page.locator("#events li time").last.inner_text()  # the oldest event
            events = httpx.get(hub_url + "/api/status").json()["events"]
            oldest = datetime.fromisoformat(events[-100:][0]["time"]).astimezone(KST)
            assert shown == oldest.strftime("%H:%M:%S")
            assert oldest.utcoffset() != ZoneInfo("America/New_York").utcoffset(oldest)
            page.wait_for_function(
                "() => document.querySelector('#journal').textContent === '정상'",
                timeout=20_000,
            )
            # a healthy hub shows no problem banner; on a loaded machine one may show a
            # moment (the writer lagging a flush): wait for it to clear, name it if not
            problems = page.locator("#problems")
            try:
                problems.wait_for(state="hidden", timeout=30_000)
            except Exception as exc:
                raise AssertionError(f"problem banner: {problems.inner_text()!r}") from exc
            # GSLTS_SCREENSHOT_DIR=docs refreshes the README's screenshot
            shots = Path(os.environ.get("GSLTS_SCREENSHOT_DIR") or tmp_path)
            page.set_viewport_size({"width": 1280, "height": 800})
            page.screenshot(path=str(shots / "hub-monitor.png"))
            assert (shots / "hub-monitor.png").stat().st_size > 10_000
        finally:
            browser.close()
