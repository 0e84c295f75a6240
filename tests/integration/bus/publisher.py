"""The hub's side of the bus, without the hub: a process that publishes what the test asks,
the way the hub does, and serves its bus like the hub's app does (``bus_stream_router``).

``python -m tests.integration.bus.publisher --port P [--redis URL --prefix X]
[--cum-base N] [--buffer N] [--max-lag N]``

* ``POST /publish {"stocks": [...], "batches": n, "ticks": k, "books": true, "pad": 0}`` —
  ``n`` socket-thread-like batches from a plain thread (as the hub's socket thread does):
  each gives every listed stock ``k`` trades in one ``tick:<code>`` message (cumulative
  volume +1 per trade, from ``--cum-base``), sets its quote, and publishes its book. Answers
  when every publish call has returned, with the count and the latest quote/book per stock.
* ``POST /close-subscribers`` — the stream closes every subscriber (they reconnect).
* ``GET /state`` — epoch, counts, the stream's stats and the RedisBus queue state.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from gslts_common.bus import InProcessBus, RedisBus, make_bus, tick_batch
from gslts_common.bus_stream import BusStream, bus_stream_router

DAY = date(2026, 3, 3).toordinal()


class PublishIn(BaseModel):
    stocks: list[str]
    batches: int = 1
    ticks: int = 1
    books: bool = True
    #: extra bytes in every tick message (a bulkier stream for the slow-subscriber tests)
    pad: int = 0


def create_app(args: argparse.Namespace) -> FastAPI:
    state: dict[str, Any] = {"cum": {}, "quotes": {}, "books": {}}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.bus = make_bus(args.redis or None, args.prefix)
        try:
            yield
        finally:
            app.state.bus.close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(
        bus_stream_router(
            lambda a: a.state.bus,
            origin_hosts={"127.0.0.1", "localhost"},
            buffer_events=args.buffer,
            max_lag=args.max_lag,
            close_timeout_s=args.close_timeout,
        )
    )

    def publish(bus: InProcessBus, body: PublishIn) -> int:
        n = 0
        cum: dict[str, int] = state["cum"]
        first = {code: cum.get(code, args.cum_base) + 1 for code in body.stocks}
        pad = "x" * body.pad
        for _ in range(body.batches):
            for code in body.stocks:
                rows = []
                for _ in range(body.ticks):
                    c = cum[code] = cum.get(code, args.cum_base) + 1
                    rows.append([code, "KRX", DAY, c, time.time(), 70000 + c % 100, 1, c, 0, 0])
                event = tick_batch(code, rows)
                if pad:
                    event["pad"] = pad
                bus.publish_ticks(code, event)
                last = rows[-1]
                quote = {"code": code, "venue": "KRX", "price": last[5], "volume": 1,
                         "cum_volume": last[3], "cum_value": last[3], "time": "t"}  # fmt: skip
                bus.set_quote(code, quote)
                state["quotes"][code] = quote
                n += 1
                if body.books:
                    book = {"code": code, "venue": "KRX", "time": "t", "cum_volume": last[3],
                            "asks": [[70100, 1]], "bids": [[70000, 1]], "total_ask": 1,
                            "total_bid": 1}  # fmt: skip
                    bus.publish_book(code, book)
                    state["books"][code] = book
                    n += 1
        state["range"] = {code: [first[code], cum.get(code, 0)] for code in body.stocks}
        return n

    @app.post("/publish")
    def publish_route(body: PublishIn) -> dict[str, Any]:
        # a sync route runs on a worker thread: publishing from outside the loop, as the
        # hub's socket thread does
        n = publish(app.state.bus, body)
        return {
            "published": n,
            "cums": state["range"],  # per stock: [first, last] cumulative volume published
            "quotes": state["quotes"],
            "books": state["books"],
        }

    @app.post("/close-subscribers")
    async def close_subscribers() -> dict[str, int]:
        stream: BusStream = app.state.bus_stream
        return {"closed": stream.close_subscribers()}

    @app.get("/state")
    async def get_state() -> dict[str, Any]:
        bus = app.state.bus
        stream: BusStream = app.state.bus_stream
        out = {
            "epoch": bus.epoch,
            "published": bus.published,
            "dropped": bus.dropped,
            "stream": stream.stats(),
            "threads": threading.active_count(),
        }
        if isinstance(bus, RedisBus):
            out["redis_backlog"] = bus.backlog
            out["redis_sent"] = bus.redis_sent
        return out

    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--redis", default="")
    p.add_argument("--prefix", default="gslts:")
    p.add_argument("--cum-base", type=int, default=0)
    p.add_argument("--buffer", type=int, default=20_000)
    p.add_argument("--max-lag", type=int, default=10_000)
    p.add_argument("--close-timeout", type=float, default=60.0)
    args = p.parse_args()
    uvicorn.run(create_app(args), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
