"""Market data against the simulator (ka10099/ka10001/ka10004), the real hub process
(its bus and its interest API) and MariaDB:

* a refresh stores the whole ka10099 list (KOSPI + KOSDAQ) in ``stock_master`` and search
  finds stocks by exact code, code prefix, name prefix, 초성, mixed and a one-jamo typo;
* ``/api/stocks/{code}`` answers from the hub's latest trade for a collected stock and
  from ka10001 for one it does not collect; 404 unknown, 422 malformed;
* ``/api/orderbook/{code}`` answers from the hub's book, and for a stock the hub does not
  collect from ka10004 while leasing it at the hub (asker ``backend:book``) — which then
  collects it, so the book comes from the hub; asked again, the lease is renewed, and
  after a lapse ka10004 answers until the lease is back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import SecretStr

import gslts_backend.market as market_area
from gslts_backend.app import create_app
from gslts_backend.market.search import chosung
from gslts_backend.settings import BackendSettings
from gslts_db import make_engine
from gslts_db.models import StockMaster
from gslts_kiwoom import KiwoomClient, KiwoomConfig
from tests.e2e.harness import HubProcess, Market, hub_env, own_schema
from tests.integration.backend.ws import harness
from tests.integration.backend.ws.harness import auth, free_port, wait_for

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


def settings_for(market: Market, db_url: str, hub_url: str) -> BackendSettings:
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
    )


def market_app(settings: BackendSettings) -> FastAPI:
    app = create_app(settings)
    app.dependency_overrides[market_area.viewer] = harness.test_principal("viewer")
    app.dependency_overrides[market_area.admin] = harness.test_principal("admin")
    return app


def sim_client(market: Market) -> KiwoomClient:
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


def _lease(hub: HubProcess, code: str, asker: str) -> dict[str, Any] | None:
    """``asker``'s lease on ``code`` in the hub's ``GET /api/interest``, else None."""
    r = httpx.get(hub.url + "/api/interest", timeout=10)
    r.raise_for_status()
    for s in r.json()["stocks"]:
        for lease in s["askers"] if s["stock_code"] == code else ():
            if lease["asker"] == asker:
                found: dict[str, Any] = lease
                return found
    return None


def test_master_search_quotes_and_books(
    market: Market, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kiwoom = sim_client(market)
    listed = {s.code: s for m in ("0", "10") for s in kiwoom.list_stocks(m)}
    assert len(listed) > 100
    hub = HubProcess(
        hub_env(market, db_url, tmp_path / "data"), free_port(), tmp_path / "hub.log"
    ).start()
    monkeypatch.setattr(harness, "backend_app", market_app)
    try:
        collected: list[str] = []

        def ready() -> bool:
            st = hub.status()
            collected[:] = st["collecting_stocks"]
            return st["ws_state"] == "ready" and len(collected) >= 5

        assert wait_for(ready, DEADLINE_S), hub.status()
        with harness.serve(settings_for(market, db_url, hub.url)) as srv:
            api = httpx.Client(base_url=srv.url, timeout=30, headers=auth(1))
            admin = httpx.Client(base_url=srv.url, timeout=30, headers=auth(9, "admin"))
            svc = srv.app.state.services

            # the refresh: a viewer may not trigger it; an admin may; the whole list stored
            assert api.post("/api/stocks/refresh").status_code == 403
            assert admin.post("/api/stocks/refresh").status_code == 202

            def refreshed() -> bool:
                st: dict[str, Any] = api.get("/api/stocks/status").json()
                return bool(st["state"] == "ok" and st["count"] == len(listed))

            assert wait_for(refreshed, DEADLINE_S), api.get("/api/stocks/status").json()
            engine = make_engine(db_url)
            with engine.connect() as conn:
                stored = set(conn.execute(sa.select(StockMaster.stock_code)).scalars())
            engine.dispose()
            assert stored == set(listed)

            # search
            code, info = next(
                (c, s)
                for c, s in sorted(listed.items())
                if len(s.name) >= 3 and all("가" <= ch <= "힣" for ch in s.name)
            )

            def search(q: str, limit: int = 10) -> list[dict[str, Any]]:
                r = api.get("/api/stocks/search", params={"q": q, "limit": limit})
                assert r.status_code == 200, r.text
                results: list[dict[str, Any]] = r.json()["results"]
                return results

            first = search(code)[0]
            assert (first["code"], first["match"]) == (code, "code")
            pre = search(code[:4], 100)
            assert pre[0]["match"] in ("code", "code_prefix")
            assert {h["code"] for h in pre} >= {c for c in listed if c.startswith(code[:4])}
            assert code in [h["code"] for h in search(info.name[:2], 100)]
            assert code in [h["code"] for h in search(chosung(info.name), 100)]
            mixed = info.name[0] + chosung(info.name)[1:]
            assert code in [h["code"] for h in search(mixed, 100)]
            typo = info.name[:-1] + chr(ord(info.name[-1]) + 28)  # another 중성
            assert code in [h["code"] for h in search(typo, 100)]
            for bad in ("", " ", "x" * 41, "<script>", "%00"):
                r = api.get("/api/stocks/search", params={"q": bad})
                assert r.status_code == 422, (bad, r.text)
                assert r.json()["error"]
            assert api.get("/api/stocks/search", params={"q": "a", "limit": 0}).status_code == 422
            assert httpx.get(f"{srv.url}/api/stocks/search?q=a").status_code == 401

            # stocks/{code}: hub for a collected stock, ka10001 for another
            hot = collected[0]
            assert wait_for(lambda: hot in svc.live.last_trades, DEADLINE_S)
            r = api.get(f"/api/stocks/{hot}")
            assert r.status_code == 200, r.text
            assert r.json()["quote"]["source"] == "hub"
            assert r.json()["market"]
            cold = next(c for c in sorted(listed) if c not in hub.status()["collecting_stocks"])
            # the simulator's trades are drawn by trading value, and a book changes (a 0D
            # goes out) only with them: make ``cold`` trade, or its book might never come
            market.trade_only([cold, *collected[:2]], trades_per_s=200)
            r = api.get(f"/api/stocks/{cold}")
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["quote"]["source"] == "kiwoom"
            assert body["quote"]["price"] > 0
            assert body["name"] == listed[cold].name
            assert body["nxt_enabled"] == listed[cold].nxt_enabled
            assert api.get("/api/stocks/999999").status_code == 404
            assert api.get("/api/stocks/12!").status_code == 422

            # orderbook: the hub's book for a collected stock
            assert wait_for(lambda: hot in svc.live.books, DEADLINE_S)
            r = api.get(f"/api/orderbook/{hot}")
            assert r.status_code == 200, r.text
            b = r.json()
            assert b["source"] == "hub"
            assert len(b["asks"]) == len(b["bids"]) == 10
            assert b["age_s"] is not None

            # a stock the hub does not collect: ka10004 now, the hub asked to collect it
            r = api.get(f"/api/orderbook/{cold}")
            assert r.status_code == 200, r.text
            b = r.json()
            assert b["source"] == "kiwoom"
            assert len(b["asks"]) == len(b["bids"]) == 10
            assert b["total_ask_qty"] >= 0
            assert wait_for(lambda: cold in hub.status()["collecting_stocks"], DEADLINE_S)
            # under an asker of its own, so the browser stream's leases never end this one
            assert wait_for(lambda: _lease(hub, cold, "backend:book") is not None, DEADLINE_S)
            assert wait_for(lambda: cold in svc.live.books, DEADLINE_S)
            assert api.get(f"/api/orderbook/{cold}").json()["source"] == "hub"

            # asked again a third of the TTL later (time moved by shifting the ask back):
            # the hub's book answers and the lease is renewed
            interest = srv.app.state.market_interest
            interest.leased[cold] -= interest.ttl_s / 2
            assert api.get(f"/api/orderbook/{cold}").json()["source"] == "hub"
            assert wait_for(
                lambda: (_lease(hub, cold, "backend:book") or {}).get("renewals", 0) >= 1,
                DEADLINE_S,
            ), _lease(hub, cold, "backend:book")
            # asked after the whole TTL: the lease may have lapsed and the book frozen, so
            # ka10004 answers while the lease is asked for again
            interest.leased[cold] -= interest.ttl_s * 2
            assert api.get(f"/api/orderbook/{cold}").json()["source"] == "kiwoom"
            assert interest.live(cold)
            assert api.get(f"/api/orderbook/{cold}").json()["source"] == "hub"
            assert api.get("/api/orderbook/999999").status_code == 404
            assert api.get("/api/orderbook/ab!").status_code == 422
    finally:
        hub.terminate()
        kiwoom.close()
