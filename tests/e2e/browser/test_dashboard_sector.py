"""The dashboard's sector page in real headless Chromium against the whole system
(``gslts run``): a planted synthetic world (``gslts_kiwoom.sim.sector_world``: every
default link's gap responds to its US instrument's overnight move) is stored through the
sector store into the system's own schema; the page then shows last night's heat map
(each instrument's move as the API computes it, red up / blue down), the ranked list in
the API's order with its explanations, the backtest with its p-values and statement, and
the link map; a row opens the trading view of its stock; a link edit saved through the
page comes back from the server, and a server validation error shows at its row.
Screenshot: ``sector.png`` in GSLTS_SCREENSHOT_DIR (``docs`` for the docs).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gslts_backend.sectors import store
from gslts_backend.sectors.calendars import kr_sessions, us_sessions
from gslts_backend.sectors.model import bars_from_rows, load_default_links
from gslts_db import make_engine
from gslts_kiwoom.sim.sector_world import make_world
from tests.conftest import missing
from tests.e2e.browser import conftest as browser_conftest
from tests.e2e.browser.conftest import DASHBOARD, System
from tests.e2e.harness import own_schema

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WAIT_MS = 90_000
#: the KRX session the page is opened for (a Tuesday: Monday's US session feeds it)
DAY = date(2026, 11, 24)
#: history: the fit needs 120 rows (plus 60 for the market beta) before it ranks
START = date(2024, 6, 3)


def _plant(db_url: str) -> None:
    """A planted world up to DAY (KR bars before it, US bars through the session feeding
    it) stored as an import would store it."""
    links = load_default_links()
    us, kr = make_world(
        "planted",
        links,
        START,
        DAY,
        seed=7,
        us_days=us_sessions(START, DAY),
        kr_days=[d for d in kr_sessions(START, DAY) if d < DAY],
    )
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            for symbol, rows in us.items():
                store.upsert_us_bars(conn, symbol, bars_from_rows(rows), "e2e-planted")
            for code, rows in kr.items():
                store.upsert_kr_bars(conn, code, bars_from_rows(rows), "e2e-planted")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def system(mysql_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """``gslts run`` as the other browser tests start it, with the planted world stored in
    its schema (the conftest's own_schema, recorded to learn the URL)."""
    if not DASHBOARD.is_file():
        missing(f"the dashboard is not built ({DASHBOARD} absent): run `make frontend`")
    urls: list[str] = []
    real = own_schema

    @contextlib.contextmanager
    def recording(url: str) -> Iterator[str]:
        with real(url) as db_url:
            urls.append(db_url)
            yield db_url

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(browser_conftest, "own_schema", recording)
        with browser_conftest.running_system(
            mysql_server_url, tmp_path_factory.mktemp("sector"), trades_per_s=10
        ) as sys_:
            _plant(urls[0])
            yield sys_


@pytest.fixture(scope="module")
def api(system: System) -> Iterator[Any]:
    with system.api() as client:
        yield client


@pytest.fixture(scope="module")
def page(browser: Any, system: System) -> Iterator[Any]:
    ctx = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="ko-KR", timezone_id="America/New_York"
    )
    pg = ctx.new_page()
    pg.set_default_timeout(WAIT_MS)
    pg.goto(system.url + "/login/")
    pg.fill("input[name=username]", system.username)
    pg.fill("input[name=password]", system.password)
    pg.click("button[type=submit]")
    pg.wait_for_url(re.compile(r"/stock/"))
    yield pg
    ctx.close()


def _pct(text: str) -> float:
    """ "+4.04%" → 0.0404."""
    return float(text.replace("%", "").replace("+", "").strip()) / 100


def test_the_heat_map_shows_last_nights_us_moves(page: Any, system: System, api: Any) -> None:
    moves = api.get("/api/sectors/us", params={"date": DAY.isoformat()})
    assert moves.status_code == 200, moves.text
    body = moves.json()
    assert body["us_sessions"] == ["2026-11-23"]
    changes = {i["symbol"]: i["change"] for i in body["items"]}
    assert sum(v is not None for v in changes.values()) >= 20

    page.goto(f"{system.url}/sector/?date={DAY.isoformat()}")
    page.wait_for_selector("[data-testid=heat-tile]")
    # the Monday NYSE close (16:00 EST) is Tuesday 06:00 in Korea
    assert page.inner_text("[data-testid=us-close]") == "11/24(화) 06:00"
    tiles = page.eval_on_selector_all(
        "[data-testid=heat-tile]",
        "els => els.map(e => ({s: e.dataset.symbol, r: e.querySelector('.ret').textContent,"
        " bg: getComputedStyle(e).backgroundColor}))",
    )
    assert {t["s"] for t in tiles} == set(changes)
    for t in tiles:
        want = changes[t["s"]]
        if want is None:
            assert t["r"] == "-"
            continue
        assert _pct(t["r"]) == pytest.approx(want, abs=0.00006), t
        r, _, b = (int(x) for x in re.findall(r"\d+", t["bg"])[:3])
        if want > 0.002:
            assert r > b, t  # red up
        elif want < -0.002:
            assert b > r, t  # blue down
    # the sectors ordered from the strongest rise to the strongest fall (market factors first)
    sectors = [changes[t["s"]] for t in tiles if t["s"] not in ("EWY", "SPY")]
    known = [v for v in sectors if v is not None]
    assert known == sorted(known, reverse=True)


def test_the_ranked_list_explains_each_stock(page: Any, system: System, api: Any) -> None:
    recs = api.get("/api/sectors/recommendations", params={"date": DAY.isoformat()})
    assert recs.status_code == 200, recs.text
    items = recs.json()["items"]
    assert len(items) >= 20

    page.wait_for_selector("[data-testid=sector-row]")
    rows = page.eval_on_selector_all(
        "[data-testid=sector-row]",
        "els => els.map(e => ({code: e.dataset.code, rank: e.dataset.rank,"
        " gap: e.querySelector('[data-testid=expected-gap]').textContent,"
        " text: e.innerText}))",
    )
    assert [r["code"] for r in rows] == [i["kr_code"] for i in items]
    top, first = rows[0], items[0]
    assert top["rank"] == "1"
    assert _pct(top["gap"]) == pytest.approx(first["expected_gap"], abs=0.00006)
    # Korean explanation first, then the drivers with their betas, history and hit rate
    assert "예상 갭" in top["text"]
    assert "Expected gap" in top["text"]
    assert first["kr_name"] in top["text"]
    assert first["drivers"][0]["us_symbol"] in top["text"]
    assert "±" in top["text"]
    assert f"{first['history_days']}일" in top["text"]
    assert "적중" in top["text"]


def test_the_backtest_shows_p_values_and_what_it_does_not_promise(page: Any) -> None:
    page.wait_for_selector("[data-testid=sector-backtest]")
    ic = page.locator("[data-testid=stat-ic-gap]")
    assert re.search(r"p[=<]0\.\d+", ic.inner_text())
    # the planted relation is found: the gap IC is significant
    assert float(ic.get_attribute("data-p") or 1) < 0.05
    assert "이론적 상한" in page.inner_text("[data-testid=stat-top-gap]")
    assert "비용 차감" in page.inner_text("[data-testid=stat-day-net]")
    statement = page.inner_text("[data-testid=bt-statement]")
    assert "약속하지 않는 것" in statement
    assert "다중검정" in statement
    assert "theoretical bound" in statement
    page.wait_for_function(
        "() => ['bt-gap-chart', 'bt-day-chart', 'bt-ic-chart'].every(id => Number("
        "document.querySelector(`[data-testid=${id}]`)?.dataset.points || 0) > 100)"
    )
    assert page.locator("[data-testid=bt-gap-chart] canvas").count() > 0
    assert page.locator("[data-testid=bt-day-chart] canvas").count() > 0
    assert page.locator("[data-testid=bt-ic-chart] canvas").count() > 0


def test_screenshot(page: Any, shots: Path) -> None:
    page.wait_for_selector("[data-testid=bt-ic-chart] canvas")
    page.screenshot(path=str(shots / "sector.png"), full_page=False)


def test_links_are_edited_and_a_server_error_shows_at_its_row(page: Any, api: Any) -> None:
    before = api.get("/api/sectors/links").json()
    link = before["items"][0]
    key = f"{link['us_symbol']}→{link['kr_code']}"
    row = page.locator(f"[data-testid=link-row][data-key='{key}']")
    new_conf = "L" if link["confidence"] != "L" else "H"
    row.locator("[data-testid=link-confidence]").select_option(new_conf)
    row.locator("[data-testid=link-rationale]").fill("e2e: 편집된 근거")
    page.click("[data-testid=links-save]")
    page.wait_for_selector("[data-testid=links-message]")
    assert "저장했습니다" in page.inner_text("[data-testid=links-message]")
    items = api.get("/api/sectors/links").json()["items"]
    after = {(i["us_symbol"], i["kr_code"]): i for i in items}
    saved = after[(link["us_symbol"], link["kr_code"])]
    assert saved["confidence"] == new_conf
    assert saved["rationale"] == "e2e: 편집된 근거"
    assert len(after) == before["count"]

    # a stock code the stock master does not know: refused by the server, shown at the row
    page.fill("[data-testid=add-us-symbol]", "SOXX")
    page.fill("[data-testid=add-kr-code]", "999999")
    page.click("[data-testid=links-add-button]")
    page.click("[data-testid=links-save]")
    bad = page.locator("[data-testid=link-row][data-key='SOXX→999999']")
    bad.locator("[data-testid=link-field-error]").wait_for()
    assert "999999" in bad.inner_text()
    assert api.get("/api/sectors/links").json()["count"] == before["count"]


def test_a_row_opens_the_trading_view(page: Any, system: System) -> None:
    page.goto(f"{system.url}/sector/?date={DAY.isoformat()}")
    row = page.locator("[data-testid=sector-row]").nth(1)
    code = row.get_attribute("data-code")
    assert code
    assert re.fullmatch(r"[0-9A-Z]{6}", code)
    row.click()
    page.wait_for_url(re.compile(rf"/stock/\?code={code}$"))
    page.wait_for_selector("[data-testid=stock-name]")
    assert code in page.url


def test_without_a_date_the_page_picks_the_session(page: Any, system: System, shots: Path) -> None:
    page.goto(system.url + "/sector/")
    page.wait_for_selector("[data-testid=sector-resolved]")
    shown = page.input_value("[data-testid=sector-date]")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", shown)
    # the planted world ends before today's session: its US moves are not there yet
    page.wait_for_selector("[data-testid=heat-missing], [data-testid=sector-no-data]")
    if page.locator("[data-testid=heat-missing]").count():
        assert "gslts sectors fetch" in page.inner_text("[data-testid=heat-missing]")
    page.screenshot(path=str(shots / "sector-default.png"))


def test_phone_width_is_stacked(browser: Any, system: System, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="ko-KR")
    try:
        pg = ctx.new_page()
        pg.set_default_timeout(WAIT_MS)
        pg.goto(system.url + "/login/")
        pg.fill("input[name=username]", system.username)
        pg.fill("input[name=password]", system.password)
        pg.click("button[type=submit]")
        pg.wait_for_url(re.compile(r"/stock/"))
        pg.goto(f"{system.url}/sector/?date={DAY.isoformat()}")
        pg.wait_for_selector("[data-testid=sector-row]")
        heat = pg.locator("[data-testid=sector-us-panel]").bounding_box()
        ranking = pg.locator("[data-testid=sector-ranking-panel]").bounding_box()
        backtest = pg.locator("[data-testid=sector-backtest-panel]").bounding_box()
        assert heat
        assert ranking
        assert backtest
        assert heat["y"] < ranking["y"] < backtest["y"]  # one column
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        pg.screenshot(path=str(shots / "sector-phone.png"), full_page=True)
    finally:
        ctx.close()
