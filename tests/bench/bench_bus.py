"""Bus latency: the hub publishes → a subscriber in another process has it, per transport.

A publisher *process* stands for the hub: its bus (``make_bus``), served at ``/bus/stream``
by the same router the hub mounts, fed from a plain thread the way the hub's socket thread
feeds it — every 5 ms a "socket read" of trades spread over ``BENCH_BUS_STOCKS`` stocks by
a trading-value-like weight (1/rank), one ``tick:<code>`` message per stock per read (the
hub's batching), a quote per message and a book per stock at most every 0.1 s. Every
trade's ``time`` is its publish time (epoch seconds). This process follows it with the
follower the backend uses and takes, for each message, now − publish time.

* ``bus.stream.*`` — no Redis: :class:`StreamFollower` over the hub's WebSocket stream;
* ``bus.redis.*`` — RedisBus → Redis pub/sub → :class:`RedisFollower` (skipped, with a
  note, when Redis at ``BENCH_REDIS_URL`` / 127.0.0.1:6379 is not there);
* ``bus.p99_ms`` — the no-Redis default (= ``bus.stream.p99_ms``).

Per transport: ``p50_ms``/``p99_ms``/``max_ms`` (publish → subscriber callback),
``ticks_per_s`` (achieved publish rate), ``msgs_per_s``, ``publish_us`` (mean cost per
tick message on the publishing thread: building it with ``tick_batches``, publishing it and
setting the quote) and ``lost`` (trades published but not received: must be 0).
``BENCH_BUS_RATE`` (10000 trades/s), ``BENCH_BUS_SECONDS`` (10), ``BENCH_BUS_STOCKS`` (50).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx

from tests.bench._runner import BenchProblem

DAY = date(2026, 3, 3).toordinal()
READ_EVERY_S = 0.005
BOOK_EVERY_S = 0.1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- the publisher process
def _publisher(args: argparse.Namespace) -> None:
    import uvicorn
    from fastapi import FastAPI

    from gslts_common.bus import RedisBus, make_bus, tick_batches
    from gslts_common.bus_stream import bus_stream_router

    result: dict[str, Any] = {"done": False}

    def feed(bus: Any, rate: float, seconds: float, n_stocks: int) -> None:
        stocks = [f"{i:06d}" for i in range(1, n_stocks + 1)]
        weights = [1 / (r + 1) for r in range(n_stocks)]
        rng = random.Random(42)
        cum = dict.fromkeys(stocks, 0)
        book_at = dict.fromkeys(stocks, 0.0)
        per_read = rate * READ_EVERY_S
        owed = 0.0
        ticks = msgs = 0
        spent = 0.0
        calls = 0
        t0 = time.monotonic()
        nxt = t0
        while time.monotonic() - t0 < seconds:
            owed += per_read
            k, owed = int(owed), owed - int(owed)
            now = time.time()
            arrays = []
            for code in rng.choices(stocks, weights, k=k):
                c = cum[code] = cum[code] + 1
                arrays.append([code, "KRX", DAY, c, now, 70000, 1, c, 70100, 70000])
            c0 = time.perf_counter()
            for code, event in tick_batches(arrays).items():
                bus.publish_ticks(code, event)
                bus.set_quote(code, {"code": code, "price": 70000, "cum_volume": cum[code]})
                msgs += 1
                calls += 1
                if now - book_at[code] >= BOOK_EVERY_S:
                    book_at[code] = now
                    bus.publish_book(code, {"code": code, "asks": [[70100, 1]] * 10,
                                            "bids": [[70000, 1]] * 10})  # fmt: skip
                    msgs += 1
            spent += time.perf_counter() - c0
            ticks += k
            nxt += READ_EVERY_S
            pause = nxt - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        elapsed = time.monotonic() - t0
        result.update(
            done=True,
            ticks=ticks,
            msgs=msgs,
            seconds=elapsed,
            publish_us=spent / max(1, calls) * 1e6,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.bus = make_bus(args.redis or None, args.prefix)
        try:
            yield
        finally:
            app.state.bus.close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(bus_stream_router(lambda a: a.state.bus))

    @app.post("/start")
    def start(body: dict[str, float]) -> dict[str, bool]:
        threading.Thread(
            target=feed,
            args=(app.state.bus, body["rate"], body["seconds"], int(body["stocks"])),
            name="socket-thread",
            daemon=True,
        ).start()
        return {"started": True}

    @app.get("/result")
    def get_result() -> dict[str, Any]:
        bus = app.state.bus
        backlog = bus.backlog if isinstance(bus, RedisBus) else 0
        return {**result, "backlog": backlog, "dropped": bus.dropped}

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


# ---------------------------------------------------------------------- the subscriber side
def _measure(transport: str, rate: float, seconds: float, n_stocks: int) -> dict[str, float]:
    from gslts_common.bus import TICK_CHANNEL
    from gslts_common.bus_follow import Follower, RedisFollower, StreamFollower

    port = _free_port()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    cmd = [sys.executable, "-m", "tests.bench.bench_bus", "--publisher", "--port", str(port),
           "--prefix", prefix]  # fmt: skip
    if transport == "redis":
        cmd += ["--redis", redis_url]
    proc = subprocess.Popen(cmd)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    latencies: list[float] = []
    received = [0]

    def on_event(channel: str, event: dict[str, Any]) -> None:
        if channel.startswith(TICK_CHANNEL):
            latencies.append(time.time() - event["time"][-1])
            received[0] += event["n"]

    follower: Follower | None = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http.get("/result").raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        if transport == "redis":
            follower = RedisFollower(redis_url, prefix=prefix, channels=["tick", "book"])
        else:
            follower = StreamFollower(f"http://127.0.0.1:{port}", channels=["tick", "book"])
        follower.subscribe(on_event)
        follower.start()
        deadline = time.monotonic() + 30
        while not follower.connected:
            if time.monotonic() > deadline:
                raise BenchProblem([f"bus.{transport}: the follower did not connect"])
            time.sleep(0.05)
        http.post("/start", json={"rate": rate, "seconds": seconds, "stocks": n_stocks})
        deadline = time.monotonic() + seconds + 120
        res: dict[str, Any] = {}
        while time.monotonic() < deadline:
            res = http.get("/result").json()
            if res["done"] and res["backlog"] == 0 and received[0] >= res["ticks"]:
                break
            time.sleep(0.2)
        time.sleep(0.5)  # anything late (duplicates would show as received > published)
        if not res.get("done"):
            raise BenchProblem([f"bus.{transport}: the publisher did not finish"])
    finally:
        if follower is not None:
            follower.close()
        proc.terminate()
        proc.wait(30)
        http.close()
    lat = sorted(latencies)
    if not lat:
        raise BenchProblem([f"bus.{transport}: nothing received"])

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2)

    ns = f"bus.{transport}."
    return {
        ns + "p50_ms": pct(0.50),
        ns + "p99_ms": pct(0.99),
        ns + "max_ms": round(lat[-1] * 1000, 2),
        ns + "ticks_per_s": round(res["ticks"] / res["seconds"]),
        ns + "msgs_per_s": round(res["msgs"] / res["seconds"]),
        ns + "publish_us": round(res["publish_us"], 2),
        ns + "lost": res["ticks"] - received[0],
        ns + "gaps": follower.gaps if follower is not None else 0,
    }


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


def run() -> dict[str, float]:
    """Both transports at ``BENCH_BUS_RATE`` trades/s; returns the ``bus.*`` keys."""
    rate = float(os.environ.get("BENCH_BUS_RATE", "10000"))
    seconds = float(os.environ.get("BENCH_BUS_SECONDS", "10"))
    n_stocks = int(os.environ.get("BENCH_BUS_STOCKS", "50"))
    out = _measure("stream", rate, seconds, n_stocks)
    out["bus.p99_ms"] = out["bus.stream.p99_ms"]
    if _redis_up() or os.environ.get("BENCH_REDIS_URL"):
        out.update(_measure("redis", rate, seconds, n_stocks))
    else:
        print("   bus.redis: skipped, no Redis at 127.0.0.1:6379 (BENCH_REDIS_URL)", flush=True)
    return out


if __name__ == "__main__":
    if "--publisher" in sys.argv:
        p = argparse.ArgumentParser()
        p.add_argument("--publisher", action="store_true")
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--redis", default="")
        p.add_argument("--prefix", default="gslts:")
        _publisher(p.parse_args())
    else:
        print(json.dumps(run(), indent=2))
