"""``serve(config)``: run the simulator under uvicorn (blocking; used by ``gslts sim``)."""

from __future__ import annotations

import logging
import threading

from gslts_kiwoom import krx
from gslts_kiwoom.sim._app import create_app
from gslts_kiwoom.sim._config import SimConfig
from gslts_kiwoom.sim._simulator import Simulator

log = logging.getLogger("gslts_kiwoom.sim")


def serve(config: SimConfig) -> None:
    """Build a :class:`Simulator`, log one start line, and serve until interrupted."""
    import uvicorn

    sim = Simulator(config)
    # The XKRX calendar takes seconds to build; warm it off the request path.
    # The sector world (about a second) likewise, after it: a request needing it waits.
    feed = sim.market.sector_feed

    def warm() -> None:
        krx.is_trading_day(sim.now.date())
        if feed is not None:
            feed.world()

    threading.Thread(target=warm, name="sim-calendar", daemon=True).start()
    log.info(
        "sim_listening url=http://%s:%d clock=%s time_warp=%s universe=%d",
        config.host,
        config.port,
        config.clock,
        config.time_warp,
        len(sim.universe),
    )
    # websockets-sansio: the fastest of uvicorn's WebSocket implementations for the
    # flood (tests/bench/bench_sim.py: ~67k vs ~57k ticks/s delivered with "websockets")
    uvicorn.run(
        create_app(sim),
        host=config.host,
        port=config.port,
        log_level="warning",
        ws="websockets-sansio",
    )
