"""The dashboard's trading features in real headless Chromium against ``gslts run``, each
driven through the screen and checked against the backend's own answer:

* the one-click order mode of the book: off by default, nothing sent until it is opened
  *and* armed; the fat-finger limits (tick distance, quantity, amount) refuse before any
  request; an armed click places one limit order at the row's price;
* "이 종목 전부 취소" cancels every open order of the stock and leaves the others;
* a partial fill shows live: with the simulated clock stopped (``POST /_sim/clock``, so
  the book holds still) a limit buy at the best ask for more than that level holds fills
  exactly the level, and the row turns 부분체결 with that filled quantity without a reload;
* the quantity presets on a 현금 / 최대 basis (the orderable quantity of the price typed in);
* two devices (two browser contexts, one user): an order placed on one shows in the
  other's open orders, a fill in its positions, a cancel on the other back on the first.

Every wait is on a DOM condition or an API answer, never a sleep.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gslts_common.kiwoom_client import make_kiwoom_client
from gslts_common.settings import Settings
from gslts_kiwoom import krx
from tests.e2e.browser.conftest import System
from tests.e2e.harness import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WAIT_MS = 60_000
CODE = "005930"
OTHER = "000660"
OPEN_STATES = ("pending", "accepted", "unknown", "partially_filled")
ORDERABLE = re.compile(r"/api/account/orderable\?")


def _int(text: str) -> int:
    sign = -1 if text.strip().startswith("-") else 1
    digits = re.sub(r"[^0-9]", "", text)
    return sign * int(digits) if digits else 0


def _ticks(a: int, b: int) -> int:
    """KRX ticks from ``a`` to ``b`` (absolute, counted across band edges)."""
    lo, hi = min(a, b), max(a, b)
    n = 0
    while lo < hi:
        lo = krx.tick_up(lo)
        n += 1
    return n


def _new_context(browser: Any, **kw: Any) -> Any:
    ctx = browser.new_context(
        viewport=kw.pop("viewport", {"width": 1920, "height": 1080}), locale="ko-KR", **kw
    )
    return ctx


def _login(pg: Any, system: System, code: str = CODE) -> None:
    pg.goto(system.url + f"/stock/?code={code}")
    pg.wait_for_url(re.compile(r"/login/"))
    pg.fill("input[name=username]", system.username)
    pg.fill("input[name=password]", system.password)
    pg.click("button[type=submit]")
    pg.wait_for_url(re.compile(rf"/stock/\?code={code}"))
    pg.wait_for_function(
        "() => document.querySelector('[data-testid=ws-state]')?.textContent === '실시간'"
    )
    _book_filled(pg)
    _order_panel_loaded(pg)


def _book_filled(pg: Any) -> None:
    for side in ("ask", "bid"):
        pg.wait_for_function(
            "(s) => [...document.querySelectorAll(`[data-testid=${s}-price]`)]"
            ".filter(e => /[0-9]/.test(e.textContent)).length === 10",
            arg=side,
        )
    pg.wait_for_function(
        "() => /[0-9]/.test(document.querySelector('[data-testid=last-price]')?.textContent)"
    )
    # 기준가 is known (the book shows each level's %): 상한가/하한가 work from here on
    pg.locator("[data-testid=bid-price] .pct").first.wait_for()


def _order_panel_loaded(pg: Any) -> None:
    pg.locator("[data-testid=order-panel]").wait_for()
    pg.wait_for_function(
        "() => !document.querySelector('[data-testid=order-panel]')"
        ".textContent.includes('불러오는 중')"
    )
    if pg.locator("[data-testid=order-panel] [data-testid=orders-not-ready]").count():
        pytest.fail("the orders API is absent: these tests need it")


@pytest.fixture(scope="module")
def api(system: System) -> Iterator[httpx.Client]:
    with system.api() as client:
        yield client


@pytest.fixture(scope="module")
def kiwoom(system: System) -> Iterator[Any]:
    """A Kiwoom client of the simulator (the same account the backend trades)."""
    settings = Settings(
        _env_file=None,
        kiwoom_mode="sim",
        sim_port=int(system.sim_url.rsplit(":", 1)[1]),
        data_dir=system.data_dir / "test-client-trading",
        redis_url=None,
    )
    client = make_kiwoom_client(settings)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def page(browser: Any, system: System) -> Iterator[Any]:
    ctx = _new_context(browser)
    pg = ctx.new_page()
    pg.set_default_timeout(WAIT_MS)
    _login(pg, system)
    yield pg
    ctx.close()


def _orders(api: httpx.Client, status: str = "all", code: str | None = None) -> list[Any]:
    params = {"status": status, "limit": "100"}
    if code:
        params["stock_code"] = code
    r = api.get("/api/orders", params=params)
    r.raise_for_status()
    return list(r.json()["orders"])


def _place(api: httpx.Client, **order: Any) -> dict[str, Any]:
    body = {"venue": "KRX", "stop_price": None, "client_order_id": f"test-{uuid.uuid4()}"}
    body.update(order)
    r = api.post("/api/orders", json=body)
    assert r.status_code in (200, 201, 202), r.text
    placed: dict[str, Any] = r.json()
    return placed


def _lower_limit(kiwoom: Any, code: str) -> int:
    """The stock's 하한가 as Kiwoom says it (ka10001)."""
    return int(kiwoom.get_quote(code).lower_limit)


def _cancel_open(api: httpx.Client) -> None:
    for o in _orders(api, "open"):
        if o["actions"]["cancel"]:
            api.delete(f"/api/orders/{o['id']}")
    assert wait_for(lambda: not _orders(api, "open"), 60), _orders(api, "open")


def _state(api: httpx.Client, order_id: Any) -> dict[str, Any]:
    return next(o for o in _orders(api) if o["id"] == order_id)


def _row(pg: Any, order_id: Any) -> Any:
    return pg.locator(f"[data-testid=open-orders] tr[data-order-id='{order_id}']")


def _message(pg: Any) -> str:
    loc = pg.locator("[data-testid=oneclick-message]")
    return str(loc.inner_text()) if loc.count() else ""


def _refused(pg: Any, phrase: str) -> None:
    """The one-click message is a refusal saying ``phrase``."""
    try:
        pg.wait_for_function(
            "(w) => document.querySelector('[data-testid=oneclick-message].error')"
            "?.textContent.includes(w)",
            arg=phrase,
        )
    except Exception as exc:
        raise AssertionError(f"not refused with {phrase!r}: {_message(pg)!r}") from exc


def _click_cell(pg: Any, side: str, pick: str) -> dict[str, Any]:
    """Click the 잔량 cell of one book row (``side`` ask → sells, bid → buys), chosen in the
    page in the same turn as the last price it is judged against is read: ``pick`` is
    ``far`` (the level farthest from the last price) or ``near`` (the closest)."""
    result: dict[str, Any] = pg.evaluate(
        """([side, pick]) => {
          const last = Number(document.querySelector('[data-testid=last-price]')
            .textContent.replace(/[^0-9]/g, ''));
          const rows = [...document.querySelectorAll(`[data-testid=${side}-price]`)]
            .map(td => ({td, price: Number((td.firstChild?.textContent || '')
              .replace(/[^0-9]/g, ''))}))
            .filter(r => r.price > 0);
          rows.sort((a, b) => Math.abs(a.price - last) - Math.abs(b.price - last));
          const row = pick === 'near' ? rows[0] : rows[rows.length - 1];
          const cell = row.td.parentElement.querySelector(
            side === 'ask' ? 'td.ask-qty' : 'td.bid-qty');
          cell.click();
          return {price: row.price, last};
        }""",
        [side, pick],
    )
    return result


def _sim_clock(system: System, warp: float) -> None:
    """Set the simulated clock's speed; stopping it (0) returns once the market has made
    its last step up to the stopped time (a step under way may still trade before)."""
    r = httpx.post(system.sim_url + "/_sim/clock", json={"time_warp": warp}, timeout=10)
    r.raise_for_status()
    if warp == 0:
        stopped = r.json()["now"]

        def caught_up() -> bool:
            state = httpx.get(system.sim_url + "/_sim/state", timeout=10).json()
            return bool(state["now"] == stopped)

        assert wait_for(caught_up, 30), stopped


# --- one-click ---------------------------------------------------------------------------


def test_one_click_is_off_by_default_must_be_armed_and_refuses_fat_fingers(
    page: Any, system: System, api: httpx.Client
) -> None:
    _cancel_open(api)
    before = {o["id"] for o in _orders(api)}
    _sim_clock(system, 0)  # the book holds still: a click's row is the row judged
    try:
        toggle = page.locator("[data-testid=oneclick-toggle]")
        assert not toggle.is_checked()  # off by default
        assert page.locator("table.book-armed").count() == 0
        _click_cell(page, "bid", "near")  # off: a click on a 잔량 cell does nothing
        # the browser's own, tighter limits (read when the mode is opened)
        page.evaluate(
            "() => localStorage.setItem('gslts.oneclick.limits', JSON.stringify({maxTicks: 5}))"
        )
        toggle.check()
        limits = page.locator("[data-testid=oneclick-limits]").inner_text()
        assert limits == "한도 5호가 · 1,000주 · 10,000,000원", limits
        arm = page.locator("[data-testid=oneclick-arm]")
        assert arm.inner_text() == "활성화"
        assert page.locator("table.book-armed").count() == 0
        _click_cell(page, "bid", "near")  # opened but not armed: still nothing
        assert _message(page) == ""
        arm.click()
        page.locator("table.book-armed").wait_for()
        assert "해제" in arm.inner_text()
        qty = page.locator("[data-testid=oneclick-qty]")

        # tick distance: the farthest ask is ≥ 9 ticks from any last price inside the book
        qty.fill("1")
        far = _click_cell(page, "ask", "far")
        assert _ticks(far["price"], far["last"]) > 5, far
        _refused(page, "호가 떨어진")
        # quantity
        qty.fill("1001")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=oneclick-qty]').value === '1001'"
        )
        _click_cell(page, "bid", "near")
        _refused(page, "수량 한도")
        # amount: more than 10,000,000원 in fewer than 1,000 shares
        last = _int(page.inner_text("[data-testid=last-price]"))
        n = math.ceil(10_000_001 / krx.tick_down(last, 6))  # any row within the 5 ticks
        assert n <= 1000, last
        qty.fill(str(n))
        page.wait_for_function(
            "(n) => document.querySelector('[data-testid=oneclick-qty]').value === String(n)", arg=n
        )
        _click_cell(page, "bid", "near")
        _refused(page, "금액 한도")
        assert {o["id"] for o in _orders(api)} == before  # nothing refused was sent

        # an armed click within the limits: one limit buy of 1 at that row's price
        qty.fill("1")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=oneclick-qty]').value === '1'"
        )
        near = _click_cell(page, "bid", "near")
        assert _ticks(near["price"], near["last"]) <= 5, near
        want = f"매수 1주 @ {near['price']:,}"
        page.wait_for_function(
            "(w) => document.querySelector('[data-testid=oneclick-message].ok')"
            "?.textContent.includes(w)",
            arg=want,
        )
        new = [o for o in _orders(api) if o["id"] not in before]
        assert len(new) == 1, new  # the unarmed and refused clicks sent nothing
        order = new[0]
        assert (order["side"], order["quantity"], order["price"]) == ("buy", 1, near["price"])
        assert order["order_type"] == "limit"
        # it shows in the open orders (or, filled meanwhile, in the 체결 tab)
        assert order["state"] in OPEN_STATES  # nothing trades: it rests
        _row(page, order["id"]).wait_for()
        arm.click()  # disarmed: the frame goes
        page.wait_for_function("() => !document.querySelector('table.book-armed')")
        toggle.uncheck()
        assert page.locator("[data-testid=oneclick-qty]").count() == 0
        _cancel_open(api)
    finally:
        _sim_clock(system, 1)


# --- cancel-all --------------------------------------------------------------------------


def test_cancel_all_cancels_every_open_order_of_the_stock_only(
    page: Any, api: httpx.Client, kiwoom: Any
) -> None:
    _cancel_open(api)
    lower = _lower_limit(kiwoom, CODE)
    mine = [
        _place(api, stock_code=CODE, side="buy", quantity=q, order_type="limit", price=lower)
        for q in (1, 2, 3)
    ]
    other = _place(
        api, stock_code=OTHER, side="buy", quantity=1, order_type="limit",
        price=_lower_limit(kiwoom, OTHER),
    )  # fmt: skip
    for o in [*mine, other]:
        _row(page, o["id"]).wait_for()  # pushed to the page (no reload)
    button = page.locator("[data-testid=cancel-all]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=cancel-all]')?.textContent.includes('(3)')"
    )
    button.click()
    page.wait_for_function(
        "(ids) => ids.every(id => { const r = document.querySelector("
        "`[data-testid=open-orders] tr[data-order-id='${id}']`);"
        " return !r || r.dataset.state === 'cancelled'; })",
        arg=[str(o["id"]) for o in mine],
    )
    assert page.locator("[data-testid=cancel-all]").count() == 0  # none left to cancel
    assert _row(page, other["id"]).get_attribute("data-state") in OPEN_STATES
    assert wait_for(lambda: all(_state(api, o["id"])["state"] == "cancelled" for o in mine), 60)
    assert _state(api, other["id"])["state"] in OPEN_STATES  # another stock's order stays
    _cancel_open(api)


# --- partial fill ------------------------------------------------------------------------


def test_a_partial_fill_shows_live(
    page: Any, system: System, api: httpx.Client, kiwoom: Any
) -> None:
    _cancel_open(api)
    _sim_clock(system, 0)  # the market stands still: the book cannot move under the order
    try:
        cash = api.get("/api/account").json()["orderable_cash"]
        book = kiwoom.get_order_book(CODE)
        best = book.asks[0]
        extra = 5
        qty = best.qty + extra
        assert qty * best.price * 1.01 < cash, (best, cash)
        order = _place(
            api, stock_code=CODE, side="buy", quantity=qty, order_type="limit", price=best.price
        )
        row = _row(page, order["id"])
        # live: the row turns 부분체결 with exactly the level's quantity filled
        try:
            page.wait_for_function(
                "([id, filled]) => { const r = document.querySelector("
                "`[data-testid=open-orders] tr[data-order-id='${id}']`);"
                " return !!r && r.dataset.state === 'partially_filled'"
                " && Number(r.children[6].textContent.replace(/[^0-9]/g, '')) === filled; }",
                arg=[str(order["id"]), best.qty],
            )
        except Exception as exc:
            raise AssertionError(
                f"placed {order}; book {book.asks[:3]}; now {_state(api, order['id'])}; "
                f"rows {page.inner_text('[data-testid=open-orders]')!r}"
            ) from exc
        assert row.locator("[data-testid=order-state]").inner_text() == "부분체결"
        assert _int(row.locator("td").nth(5).inner_text()) == qty
        state = _state(api, order["id"])
        assert (state["state"], state["filled_quantity"]) == ("partially_filled", best.qty)
        assert state["open_quantity"] == extra
        # the filled part is in the positions, the rest can be cancelled from the row
        page.locator(f"[data-testid=positions-table] tr[data-code='{CODE}']").wait_for()
        row.locator("[data-testid=order-cancel]").click()
        page.wait_for_function(
            "(id) => { const r = document.querySelector("
            "`[data-testid=open-orders] tr[data-order-id='${id}']`);"
            " return !r || r.dataset.state === 'cancelled'; }",
            arg=str(order["id"]),
        )
        assert wait_for(lambda: _state(api, order["id"])["state"] == "cancelled", 60)
        assert _state(api, order["id"])["filled_quantity"] == best.qty
    finally:
        _sim_clock(system, 1)


# --- presets on a 현금 / 최대 basis -----------------------------------------------------


def test_quantity_presets_on_a_cash_or_a_max_basis(page: Any, api: httpx.Client) -> None:
    """The simulator's account is a cash account (최대 = 현금), so its answer is widened in
    the browser to a margin account's (최대 = 2 × 현금 + 7): the presets must follow the
    basis chosen, each on the backend's quantity for the price typed in."""
    asked: list[str] = []

    def as_margin(route: Any) -> None:
        asked.append(route.request.url)
        body = json.loads(route.fetch().text())
        body["max_qty"] = body["cash_qty"] * 2 + 7
        route.fulfill(json=body)

    page.route(ORDERABLE, as_margin)
    try:
        page.locator("[data-testid=order-panel] .tabs button.buy").click()
        page.select_option("[data-testid=order-type]", "limit")
        page.click("[data-testid=order-panel] button:has-text('하한가')")
        price = _int(page.input_value("[data-testid=order-price]"))
        assert price > 0
        truth = api.get("/api/account/orderable", params={"code": CODE, "price": str(price)}).json()
        cash_qty = truth["cash_qty"]
        assert cash_qty > 0
        page.wait_for_function(
            "(n) => document.querySelector('[data-testid=orderable-cash]')"
            "?.textContent.replace(/[^0-9]/g, '') === String(n)",
            arg=cash_qty,
        )
        assert _int(page.inner_text("[data-testid=orderable-max]")) == cash_qty * 2 + 7
        assert any(f"price={price}" in u for u in asked), asked
        assert page.locator("[data-testid=basis-cash]").is_checked()  # 현금 by default

        def preset(p: int, want: int) -> None:
            page.click(f"[data-testid=preset-{p}]")
            page.wait_for_function(
                "(n) => document.querySelector('[data-testid=order-qty]').value"
                ".replace(/[^0-9]/g, '') === String(n)",
                arg=want,
            )

        preset(100, cash_qty)
        preset(25, cash_qty * 25 // 100)
        page.check("[data-testid=basis-max]")
        most = cash_qty * 2 + 7
        preset(100, most)
        preset(10, most * 10 // 100)
        preset(50, most * 50 // 100)
        page.check("[data-testid=basis-cash]")
        preset(50, cash_qty * 50 // 100)
        # sells: a share of the sellable shares, no basis
        holdings = api.get("/api/account").json()["holdings"]
        sellable = next((h["sellable_quantity"] for h in holdings if h["stock_code"] == CODE), 0)
        page.locator("[data-testid=order-panel] .tabs button.sell").click()
        assert page.locator("[data-testid=preset-basis]").count() == 0
        if sellable:
            preset(100, sellable)
        page.locator("[data-testid=order-panel] .tabs button.buy").click()
        page.fill("[data-testid=order-qty]", "1")
    finally:
        page.unroute(ORDERABLE)


# --- two devices -------------------------------------------------------------------------


def _position_qty(pg: Any, code: str) -> int:
    row = pg.locator(f"[data-testid=positions-table] tr[data-code='{code}']")
    if not row.count():
        return 0
    return _int(row.locator("td").nth(1).inner_text())


def test_two_devices_see_the_same_orders_and_positions(
    browser: Any, page: Any, system: System, api: httpx.Client, kiwoom: Any
) -> None:
    _cancel_open(api)
    ctx = _new_context(browser, viewport={"width": 1280, "height": 800})
    try:
        other = ctx.new_page()
        other.set_default_timeout(WAIT_MS)
        _login(other, system)
        # a limit buy at 하한가 through the first device's panel
        known = {o["id"] for o in _orders(api)}
        page.select_option("[data-testid=order-type]", "limit")
        page.click("[data-testid=order-panel] button:has-text('하한가')")
        lower = _int(page.input_value("[data-testid=order-price]"))
        assert lower == _lower_limit(kiwoom, CODE)
        page.fill("[data-testid=order-qty]", "2")
        page.click("[data-testid=order-submit]")
        page.click("[data-testid=order-confirm-yes]")
        page.wait_for_function(
            "() => /접수|거부|오류/.test(document.querySelector('[data-testid=order-message]')"
            "?.textContent || '')"
        )
        assert "접수" in page.inner_text("[data-testid=order-message]")
        (placed,) = [o for o in _orders(api) if o["id"] not in known]
        assert (placed["price"], placed["quantity"]) == (lower, 2)
        assert placed["state"] in OPEN_STATES
        # the second device shows it with no reload (the /ws order push)
        row = _row(other, placed["id"])
        row.wait_for()
        assert _int(row.locator("[data-testid=order-price-cell]").inner_text()) == lower
        assert _int(row.locator("td").nth(5).inner_text()) == 2

        # a market buy on the first device: the second one's positions grow by it, from
        # the balance push alone (its own account requests fail from here on)
        other.locator("[data-testid=positions-table]").wait_for()
        other.route(re.compile(r"/api/account$"), lambda route: route.abort())
        held = api.get("/api/account").json()["holdings"]
        before = next((h["quantity"] for h in held if h["stock_code"] == CODE), 0)
        page.select_option("[data-testid=order-type]", "market")
        page.fill("[data-testid=order-qty]", "3")
        page.click("[data-testid=order-submit]")
        page.click("[data-testid=order-confirm-yes]")
        other.wait_for_function(
            "([code, want]) => { const r = document.querySelector("
            "`[data-testid=positions-table] tr[data-code='${code}']`);"
            " return !!r && Number(r.children[1].textContent.replace(/[^0-9]/g, '')) === want; }",
            arg=[CODE, before + 3],
        )
        page.select_option("[data-testid=order-type]", "limit")

        # cancelled on the second device: it leaves the first one's open list
        row.locator("[data-testid=order-cancel]").click()
        page.wait_for_function(
            "(id) => { const r = document.querySelector("
            "`[data-testid=open-orders] tr[data-order-id='${id}']`);"
            " return !r || r.dataset.state === 'cancelled'; }",
            arg=str(placed["id"]),
        )
        assert _position_qty(page, CODE) == before + 3
    finally:
        ctx.close()
