"""Orders through the main server against the simulator, beside the broker round trip
alone, measured in one run:

* ``orders.p50_ms`` / ``orders.p99_ms`` — ``POST /api/orders`` sent → the order's
  ``accepted`` (접수) pushed on the user's ``/ws``: the backend's checks, the row committed
  before the call, kt10000 to the simulator, the simulator's ``00`` to the hub, the hub's
  bus relay, the backend's state machine and the push;
* ``orders.per_s`` — sustained accepted orders per second with ``BENCH_ORDERS_THREADS``
  clients posting at once for ``BENCH_ORDERS_SECONDS``;
* ``orders.broker_p50_ms`` / ``orders.broker_p99_ms`` / ``orders.broker_per_s`` — the same
  kt10000 straight from a :class:`~gslts_kiwoom.KiwoomClient` (the ceiling: what the
  broker round trip alone costs here), and ``orders.p50_vs_broker`` the ratio.

Every order is a 1-share limit buy at the day's lower limit (it rests: acceptance, not
fills, is measured). The simulator's and the backend's request-rate limits are lifted
(Kiwoom's real limit is a few orders per second per app key: this measures our overhead,
not Kiwoom's allowance). MariaDB at ``BENCH_MYSQL_URL`` (own schema, dropped after).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from tests.bench._mysql import MYSQL_URL


def _pct(values: list[float], q: float) -> float:
    vs = sorted(values)
    if not vs:
        return float("nan")
    return vs[min(len(vs) - 1, int(q * len(vs)))]


def _accepted(oid: int) -> Any:
    def pred(b: Any) -> bool:
        return any(
            m.get("id") == oid and m.get("state") == "accepted"
            for m in b.received[-50:]
            if m.get("type") == "order"
        )

    return pred


def run() -> dict[str, float]:
    from gslts_backend.settings import BackendSettings
    from gslts_kiwoom import KiwoomClient, KiwoomConfig, OrderType
    from tests.e2e.harness import HubProcess, Market, hub_env, own_schema
    from tests.integration.backend.ws.harness import browser, free_port, serve, wait_for

    n_latency = int(os.environ.get("BENCH_ORDERS_N", "200"))
    threads = int(os.environ.get("BENCH_ORDERS_THREADS", "4"))
    seconds = float(os.environ.get("BENCH_ORDERS_SECONDS", "10"))
    password = "bench-orders-lamp-stone-42"
    out: dict[str, float] = {}
    market = Market(
        trades_per_s=100,
        default_rate_per_s=10_000,
        rate_burst=10_000,
        initial_cash=100_000_000_000,  # thousands of resting buys
    ).start()
    tmp = Path(tempfile.mkdtemp(prefix="gslts-bench-orders-"))
    try:
        with own_schema(MYSQL_URL) as db_url:
            hub = HubProcess(
                hub_env(market, db_url, tmp / "data"), free_port(), tmp / "hub.log"
            ).start()
            try:
                assert wait_for(lambda: hub.status()["ws_state"] == "ready", 60), hub.status()
                settings = BackendSettings(
                    _env_file=None,
                    kiwoom_mode="sim",
                    kiwoom_rest_url=market.rest_url,
                    kiwoom_ws_url=market.ws_url,
                    kiwoom_rate_per_s=10_000,
                    kiwoom_rate_burst=10_000,
                    redis_url=None,
                    database_url=db_url,
                    hub_url=hub.url,
                    gslts_admin_password=SecretStr(password),
                    order_rate_per_s=10_000,
                    order_rate_burst=10_000,
                    order_max_quantity=10,
                )
                with serve(settings) as srv:
                    token = httpx.post(
                        srv.url + "/api/auth/login",
                        json={"username": "admin", "password": password, "token": "bearer"},
                        timeout=30,
                    ).json()["token"]
                    headers = {"Authorization": f"Bearer {token}"}
                    broker = KiwoomClient(
                        KiwoomConfig.for_mode(
                            "sim",
                            app_key=SecretStr("sim-app-key"),
                            secret_key=SecretStr("sim-secret-key"),
                            rest_url=market.rest_url,
                            ws_url=market.ws_url,
                            rate_per_s=10_000,
                            rate_burst=10_000,
                        )
                    )
                    # the cheapest stock the hub collects (its 00 events are relayed)
                    lower, code = min(
                        (broker.get_quote(c).lower_limit, c)
                        for c in hub.status()["collecting_stocks"]
                    )
                    body = {"stock_code": code, "side": "buy", "quantity": 1,
                            "order_type": "limit", "price": lower}  # fmt: skip
                    api = httpx.Client(base_url=srv.url, headers=headers, timeout=30)
                    for _ in range(5):  # warm up: token, quote, account caches
                        api.post("/api/orders", json=body).raise_for_status()

                    async def latencies() -> list[float]:
                        b = await browser(srv.ws_url, headers)
                        assert await b.wait(lambda b: bool(b.of("hello")))
                        got: list[float] = []
                        for _ in range(n_latency):
                            t0 = time.perf_counter()
                            r = await asyncio.to_thread(api.post, "/api/orders", json=body)
                            r.raise_for_status()
                            oid = r.json()["id"]
                            ok = await b.wait(_accepted(oid), 30)
                            assert ok, f"no accepted push for order {oid}"
                            got.append((time.perf_counter() - t0) * 1000)
                            b.received.clear()
                        await b.close()
                        return got

                    lat = asyncio.run(latencies())
                    out["orders.n"] = float(len(lat))
                    out["orders.p50_ms"] = round(statistics.median(lat), 2)
                    out["orders.p99_ms"] = round(_pct(lat, 0.99), 2)

                    done = [0]
                    lock = threading.Lock()
                    stop_at = time.monotonic() + seconds

                    def hammer() -> None:
                        with httpx.Client(base_url=srv.url, headers=headers, timeout=30) as c:
                            while time.monotonic() < stop_at:
                                r = c.post(
                                    "/api/orders",
                                    json={**body, "client_order_id": f"b-{uuid.uuid4().hex}"},
                                )
                                if r.status_code == 201:
                                    with lock:
                                        done[0] += 1

                    t0 = time.monotonic()
                    ts = [threading.Thread(target=hammer) for _ in range(threads)]
                    for t in ts:
                        t.start()
                    for t in ts:
                        t.join()
                    out["orders.per_s"] = round(done[0] / (time.monotonic() - t0), 1)

                    # the broker round trip alone, same stock, same order
                    raw: list[float] = []
                    for _ in range(n_latency):
                        t1 = time.perf_counter()
                        broker.buy(code, 1, lower, order_type=OrderType.LIMIT)
                        raw.append((time.perf_counter() - t1) * 1000)
                    out["orders.broker_p50_ms"] = round(statistics.median(raw), 2)
                    out["orders.broker_p99_ms"] = round(_pct(raw, 0.99), 2)
                    n = 0
                    t2 = time.monotonic()
                    while time.monotonic() - t2 < seconds / 2:
                        broker.buy(code, 1, lower, order_type=OrderType.LIMIT)
                        n += 1
                    out["orders.broker_per_s"] = round(n / (time.monotonic() - t2), 1)
                    out["orders.p50_vs_broker"] = round(
                        out["orders.p50_ms"] / max(out["orders.broker_p50_ms"], 1e-6), 2
                    )
                    api.close()
                    broker.close()
            finally:
                hub.terminate()
    finally:
        market.stop()
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
