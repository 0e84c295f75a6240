"""The account and the Kiwoom token, against the simulator (the Kiwoom peer) and the hub
(``gslts sub-server``, a real process relaying the account's 00/04 events on its bus):

* after fills ``GET /api/account`` shows what kt00018/kt00001 say (quantity, average
  price, purchase amount, cash), valued at the hub's live price;
* the 04 event of a fill refreshes it (the cache TTL is an hour here, so only the event
  can) and a ``balance`` push reaches every browser on ``/ws``;
* the token routes report, re-issue and revoke, and the token string appears in no
  response and no log line.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from gslts_backend.settings import BackendSettings
from gslts_db.models import AuditEntry, User
from gslts_kiwoom import KiwoomClient, KiwoomConfig, OrderType
from gslts_kiwoom.krx import KST
from tests.e2e.harness import HubProcess, Market, hub_env, own_schema
from tests.integration.backend.ws.harness import (
    BackendServer,
    auth,
    browser,
    free_port,
    serve,
    wait_for,
)

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0


@pytest.fixture
def market() -> Iterator[Market]:
    m = Market(trades_per_s=200).start()
    try:
        yield m
    finally:
        m.stop()


@pytest.fixture
def db_url(mysql_server_url: str) -> Iterator[str]:
    with own_schema(mysql_server_url) as url:
        yield url


def backend_settings(market: Market, db_url: str, hub_url: str, **kw: Any) -> BackendSettings:
    return BackendSettings(
        _env_file=None,  # type: ignore[call-arg]
        kiwoom_mode="sim",
        kiwoom_rest_url=market.rest_url,
        kiwoom_ws_url=market.ws_url,
        kiwoom_rate_per_s=20,
        kiwoom_rate_burst=20,
        redis_url=None,
        database_url=db_url,
        hub_url=hub_url,
        **kw,
    )


def ensure_user(srv: BackendServer, user_id: int) -> None:
    """A users row for the test principal's id (the audit trail refers to it); the
    backend's first admin may hold the id already."""
    with srv.app.state.services.sessions.begin() as session:
        if session.get(User, user_id) is None:
            session.add(User(id=user_id, username=f"user{user_id}", password_hash="-",
                             role="admin", created_at=datetime.now(KST)))  # fmt: skip


def trader_client(market: Market) -> KiwoomClient:
    """Another Kiwoom client on the same account (as the order service would place)."""
    return KiwoomClient(
        KiwoomConfig.for_mode(
            "sim",
            app_key=SecretStr("sim-app-key"),
            secret_key=SecretStr("sim-secret-key"),
            rest_url=market.rest_url,
            ws_url=market.ws_url,
            rate_per_s=20,
            rate_burst=20,
        )
    )


def test_the_account_matches_kt00018_and_a_fill_refreshes_and_pushes_it(
    market: Market, db_url: str, tmp_path: Path
) -> None:
    hub = HubProcess(
        hub_env(market, db_url, tmp_path / "data"), free_port(), tmp_path / "hub.log"
    ).start()
    kiwoom = trader_client(market)
    try:
        collected: list[str] = []

        def ready() -> bool:
            st = hub.status()
            collected[:] = st["collecting_stocks"]
            return st["ws_state"] == "ready" and len(collected) >= 5

        assert wait_for(ready, DEADLINE_S), hub.status()
        code = collected[0]
        settings = backend_settings(market, db_url, hub.url, account_cache_ttl_s=3600)
        with serve(settings) as srv:
            api = httpx.Client(base_url=srv.url, timeout=30, headers=auth(1))
            svc = srv.app.state.services
            acct = srv.app.state.account
            pushes: list[dict[str, Any]] = []
            lock = threading.Lock()

            def on_event(kind: str, user_id: int | None, payload: dict[str, Any]) -> None:
                if kind == "balance":
                    with lock:
                        pushes.append(payload)

            svc.events.subscribe(on_event)
            assert wait_for(lambda: code in svc.live.last_trades, DEADLINE_S)

            r = api.get("/api/account")
            assert r.status_code == 200, r.text
            first = r.json()
            assert first["cash"] == kiwoom.get_cash().deposit
            assert [h for h in first["holdings"] if h["stock_code"] == code] == []
            assert acct.fetches == 1
            assert api.get("/api/account").status_code == 200
            assert acct.fetches == 1  # cached

            async def buy_and_watch() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
                b1 = await browser(srv.ws_url, auth(1))
                b2 = await browser(srv.ws_url, auth(2))
                for b in (b1, b2):
                    assert await b.wait(lambda b: bool(b.of("hello")))
                await asyncio.to_thread(kiwoom.buy, code, 7, order_type=OrderType.MARKET)
                for b in (b1, b2):
                    assert await b.wait(
                        lambda b: any(
                            h["stock_code"] == code and h["quantity"] == 7
                            for m in b.of("balance")
                            for h in m["holdings"]
                        ),
                        DEADLINE_S,
                    ), b.received[-3:]
                await b1.close()
                await b2.close()
                return b1.of("balance"), b2.of("balance")

            seen1, seen2 = asyncio.run(buy_and_watch())
            assert seen1[-1]["holdings"] == seen2[-1]["holdings"]
            assert acct.event_refreshes >= 1
            assert pushes, "the refresh was published as a balance event"

            truth = {h.code: h for h in kiwoom.get_balance().holdings}
            cash = kiwoom.get_cash()
            doc = api.get("/api/account").json()
            held = {h["stock_code"]: h for h in doc["holdings"]}
            assert set(held) == set(truth)
            h, t = held[code], truth[code]
            assert (h["quantity"], h["avg_price"], h["purchase_amount"]) == (
                t.qty,
                t.avg_price,
                t.purchase_amount,
            )
            assert h["sellable_quantity"] == t.sellable_qty
            assert h["price_source"] == "live"
            assert h["evaluation"] == h["quantity"] * h["price"]
            assert h["profit"] == h["evaluation"] - h["purchase_amount"]
            expect = round(h["profit"] * 100 / h["purchase_amount"], 2)
            assert abs(float(h["return_pct"]) - expect) < 0.006
            assert doc["cash"] == cash.deposit
            assert doc["orderable_cash"] == cash.orderable
            assert doc["total_purchase"] == sum(x.purchase_amount for x in truth.values())
            assert doc["total_profit"] == doc["total_evaluation"] - doc["total_purchase"]
    finally:
        kiwoom.close()
        hub.terminate()


def test_the_token_routes_never_show_the_token(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # every issue a new token (as Kiwoom may): the re-issue is visible
    market = Market(token_reissue_invalidates_old=True).start()
    caplog.set_level(logging.DEBUG)
    try:
        _token_routes(market, db_url, caplog)
    finally:
        market.stop()


def _token_routes(market: Market, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = backend_settings(market, db_url, f"http://127.0.0.1:{free_port()}")
    with serve(settings) as srv:
        ensure_user(srv, 1)  # the admin of auth(1)
        api = httpx.Client(base_url=srv.url, timeout=30, headers=auth(1, "admin"))
        bodies: list[str] = []

        def call(method: str) -> dict[str, Any]:
            r = api.request(method, "/api/kiwoom/token")
            bodies.append(r.text)
            assert r.status_code == 200, r.text
            out: dict[str, Any] = r.json()
            return out

        st = call("GET")
        assert st["mode"] == "sim"
        assert st["held"] is (st["expires_at"] is not None)
        st = call("POST")
        assert st["held"] is True
        assert st["cached"] is True
        assert st["expires_in_s"] > 0
        token = srv.app.state.services.kiwoom().token()
        issued = market.tokens_issued
        st2 = call("POST")  # a re-issue is a new token
        assert market.tokens_issued == issued + 1
        token2 = srv.app.state.services.kiwoom().token()
        assert token2 != token
        assert st2["held"] is True
        st = call("DELETE")
        assert st["held"] is False
        assert st["cached"] is False
        assert call("GET")["held"] is False
        # the account route uses Kiwoom: a new token is issued for it, also never shown
        r = api.get("/api/account")
        bodies.append(r.text)
        assert r.status_code == 200, r.text
        token3 = srv.app.state.services.kiwoom().token()
        bodies.append(api.get("/api/kiwoom/token").text)
        # who may: admin only (401 without a session, 403 for a trader)
        assert httpx.get(srv.url + "/api/kiwoom/token").status_code == 401
        r = httpx.post(srv.url + "/api/kiwoom/token", headers=auth(2, "trader"))
        assert r.status_code == 403
        # who did what, when and from where
        with srv.app.state.services.sessions() as session:
            trail = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
            rows = [(a.user_id, a.username, a.action, a.outcome, a.ip) for a in trail]
            details = [str(a.detail) for a in trail]
        assert rows == [
            (1, "user1", "kiwoom.token_reissue", "ok", "127.0.0.1"),
            (1, "user1", "kiwoom.token_reissue", "ok", "127.0.0.1"),
            (1, "user1", "kiwoom.token_revoke", "ok", "127.0.0.1"),
        ]
        bodies.extend(details)
    for tok in (token, token2, token3):
        assert len(tok) >= 10
        assert all(tok not in body for body in bodies)
        assert tok not in caplog.text


def test_kiwoom_unreachable_is_a_503_in_the_one_shape(db_url: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = BackendSettings(
        _env_file=None,  # type: ignore[call-arg]
        kiwoom_mode="sim",
        kiwoom_rest_url=nowhere,
        redis_url=None,
        database_url=db_url,
        hub_url=nowhere,
        kiwoom_timeout_s=2,
    )
    with serve(settings) as srv:
        ensure_user(srv, 1)
        r = httpx.get(srv.url + "/api/account", headers=auth(1), timeout=60)
        assert r.status_code == 503, r.text
        doc = r.json()
        assert doc["error"] == "Unavailable"
        assert doc["detail"].startswith("account: Kiwoom unreachable")
        r = httpx.post(srv.url + "/api/kiwoom/token", headers=auth(1, "admin"), timeout=60)
        assert r.status_code == 503, r.text
        with srv.app.state.services.sessions() as session:
            (entry,) = session.scalars(sa.select(AuditEntry)).all()
        assert (entry.action, entry.outcome) == ("kiwoom.token_reissue", "failed")
