"""A browser watches a stock the hub does not collect: the backend leases it at the hub's
interest API, its live trades reach the browser, the lease lives while any browser
watches (two browsers: one leaving keeps it) and is released when the last leaves.
Simulator → ``gslts sub-server`` (a real process) → backend (uvicorn) → browsers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gslts_backend.settings import BackendSettings
from tests.e2e.harness import HubProcess, Market, hub_env, own_schema
from tests.integration.backend.ws.harness import auth, browser, free_port, serve, wait_for

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0


@pytest.fixture
def market() -> Iterator[Market]:
    m = Market(trades_per_s=300).start()
    try:
        yield m
    finally:
        m.stop()


@pytest.fixture
def hub(market: Market, mysql_server_url: str, tmp_path: Path) -> Iterator[HubProcess]:
    with own_schema(mysql_server_url) as db:
        env = hub_env(market, db, tmp_path / "data", HUB_INTEREST_MAX_TTL_S="120")
        proc = HubProcess(env, free_port(), tmp_path / "hub.log").start()
        try:
            yield proc
        finally:
            proc.terminate()


def _askers(hub: HubProcess, code: str) -> list[str]:
    r = httpx.get(hub.url + "/api/interest", timeout=10)
    r.raise_for_status()
    for s in r.json()["stocks"]:
        if s["stock_code"] == code:
            return [a["asker"] for a in s["askers"]]
    return []


def test_a_watched_stock_the_hub_does_not_collect_is_leased_then_released(
    market: Market, hub: HubProcess
) -> None:
    collected: list[str] = []

    def ready() -> bool:
        st = hub.status()
        collected[:] = st["collecting_stocks"]
        return st["ws_state"] == "ready" and len(collected) >= 12

    assert wait_for(ready, DEADLINE_S), hub.status()
    outside = sorted(
        (s for s in market.sim.universe if s.code not in collected), key=lambda s: -s.value
    )
    code = outside[0].code
    market.trade_only([code, *collected[:2]], trades_per_s=300)
    assert code not in market.sim.ws_hub.registered_items("0B")
    settings = BackendSettings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=None,
        hub_url=hub.url,
        database_url=str(hub.env["DATABASE_URL"]),
        kiwoom_mode="sim",
        kiwoom_rest_url=market.rest_url,
        ws_interest_ttl_s=30,
        ws_interest_asker="backend-test",
    )
    with serve(settings) as srv:

        async def scenario() -> dict[str, Any]:
            b1 = await browser(srv.ws_url, auth(1))
            b2 = await browser(srv.ws_url, auth(2))
            await b1.send(op="subscribe", codes=[code], channels=["trades", "book"])
            await b2.send(op="subscribe", codes=[code, collected[0]], channels=["trades"])
            # leased under the backend's name; its live trades reach both browsers
            ok = await asyncio.to_thread(
                wait_for, lambda: _askers(hub, code) == ["backend-test"], DEADLINE_S
            )
            assert ok, _askers(hub, code)
            assert await b1.wait(lambda b: len(b.cums(code)) > 0, DEADLINE_S)
            assert await b2.wait(lambda b: len(b.cums(code)) > 0, DEADLINE_S)
            assert await b1.wait(lambda b: bool(b.of("book", code)), DEADLINE_S)
            # a stock the hub collects anyway costs no lease
            assert _askers(hub, collected[0]) == []
            # a code that is no listed stock: the hub refuses, the browser is told why
            await b1.send(op="subscribe", codes=["999990"], channels=["trades"])
            assert await b1.wait(lambda b: bool(b.of("error", "999990")), DEADLINE_S)
            refusal = b1.of("error", "999990")[0]
            assert refusal["error"] == "Conflict"
            assert refusal["detail"].startswith("the hub does not collect 999990")
            await b1.send(op="unsubscribe", codes=["999990"])
            # one browser leaves: the other still watches, the lease lives
            await b1.close()
            n = len(b2.cums(code))
            assert await b2.wait(lambda b: len(b.cums(code)) > n + 3, DEADLINE_S)
            assert _askers(hub, code) == ["backend-test"]
            # the last one leaves: released at once (not at the TTL's end)
            await b2.send(op="unsubscribe", codes=[code])
            ok = await asyncio.to_thread(wait_for, lambda: _askers(hub, code) == [], DEADLINE_S)
            assert ok
            stats: dict[str, Any] = srv.app.state.ws_interest.stats()
            await b2.close()
            return stats

        stats = asyncio.run(scenario())
        assert stats["leased"] == []
        assert wait_for(lambda: code not in market.sim.ws_hub.registered_items("0B"), DEADLINE_S)
