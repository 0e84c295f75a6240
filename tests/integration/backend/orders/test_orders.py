"""Orders end to end on the simulator over real sockets: the simulator (Kiwoom), the hub
(the one upstream WebSocket, relaying ``00`` on the bus), the backend (``/api/orders``,
``/ws``) with real login sessions, MariaDB.

What is checked against the broker itself (a second Kiwoom client on the same account,
ka10075/ka10076), never against the backend's own word: one broker order per
``client_order_id``, also after a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from gslts_backend.settings import BackendSettings
from gslts_common.bus import GAP_CHANNEL
from gslts_kiwoom import KiwoomClient, KiwoomConfig, OrderType
from tests.e2e.harness import HubProcess, Market, hub_env, own_schema
from tests.integration.backend.ws.harness import BackendServer, browser, free_port, serve, wait_for

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0
ADMIN_PASSWORD = "orders-e2e-lamp-stone-42"


@pytest.fixture(scope="module")
def market() -> Iterator[Market]:
    m = Market(trades_per_s=200).start()
    try:
        yield m
    finally:
        m.stop()


@pytest.fixture(scope="module")
def db_url(mysql_server_url: str) -> Iterator[str]:
    with own_schema(mysql_server_url) as url:
        yield url


@pytest.fixture(scope="module")
def hub(
    market: Market, db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("hub")
    h = HubProcess(hub_env(market, db_url, tmp / "data"), free_port(), tmp / "hub.log").start()
    try:
        assert wait_for(
            lambda: h.status()["ws_state"] == "ready" and len(h.status()["collecting_stocks"]) >= 5,
            DEADLINE_S,
        ), h.status()
        yield h
    finally:
        h.terminate()


def settings_for(market: Market, db_url: str, hub_url: str, **kw: Any) -> BackendSettings:
    base: dict[str, Any] = {
        "kiwoom_mode": "sim",
        "kiwoom_rest_url": market.rest_url,
        "kiwoom_ws_url": market.ws_url,
        "kiwoom_rate_per_s": 50,
        "kiwoom_rate_burst": 50,
        "redis_url": None,
        "database_url": db_url,
        "hub_url": hub_url,
        "gslts_admin_password": SecretStr(ADMIN_PASSWORD),
        "order_rate_per_s": 100,
        "order_rate_burst": 100,
    }
    base.update(kw)
    return BackendSettings(_env_file=None, **base)


@pytest.fixture(scope="module")
def backend(market: Market, db_url: str, hub: HubProcess) -> Iterator[BackendServer]:
    with serve(settings_for(market, db_url, hub.url)) as srv:
        yield srv


def login(url: str, username: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.Client:
    r = httpx.post(
        url + "/api/auth/login",
        json={"username": username, "password": password, "token": "bearer"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    return httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def api(backend: BackendServer) -> Iterator[httpx.Client]:
    c = login(backend.url)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def broker(market: Market) -> Iterator[KiwoomClient]:
    """Another client on the same account: what the broker really holds."""
    c = KiwoomClient(
        KiwoomConfig.for_mode(
            "sim",
            app_key=SecretStr("sim-app-key"),
            secret_key=SecretStr("sim-secret-key"),
            rest_url=market.rest_url,
            ws_url=market.ws_url,
            rate_per_s=50,
            rate_burst=50,
            timeout_s=60,
        )
    )
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def code(hub: HubProcess, backend: BackendServer) -> str:
    codes = hub.status()["collecting_stocks"]
    live = backend.app.state.services.live
    assert wait_for(lambda: any(c in live.last_trades for c in codes), DEADLINE_S)
    return str(next(c for c in codes if c in live.last_trades))


def limits(broker: KiwoomClient, code: str) -> tuple[int, int]:
    q = broker.get_quote(code)
    return q.lower_limit, q.upper_limit


def broker_orders(broker: KiwoomClient, code: str, price: int) -> list[str]:
    """The broker's order numbers of new orders (not modifies) for ``code`` at ``price``."""
    seen = {o.order_no for o in broker.open_orders(code) if o.order_price == price}
    seen |= {o.order_no for o in broker.filled_orders(code) if o.order_price == price}
    return sorted(seen)


def place(api: httpx.Client, **body: Any) -> httpx.Response:
    return api.post("/api/orders", json=body)


def order_state(api: httpx.Client, oid: int) -> dict[str, Any]:
    r = api.get(f"/api/orders/{oid}")
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def wait_state(
    api: httpx.Client,
    oid: int,
    *states: str,
    deadline_s: float = DEADLINE_S,
    log: Path | None = None,
) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def done() -> bool:
        box.update(order_state(api, oid))
        return box["state"] in states

    if not wait_for(done, deadline_s, poll=0.2):
        tail = log.read_text(errors="replace")[-4000:] if log is not None else ""
        raise AssertionError(f"{box}\n{tail}")
    return box


def test_rest_modify_reduce_and_cancel_with_pushes_on_ws(
    api: httpx.Client, backend: BackendServer, broker: KiwoomClient, code: str
) -> None:
    lower, _ = limits(broker, code)
    token = api.headers["Authorization"]

    async def flow() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        b = await browser(backend.ws_url, {"Authorization": token})
        assert await b.wait(lambda b: bool(b.of("hello")))
        r = await asyncio.to_thread(
            place, api, stock_code=code, side="buy", quantity=10, order_type="limit",
            price=lower, client_order_id="e2e-rest-1",
        )  # fmt: skip
        assert r.status_code == 201, r.text
        doc = r.json()
        assert doc["state"] in ("accepted", "partially_filled", "filled")
        root = doc["root_order_no"]
        assert doc["broker_order_no"] == root
        assert root
        assert doc["actions"] == {"modify": True, "cancel": True}
        oid = doc["id"]
        assert await b.wait(lambda b: any(m["id"] == oid for m in b.of("order")))

        # modify the price: a new broker number, the same order and root
        new_price = lower + _tick(lower)
        r = await asyncio.to_thread(api.patch, f"/api/orders/{oid}", json={"price": new_price})
        assert r.status_code == 200, r.text
        mod = r.json()
        assert (mod["id"], mod["root_order_no"], mod["price"]) == (oid, root, new_price)
        assert mod["broker_order_no"] != root
        assert mod["open_quantity"] == 10
        # lower the quantity: the rest is cancelled, 4 stay working
        r = await asyncio.to_thread(api.patch, f"/api/orders/{oid}", json={"quantity": 4})
        assert r.status_code == 200, r.text
        assert r.json()["open_quantity"] == 4
        # the broker agrees: one open order of 4 at the new price
        opens = [o for o in broker.open_orders(code) if o.order_price == new_price]
        assert [o.open_qty for o in opens] == [4], opens
        # cancel the rest
        r = await asyncio.to_thread(api.delete, f"/api/orders/{oid}")
        assert r.status_code == 200, r.text
        final = await asyncio.to_thread(wait_state, api, oid, "cancelled")
        assert final["open_quantity"] == 0
        assert final["actions"] == {
            "modify": False,
            "cancel": False,
        }
        assert await b.wait(
            lambda b: any(m["id"] == oid and m["state"] == "cancelled" for m in b.of("order"))
        )
        await b.close()
        return b.of("order"), final

    pushes, final = asyncio.run(flow())
    assert [
        o for o in broker.open_orders(code) if o.order_price in (lower, lower + _tick(lower))
    ] == []
    # the events tell the story: request, 접수, modify (접수/확인), cancel
    types = [e["type"] for e in final["events"]]
    for t in ("request", "acked", "accepted", "modify_request", "confirmed", "cancel_request"):
        assert t in types, types
    # nothing to cancel any more: a clear 409, not a broker error
    r = api.delete(f"/api/orders/{final['id']}")
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "Conflict"
    assert r.json()["detail_ko"]
    r = api.patch(f"/api/orders/{final['id']}", json={"price": lower})
    assert r.status_code == 409, r.text
    assert all(p["id"] == final["id"] for p in pushes)


def test_a_partial_fill_then_modify_then_cancel(
    api: httpx.Client, hub: HubProcess, broker: KiwoomClient
) -> None:
    # a large buy resting at the best bid: the market's sellers fill it bit by bit
    best: tuple[int, str] | None = None
    for c in hub.status()["collecting_stocks"]:
        bid = broker.get_order_book(c).bids[0].price
        if bid and (best is None or bid < best[0]):
            best = (bid, c)
    assert best is not None
    price, code = best
    qty = min(100_000, 20_000_000 // price)
    r = place(api, stock_code=code, side="buy", quantity=qty, order_type="limit", price=price)
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    doc = wait_state(api, oid, "partially_filled", "filled", deadline_s=120)
    fills = [e for e in doc["events"] if e["type"] == "fill"]
    assert fills, doc["events"]
    assert any((e["open_qty"] or 0) > 0 for e in fills), "no fill left quantity open"
    assert doc["state"] == "partially_filled", doc
    assert 0 < doc["filled_quantity"] < qty
    lower, _ = limits(broker, code)
    for _ in range(10):  # a fill the relay had not shown yet: Kiwoom refuses, 409; again
        r = api.patch(f"/api/orders/{oid}", json={"price": lower})
        if r.status_code != 409:
            break
        wait_for(lambda: order_state(api, oid)["actions"]["modify"], DEADLINE_S, poll=0.2)
    assert r.status_code == 200, r.text
    mod = r.json()
    assert mod["price"] == lower
    assert mod["state"] == "partially_filled"
    assert mod["filled_quantity"] + mod["open_quantity"] == qty
    assert mod["broker_order_no"] != mod["root_order_no"]
    r = api.delete(f"/api/orders/{oid}")
    assert r.status_code == 200, r.text
    end = wait_state(api, oid, "cancelled")
    assert end["filled_quantity"] >= mod["filled_quantity"]  # a late relay of a fill before
    assert end["avg_fill_price"] == price  # every fill at the resting price

    # the broker agrees: what filled is what ka10076 says of the first number
    def agrees() -> bool:
        got = sum(x.filled_qty for x in broker.filled_orders(code) if x.order_no in numbers)
        return bool(got == order_state(api, oid)["filled_quantity"])

    numbers = {end["root_order_no"], mod["broker_order_no"]}
    assert wait_for(agrees, DEADLINE_S, poll=0.5)


def test_a_market_buy_fills_and_a_sell_of_it_is_checked_against_holdings(
    api: httpx.Client, broker: KiwoomClient, code: str
) -> None:
    r = place(api, stock_code=code, side="buy", quantity=3, order_type="market")
    assert r.status_code == 201, r.text
    doc = wait_state(api, r.json()["id"], "filled")
    assert doc["filled_quantity"] == 3
    assert doc["avg_fill_price"]
    assert doc["open_quantity"] == 0
    fills = [e for e in doc["events"] if e["type"] == "fill"]
    assert sum(e["fill_qty"] for e in fills) == 3
    held = next(h for h in broker.get_balance().holdings if h.code == code)
    # more than is held cannot be sold: refused before any broker call
    r = place(
        api, stock_code=code, side="sell", quantity=held.sellable_qty + 1, order_type="market"
    )
    assert r.status_code == 422, r.text
    assert (r.json()["field"], bool(r.json()["detail_ko"])) == ("quantity", True)
    # what is held can
    _, upper = limits(broker, code)
    r = place(api, stock_code=code, side="sell", quantity=3, order_type="limit", price=upper)
    assert r.status_code == 201, r.text
    sell = r.json()
    assert sell["state"] == "accepted"
    # and the same shares cannot be offered twice while that sell rests
    r = place(
        api,
        stock_code=code,
        side="sell",
        quantity=held.sellable_qty - 2,
        order_type="limit",
        price=upper,
    )
    assert r.status_code == 422, r.text
    assert api.delete(f"/api/orders/{sell['id']}").status_code == 200


def test_every_order_type_is_taken_or_refused_with_a_reason(
    api: httpx.Client, broker: KiwoomClient, code: str
) -> None:
    lower, upper = limits(broker, code)
    types = {t["order_type"]: t for t in api.get("/api/orders/types").json()}
    assert len(types) == len(OrderType)
    seen: dict[str, str] = {}
    for name, t in types.items():
        body: dict[str, Any] = {
            "stock_code": code, "side": "buy", "quantity": 1, "order_type": name,
            "venue": "KRX" if "KRX" in t["venues"] else "SOR",
        }  # fmt: skip
        if t["needs_price"]:
            body["price"] = lower
        if t["needs_stop_price"]:
            body["price"] = upper
            body["stop_price"] = upper
        r = place(api, **body)
        if t["off_hours"]:
            # the simulator's clock is a continuous session: no off-hours session is open
            assert r.status_code == 422, r.text
            assert r.json()["field"] == "order_type"
            seen[name] = "refused"
            continue
        assert r.status_code == 201, (name, r.text)
        ends = (
            ("filled", "cancelled")
            if t["time_in_force"] != "day"
            else ("accepted", "filled", "cancelled", "partially_filled")
        )
        doc = wait_state(api, r.json()["id"], *ends)
        seen[name] = doc["state"]
        if doc["state"] in ("accepted", "partially_filled"):
            assert api.delete(f"/api/orders/{doc['id']}").status_code in (200, 409)
    # IOC/FOK types never stay working; a market buy fills in a liquid book
    for name in (
        "limit_ioc",
        "limit_fok",
        "market_ioc",
        "best_ioc",
        "best_fok",
        "mid_price_ioc",
        "mid_price_fok",
    ):
        assert seen[name] in ("cancelled", "filled"), (name, seen[name])
    assert seen["limit"] == "accepted"  # at the lower limit: rests


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 10**7}, "quantity"),
        ({"price": 7}, "price"),  # off the grid at most prices: checked below per stock
        ({"price": None}, "price"),
        ({"order_type": "market", "price": 1000}, "price"),
        ({"stop_price": 1000}, "stop_price"),
        ({"order_type": "stop_limit", "stop_price": None}, "stop_price"),
        ({"order_type": "mid_price", "price": None, "venue": "KRX"}, "venue"),
        ({"order_type": "post_close_close_price", "price": None}, "order_type"),
        ({"stock_code": "99999"}, "stock_code"),
        ({"stock_code": "999999"}, "stock_code"),
        ({"side": "short"}, "side"),
        ({"venue": "NYSE"}, "venue"),
        ({"client_order_id": "bad id with spaces"}, "client_order_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_every_bad_order_is_a_422_naming_the_field(
    api: httpx.Client, broker: KiwoomClient, code: str, body: dict[str, Any], field: str
) -> None:
    lower, upper = limits(broker, code)
    order: dict[str, Any] = {
        "stock_code": code, "side": "buy", "quantity": 1, "order_type": "limit", "price": lower,
    }  # fmt: skip
    order.update(body)
    if field == "price" and body.get("price") == 7:
        order["price"] = lower + 1 if _tick(lower) > 1 else upper + 1
    calls = api.get("/api/orders?limit=1").json()
    r = place(api, **order)
    assert r.status_code == 422, r.text
    doc = r.json()
    assert doc["error"] in ("BadInput",), doc
    assert doc.get("field") == field, doc
    assert len(r.text) < 2000
    # nothing was stored, nothing sent
    assert api.get("/api/orders?limit=1").json()["orders"][:1] == calls["orders"][:1]


def test_beyond_the_price_limits_and_beyond_the_cash(
    api: httpx.Client, broker: KiwoomClient, code: str
) -> None:
    lower, upper = limits(broker, code)
    r = place(
        api, stock_code=code, side="buy", quantity=1, order_type="limit", price=upper + _tick(upper)
    )
    assert (r.status_code, r.json().get("field")) == (422, "price"), r.text
    assert "제한폭" in r.json()["detail_ko"]
    cash = broker.get_cash().orderable
    qty = min(cash // lower + 1, 90_000)
    r = place(api, stock_code=code, side="buy", quantity=qty, order_type="limit", price=upper)
    assert (r.status_code, r.json().get("field")) == (422, "quantity"), r.text
    assert "주문가능금액" in r.json()["detail_ko"]


def test_the_same_client_order_id_is_one_broker_order(
    api: httpx.Client, backend: BackendServer, broker: KiwoomClient, code: str
) -> None:
    lower, _ = limits(broker, code)
    price = lower + 2 * _tick(lower)
    body = {"stock_code": code, "side": "buy", "quantity": 2, "order_type": "limit", "price": price}
    before = broker_orders(broker, code, price)
    r1 = place(api, **body, client_order_id="e2e-dup-1")
    r2 = place(api, **body, client_order_id="e2e-dup-1")
    assert (r1.status_code, r2.status_code) == (201, 200), (r1.text, r2.text)
    assert r1.json()["id"] == r2.json()["id"]
    # another request under the same id is refused
    r3 = place(api, **{**body, "quantity": 3}, client_order_id="e2e-dup-1")
    assert r3.status_code == 409, r3.text
    assert r3.json()["field"] == "client_order_id"
    # two at once
    out: list[httpx.Response] = []
    lock = threading.Lock()

    def post() -> None:
        r = place(api, **body, client_order_id="e2e-dup-2")
        with lock:
            out.append(r)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.status_code for r in out)[0] in (200, 201)
    assert {r.json()["id"] for r in out if r.status_code in (200, 201)} == {
        next(r.json()["id"] for r in out if r.status_code == 201)
    }
    assert [r.status_code for r in out].count(201) == 1, [r.text for r in out]
    after = broker_orders(broker, code, price)
    assert len(after) - len(before) == 2, (before, after)  # e2e-dup-1 and e2e-dup-2
    for oid in {r1.json()["id"], out[0].json()["id"]}:
        assert api.delete(f"/api/orders/{oid}").status_code == 200


def test_a_timed_out_order_is_never_sent_twice_and_is_found(
    market: Market, db_url: str, hub: HubProcess, broker: KiwoomClient, code: str
) -> None:
    lower, _ = limits(broker, code)
    price = lower + 3 * _tick(lower)
    settings = settings_for(
        market, db_url, hub.url, kiwoom_timeout_s=1, order_unknown_settle_s=120,
        account_cache_ttl_s=3600,
    )  # fmt: skip
    with serve(settings) as srv:
        api = login(srv.url)
        before = broker_orders(broker, code, price)
        body = {"stock_code": code, "side": "buy", "quantity": 1, "order_type": "limit",
                "price": price, "client_order_id": "e2e-timeout-1"}  # fmt: skip
        # warm the quote and account caches: only the order call meets the slow broker
        srv.app.state.orders.limits(code)
        srv.app.state.account.current()
        # the order is placed at once (its 접수 goes out), only Kiwoom's answer is late
        market.fault(order_delay_ms=2500, order_delay_phase="after")
        try:
            r = place(api, **body)
            assert r.status_code == 202, r.text
            assert r.json()["state"] == "unknown"
            oid = r.json()["id"]
            # the user retries: the same order, not a second broker call
            calls = srv.app.state.orders.broker_calls
            r2 = place(api, **body)
            assert r2.status_code == 200, r2.text
            assert r2.json()["id"] == oid
            assert srv.app.state.orders.broker_calls == calls
        finally:
            market.fault(order_delay_ms=0)
        doc = wait_state(api, oid, "accepted")
        assert doc["broker_order_no"]
        assert any(e["type"] == "resolved" for e in doc["events"]), doc["events"]
        after = broker_orders(broker, code, price)
        assert len(after) - len(before) == 1, (before, after)
        assert doc["broker_order_no"] in after
        assert api.delete(f"/api/orders/{oid}").status_code == 200
        api.close()


def _backend_process(
    market: Market, db_url: str, hub: HubProcess, port: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KIWOOM_MODE": "sim",
        "KIWOOM_REST_URL": market.rest_url,
        "KIWOOM_WS_URL": market.ws_url,
        "KIWOOM_RATE_PER_S": "50",
        "KIWOOM_RATE_BURST": "50",
        "KIWOOM_TIMEOUT_S": "30",
        "DATABASE_URL": db_url,
        "HUB_URL": hub.url,
        "REDIS_URL": "",
        "GSLTS_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ACCOUNT_CACHE_TTL_S": "3600",
        "BACKEND_PORT": str(port),
    }
    out = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gslts_backend"], env=env, stdout=out, stderr=out
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/api/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_for(up, DEADLINE_S, poll=0.2), log.read_text()[-3000:]
    return proc


def test_a_backend_killed_during_the_broker_call_finds_its_order_after_restart(
    market: Market, db_url: str, hub: HubProcess, broker: KiwoomClient, code: str, tmp_path: Path
) -> None:
    lower, _ = limits(broker, code)
    price = lower + 4 * _tick(lower)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _backend_process(market, db_url, hub, port, tmp_path / "backend.log")
    try:
        api = login(url)
        body = {"stock_code": code, "side": "buy", "quantity": 1, "order_type": "limit",
                "price": price, "client_order_id": "e2e-kill-1"}  # fmt: skip
        api.get(f"/api/stocks/{code}")  # warm up: the token and the quote
        assert place(api, **{**body, "client_order_id": "e2e-kill-warm"}).status_code == 201
        before = broker_orders(broker, code, price)
        # the order is placed, Kiwoom's answer held for 3 s: the backend dies waiting
        market.fault(order_delay_ms=3000, order_delay_phase="after")
        sent = threading.Thread(target=lambda: _swallow(place, api, **body), daemon=True)
        sent.start()

        def pending() -> bool:
            with httpx.Client(base_url=url, headers=api.headers, timeout=5) as c:
                rows = c.get("/api/orders?status=open").json()["orders"]
            return any(o["client_order_id"] == "e2e-kill-1" for o in rows)

        assert wait_for(pending, DEADLINE_S, poll=0.1)
        os.kill(proc.pid, signal.SIGKILL)  # between the broker call and its answer
        proc.wait(30)
        market.fault(order_delay_ms=0)
        proc = _backend_process(market, db_url, hub, port, tmp_path / "backend.log")
        api = login(url)
        rows = api.get("/api/orders?status=all&limit=200").json()["orders"]
        (row,) = [o for o in rows if o["client_order_id"] == "e2e-kill-1"]
        # a loaded machine: the restarted backend's first reconcile issues a token and
        # reads ka10075/ka10076/kt00007 (each may wait on the simulator)
        doc = wait_state(api, row["id"], "accepted", deadline_s=180, log=tmp_path / "backend.log")
        after = broker_orders(broker, code, price)
        assert len(after) - len(before) == 1, (before, after)
        assert doc["broker_order_no"] in after
        types = [e["type"] for e in doc["events"]]
        assert "unknown" in types, types
        assert "resolved" in types or "acked" in types, types
        # the retry after the restart is the same order
        r = place(api, **body)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == row["id"]
        assert len(broker_orders(broker, code, price)) - len(before) == 1
        for o in api.get("/api/orders?status=open&limit=200").json()["orders"]:
            if o["stock_code"] == code and o["price"] in (price, lower + 4 * _tick(lower)):
                api.delete(f"/api/orders/{o['id']}")
    finally:
        market.fault(order_delay_ms=0)
        proc.kill()
        proc.wait(30)


def _swallow(fn: Any, *args: Any, **kw: Any) -> None:
    with contextlib.suppress(httpx.HTTPError):
        fn(*args, **kw)


def test_a_lost_relay_is_made_good_from_kiwoom_lists_after_the_gap(
    market: Market, mysql_server_url: str, broker: KiwoomClient, code: str
) -> None:
    # a backend whose relay is down: no 00 event reaches it, its orders stop at Kiwoom's
    # answer (accepted) although the market buy filled at once. A schema of its own: no
    # unresolved order of another test makes it reconcile on its own
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_hub = f"http://127.0.0.1:{s.getsockname()[1]}"
    with (
        own_schema(mysql_server_url) as own_db,
        serve(settings_for(market, own_db, dead_hub)) as srv,
    ):
        api = login(srv.url)
        r = place(api, stock_code=code, side="buy", quantity=2, order_type="market")
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        assert order_state(api, oid)["state"] == "accepted"  # what it knows: the answer
        reconciles = srv.app.state.orders.reconciles
        # the bus follower reports a gap when its relay comes back (or at every reconnect)
        srv.app.state.orders.on_bus(GAP_CHANNEL, {})
        doc = wait_state(api, oid, "filled")
        assert doc["filled_quantity"] == 2
        assert doc["open_quantity"] == 0
        assert any(e["type"] == "rest" for e in doc["events"])
        assert srv.app.state.orders.reconciles > reconciles
        (f,) = [x for x in broker.filled_orders(code) if x.order_no == doc["root_order_no"]]
        assert f.filled_qty == 2
        api.close()


def test_a_viewer_cannot_trade(api: httpx.Client, backend: BackendServer, code: str) -> None:
    r = api.post(
        "/api/users",
        json={"username": "viewer1", "password": "viewer-river-stone-77", "role": "viewer"},
    )
    assert r.status_code in (201, 409), r.text
    viewer = login(backend.url, "viewer1", "viewer-river-stone-77")
    r = viewer.post(
        "/api/orders",
        json={"stock_code": code, "side": "buy", "quantity": 1, "order_type": "market"},
    )
    assert r.status_code == 403, r.text
    assert viewer.get("/api/orders").status_code == 200
    viewer.close()
    assert httpx.get(backend.url + "/api/orders").status_code == 401


def _tick(price: int) -> int:
    from gslts_kiwoom import krx

    return krx.tick_size(price)
