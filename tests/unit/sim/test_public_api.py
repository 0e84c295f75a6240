"""Public surface: ``__all__`` lists exactly what the modules export; the ticker runs."""

from __future__ import annotations

import time

import gslts_kiwoom.sim as sim_pkg
from gslts_kiwoom import krx

from .conftest import TestClient, create_app, make_sim


def test_all_names_resolve() -> None:
    for module in (sim_pkg, krx):
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, f"{module.__name__}.__all__ names missing attributes: {missing}"
    public = {n for n in vars(sim_pkg) if not n.startswith("_")} - {"annotations"}
    assert public == set(sim_pkg.__all__)


def test_lifespan_runs_the_ticker_with_time_warp() -> None:
    sim = make_sim(ticker=True, time_warp=60.0, tick_interval_s=0.02)
    start = sim.now
    with TestClient(create_app(sim)) as client:
        deadline = time.monotonic() + 5
        while sim.now == start and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.get("/_sim/state").json()["now"] != start.isoformat()
    # at 60x, a fraction of a wall second is already seconds of market time
    assert (sim.now - start).total_seconds() > 1
    stopped_at = sim.now
    time.sleep(0.1)
    assert sim.now == stopped_at  # the lifespan stopped the ticker
