"""Simulator flood: 100,000 ticks/s over 60 stocks, generated vs delivered end to end.

The simulator (``gslts_kiwoom.sim``: market model + REST + WebSocket under uvicorn, its own
ticker thread) runs in a separate process, as ``gslts sim`` would. One
:class:`gslts_kiwoom.KiwoomWebSocket` client in this process logs in (au10001 token),
registers 0B + 0D for the 60 most traded stocks, then ``POST /_sim/rate`` raises the rate
to ``BENCH_SIM_RATE`` (default 100,000) for ``BENCH_SIM_SECONDS`` (default 10) and puts it
back to 0. We then wait for the stream to drain and compare with ``/_sim/ground-truth``:

* ``sim.flood_generated_per_s`` — trades the market made during the window / window;
* ``sim.flood_delivered_per_s`` — 0B trades the client decoded / (first → last receive);
* ``sim.flood_lost`` — ground-truth trades of the window the client did not receive
  (also checked per stock through cumulative volume, FID 13: ``sim.flood_cum_volume_gaps``);
* ``sim.server_dropped`` / ``sim.client_dropped`` — where the lost ones went (the
  server's per-session cap for a slow consumer, ``SimWsConfig.max_pending_per_session`` =
  100,000 items, or the client's bounded queue);
* ``sim.server_us_per_trade`` — CPU time of the simulator process (generation, 0B/0D
  formatting, routing, sending) per generated trade; ``sim.load_1m`` the machine's load.

Any of the four loss figures above 0 fails the benchmark (``make bench`` exits 1): when
the client falls behind the flood by more than the server's cap, the server drops the
excess and the delivered rate is no longer that of a lossless stream. A drain cut by its
deadline with nothing dropped fails it too.

``BENCH_SIM_WS`` picks uvicorn's WebSocket implementation (default ``websockets-sansio``,
what ``gslts sim`` uses: it delivered ~67k/s where the legacy ``websockets`` one
delivered ~57k/s on 2 cores; ``wsproto`` is not installed).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import threading
import time
from typing import Any

import httpx
from pydantic import SecretStr

from gslts_kiwoom import (
    KiwoomClient,
    KiwoomConfig,
    KiwoomWebSocket,
    OrderBook,
    Trade,
    WsConfig,
)
from tests.bench._runner import BenchProblem

STOCKS = 60
#: how long the client may take to receive what the flood generated
DRAIN_S = 60.0


def _serve(port: int, ws_impl: str, ready: Any) -> None:
    import uvicorn

    from gslts_kiwoom.sim import SimConfig, Simulator, create_app

    sim = Simulator(
        SimConfig(
            port=port,
            seed=7,
            trades_per_s=100_000,  # sizes trades for a flood (value per trade)
            trade_universe=STOCKS,
            ws_items_per_frame=100,
            history_days=20,
            ground_truth_cap=5_000_000,
            default_rate_per_s=1000,
            rate_burst=1000,
            # at a flood the random walk reaches ±10 % within seconds; static VI would
            # halt those stocks (by design) and the bench would measure less than asked
            vi_threshold=0,
        )
    )
    sim.set_rate(0)  # quiet until the client has registered
    ready.set()
    uvicorn.run(create_app(sim), host="127.0.0.1", port=port, log_level="warning", ws=ws_impl)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run() -> dict[str, float]:
    """Flood the simulator for a while; returns the ``sim.*`` result keys."""
    rate = float(os.environ.get("BENCH_SIM_RATE", "100000"))
    seconds = float(os.environ.get("BENCH_SIM_SECONDS", "10"))
    ws_impl = os.environ.get("BENCH_SIM_WS", "websockets-sansio")
    port = _free_port()
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_serve, args=(port, ws_impl, ready), daemon=True)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    try:
        ready.wait(60)
        http = httpx.Client(base_url=base, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                http.get("/_sim/state").raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        return _flood(http, base, port, proc.pid or 0, rate, seconds)
    finally:
        proc.terminate()
        proc.join(10)


def _flood(
    http: httpx.Client, base: str, port: int, pid: int, rate: float, seconds: float
) -> dict[str, float]:
    rest = KiwoomClient(
        KiwoomConfig.for_mode(
            "sim",
            app_key=SecretStr("bench-sim-app"),
            secret_key=SecretStr("bench-sim-secret"),
            rest_url=base,
            rate_per_s=1000.0,
            rate_burst=1000,
        )
    )
    lock = threading.Lock()
    got: list[Trade] = []
    first_last = [0.0, 0.0]
    books = [0]

    def on_events(events: list[Any]) -> None:
        trades = [e for e in events if type(e) is Trade]
        books[0] += sum(1 for e in events if type(e) is OrderBook)
        if trades:
            now = time.perf_counter()
            with lock:
                if not got:
                    first_last[0] = now
                first_last[1] = now
                got.extend(trades)

    ws = KiwoomWebSocket(
        f"ws://127.0.0.1:{port}/api/dostk/websocket",
        lambda force: rest.token(force_new=force),
        WsConfig(watchdog_s=30.0),
        on_events=on_events,
    )
    ws.start()
    try:
        if not ws.wait_ready(10):
            raise RuntimeError("websocket did not log in")
        state = http.get("/_sim/state").json()
        seq0 = int(state["ground_truth"]["trades"])
        # the trade universe: the 60 most traded stocks (ka10032 ranks by 거래대금 too)
        codes = _top_codes(http)
        ws.subscribe(codes, ["0B", "0D"])
        time.sleep(0.5)  # REG acknowledged before the flood
        load0 = os.getloadavg()[0]
        cpu0 = _cpu_s(pid)
        t0 = time.perf_counter()
        http.post("/_sim/rate", json={"trades_per_s": rate, "codes": codes}).raise_for_status()
        time.sleep(seconds)
        http.post("/_sim/rate", json={"trades_per_s": 0}).raise_for_status()
        gen_wall = time.perf_counter() - t0
        total = int(http.get("/_sim/state").json()["ground_truth"]["trades"]) - seq0
        drain_deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < drain_deadline:
            with lock:
                n = len(got)
            if n >= total:
                break
            time.sleep(0.2)
        time.sleep(0.5)  # anything beyond the total (a duplicate) would show up now
        cpu = _cpu_s(pid) - cpu0
        load1 = os.getloadavg()[0]
        truth = _ground_truth(http, seq0)
        server_ws = http.get("/_sim/state").json()["ws"]["stats"]
        client_dropped = ws.stats.dropped_items.total()
    finally:
        ws.close()
        rest.close()
    with lock:
        received = list(got)
        span = first_last[1] - first_last[0]
    want = {(row[1], row[7]) for row in truth}
    have = {(t.code, t.cum_volume) for t in received}
    lost = len(want - have)
    gaps = _cum_gaps(truth, received)
    out = {
        "sim.flood_rate_target": rate,
        "sim.flood_stocks": len(codes),
        "sim.flood_generated": len(truth),
        "sim.flood_generated_per_s": round(len(truth) / gen_wall),
        "sim.flood_delivered": len(received),
        "sim.flood_delivered_per_s": round(len(received) / span) if span > 0 else 0,
        # 0D books per delivered trade: the simulator sends one book per changed stock per
        # market step, so the ratio falls as the rate rises (bench_ingest floods at 0.1)
        "sim.flood_books_per_trade": round(books[0] / max(len(received), 1), 3),
        "sim.flood_lost": lost,
        "sim.flood_cum_volume_gaps": gaps,
        "sim.server_dropped": int(server_ws.get("real_dropped", 0)),
        "sim.client_dropped": client_dropped,
        "sim.server_us_per_trade": round(cpu / max(len(truth), 1) * 1e6, 2),
        "sim.load_1m": round(max(load0, load1), 2),
    }
    if len(received) < len(truth) and not out["sim.server_dropped"] + client_dropped:
        # nothing was dropped, yet not everything came: the drain was cut by its deadline
        raise BenchProblem(
            [f"drain cut by its {DRAIN_S:.0f} s deadline: {len(received):,} of "
             f"{len(truth):,} trades received"],
            out,
        )  # fmt: skip
    return out


def _top_codes(http: httpx.Client) -> list[str]:
    from gslts_kiwoom.sim import load_universe

    ranked = sorted(load_universe(), key=lambda s: -s.value)
    return [s.code for s in ranked[:STOCKS]]


def _ground_truth(http: httpx.Client, since: int) -> list[list[Any]]:
    rows: list[list[Any]] = []
    while True:
        page = http.get("/_sim/ground-truth", params={"since_seq": since, "limit": 500_000})
        body = page.json()
        if not body["rows"]:
            return rows
        rows.extend(body["rows"])
        since = body["next_seq"]


def _cum_gaps(truth: list[list[Any]], received: list[Trade]) -> int:
    """Trades whose cumulative volume does not follow the previous one of the stock."""
    last: dict[str, int] = {}
    for row in truth:
        last.setdefault(row[1], row[7] - abs(row[6]))
    gaps = 0
    for t in received:
        prev = last.get(t.code)
        if prev is not None and t.cum_volume != prev + abs(t.volume):
            gaps += 1
        last[t.code] = t.cum_volume
    return gaps


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
