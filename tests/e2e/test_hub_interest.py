"""Simulator → ``gslts sub-server`` (a real process) → the interest API: a stock the hub
does not collect is leased, its live ticks arrive; a second asker keeps it alive after the
first lease ends; the last lease's end unregisters it (the simulator's own session table
says so, and ``/api/status``); over the cap the answer is a 409 with the reason.

Nothing here asserts a duration: each step polls for its condition with a generous
deadline. The time from the first ``PUT`` to the stock's first live tick in
``/api/status`` is recorded as the ``interest_first_tick_s`` property (the step's 2 s
target is a benchmark figure, read from the test report, not an assertion)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import HubProcess, Market, free_port, hub_env, wait_for

pytestmark = pytest.mark.e2e

DEADLINE_S = 60.0


@pytest.fixture
def hub(market: Market, db_url: str, tmp_path: Path) -> Iterator[HubProcess]:
    env = hub_env(
        market,
        db_url,
        tmp_path / "data",
        HUB_INTEREST_MAX_CODES="2",
        HUB_INTEREST_MAX_TTL_S="120",
    )
    proc = HubProcess(env, free_port(), tmp_path / "hub.log").start()
    try:
        yield proc
    finally:
        proc.terminate()


def _stock(status: dict[str, Any], code: str) -> dict[str, Any] | None:
    return next((s for s in status["stocks"] if s["code"] == code), None)


def _leases(status: dict[str, Any], code: str) -> list[str]:
    """The askers holding ``code`` in the status document's ``interest`` part."""
    for s in status["interest"]["stocks"]:
        if s["stock_code"] == code:
            return [a["asker"] for a in s["askers"]]
    return []


def _ticks(status: dict[str, Any], code: str) -> int:
    st = _stock(status, code)
    return 0 if st is None else int(st["ticks_today"])


def test_a_leased_stock_is_collected_while_any_lease_lives(
    hub: HubProcess, market: Market, record_property: Any
) -> None:
    api = httpx.Client(base_url=hub.url, timeout=30)

    def put(code: str, asker: str, ttl_s: int) -> httpx.Response:
        return api.put(f"/api/interest/{code}", json={"asker": asker, "ttl_s": ttl_s})

    collected: list[str] = []

    def ready() -> bool:
        st = hub.status()
        collected[:] = st["collecting_stocks"]
        return st["ws_state"] == "ready" and len(collected) >= 12

    assert wait_for(ready, DEADLINE_S), hub.status()
    # the busiest stocks the hub does not collect (the market weights trades by real
    # trading value); from now on only they and a few collected ones trade
    outside = sorted(
        (s for s in market.sim.universe if s.code not in collected), key=lambda s: -s.value
    )
    a, b, c, d = (s.code for s in outside[:4])
    market.trade_only([a, b, c, d, *collected[:4]], trades_per_s=300)
    assert a not in market.sim.ws_hub.registered_items("0B")

    # -- a stock the hub does not collect: lease it, its live ticks come
    t0 = time.monotonic()
    r = put(a, "backend", 120)
    assert r.status_code == 201, r.text
    first_tick: list[float] = []

    def ticking() -> bool:
        if _ticks(hub.status(), a) > 0:
            first_tick.append(time.monotonic() - t0)
            return True
        return False

    assert wait_for(ticking, DEADLINE_S, poll=0.05), hub.status()
    record_property("interest_first_tick_s", round(first_tick[0], 3))
    st = hub.status()
    assert a in st["collecting_stocks"]
    assert _leases(st, a) == ["backend"]
    assert a in market.sim.ws_hub.registered_items("0B")
    assert wait_for(
        lambda: api.get(f"/api/tick-data/{a}", params={"limit": 1}).json()["ticks"], DEADLINE_S
    ), "the leased stock's ticks are stored too"

    # -- a second asker that stops renewing ("crashed"): its lease ends, the stock stays
    r = put(a, "crashed", 2)
    assert r.status_code == 201, r.text
    assert r.json()["askers"] == 2
    assert put(a, "backend", 120).status_code == 200  # a renewal
    assert wait_for(lambda: _leases(hub.status(), a) == ["backend"], DEADLINE_S)
    n = _ticks(hub.status(), a)
    assert wait_for(lambda: _ticks(hub.status(), a) > n, DEADLINE_S), "still collected"
    assert a in hub.status()["collecting_stocks"]

    # -- a lease nobody renews: when it ends the stock is unregistered (REMOVE)
    regs, removes = market.sim.ws_hub.stats["reg"], market.sim.ws_hub.stats["remove"]
    assert put(b, "crashed", 2).status_code == 201  # answered once the REG was acknowledged
    assert market.sim.ws_hub.stats["reg"] > regs
    assert wait_for(lambda: b not in market.sim.ws_hub.registered_items("0B"), DEADLINE_S)
    assert market.sim.ws_hub.stats["remove"] > removes
    st = hub.status()
    assert b not in st["collecting_stocks"]
    assert _leases(st, b) == []
    assert a in market.sim.ws_hub.registered_items("0B")  # the other lease is untouched

    # -- the cap (HUB_INTEREST_MAX_CODES=2): a and c fill it, d is refused with the reason
    assert put(c, "backend", 60).status_code == 201
    r = put(d, "backend", 60)
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "Conflict"
    assert "interest cap 2 reached" in r.json()["detail"]
    assert d not in hub.status()["collecting_stocks"]
    # a stock the hub collects anyway costs no registration: not refused
    assert put(collected[0], "backend", 60).status_code == 201

    # -- ended at once by the asker; a stock the top-N holds stays collected
    assert (
        api.delete(f"/api/interest/{collected[0]}", params={"asker": "backend"}).status_code == 204
    )
    assert api.delete(f"/api/interest/{a}", params={"asker": "backend"}).status_code == 204
    assert wait_for(lambda: a not in market.sim.ws_hub.registered_items("0B"), DEADLINE_S)
    st = hub.status()
    assert a not in st["collecting_stocks"]
    assert collected[0] in st["collecting_stocks"]
    assert collected[0] in market.sim.ws_hub.registered_items("0B")
    assert [s["stock_code"] for s in st["interest"]["stocks"]] == [c]

    # -- not a listed stock: 404, nothing leased
    r = put("999990", "backend", 60)
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "NotFound"
