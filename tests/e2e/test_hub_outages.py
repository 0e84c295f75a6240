"""The hub through a 30 s database outage and a ``kill -9``: nothing lost, nothing doubled."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from gslts_hub.hub import Hub
from tests.e2e.harness import (
    HubProcess,
    Market,
    PausableProxy,
    child_pids,
    compare,
    free_port,
    hub_env,
    loss_report,
    wait_for,
)
from tests.e2e.test_hub_lossless import _assert_exact, _settle_and_compare

pytestmark = pytest.mark.e2e

OUTAGE_S = 30.0


def test_database_outage_collects_into_journal_and_catches_up(
    make_hub: Callable[..., Hub], market: Market, db_url: str, db_engine: sa.Engine
) -> None:
    url = sa.make_url(db_url)
    proxy = PausableProxy(url.host or "127.0.0.1", url.port or 3306).start()
    try:
        via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        hub = make_hub(database_url=via_proxy)
        assert wait_for(lambda: hub.writer.stats.ticks_written > 50, 15)
        proxy.pause()
        t_out = time.monotonic()
        assert wait_for(lambda: not hub.status()["db_ok"], 10)
        received = hub.ticks_received
        written = hub.writer.stats.ticks_written
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t_out)))
        st = hub.status()
        # collecting went on: into the journal, not the database
        assert hub.ticks_received > received + 100
        assert st["journal_backlog_bytes"] > 10_000
        assert st["flush_lag_s"] > 20
        assert hub.writer.stats.ticks_written == written
        proxy.resume()
        assert wait_for(lambda: hub.status()["db_ok"], 20)
        res = _settle_and_compare(hub, market, db_engine)
        _assert_exact(res)
        kinds = [e["message"] for e in hub.status()["events"] if e["kind"] == "db"]
        assert any("unreachable" in m for m in kinds)
        assert any("back" in m for m in kinds)
    finally:
        proxy.stop()


def test_kill_9_mid_flush_then_restart_replays_and_backfills(
    market: Market, db_url: str, db_engine: sa.Engine, tmp_path: Path
) -> None:
    env = hub_env(market, db_url, tmp_path / "data", HUB_FLUSH_INTERVAL_S="0.05")
    log_path = tmp_path / "hub.log"
    port = free_port()

    def stored() -> int:
        with db_engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT COUNT(*) FROM tick_data").scalar() or 0)

    # ground-truth trades recorded at each moment: where a missing trade lies
    marks: dict[str, int] = {}
    first = HubProcess(env, port, log_path).start()
    try:
        assert wait_for(lambda: stored() > 200, 20)
        writer = first.status()["writer"]
        assert writer["mode"] == "process"
        assert writer["pid"] in child_pids(first.proc.pid), "the writer is the hub's child"
        # flushing every 50 ms under a steady flow: mid-flush or close to it; the writer
        # process must not outlive the hub (it would race the next hub's writer)
        assert first.kill9() == []
        marks["kill"] = len(market.feed.trades)
        after_kill = stored()
        time.sleep(2.0)  # the market trades on while nobody listens
        marks["restart"] = len(market.feed.trades)
        second = HubProcess(env, port, log_path).start()
        marks["restarted"] = len(market.feed.trades)
    finally:
        first.terminate()
    try:
        codes: list[str] = []

        def collecting() -> bool:
            codes[:] = second.status()["collecting_stocks"]
            return len(codes) >= 10

        assert wait_for(collecting, 15)
        time.sleep(3.0)
        time.sleep(1.0)
        market.halt_trading()

        def settled() -> bool:
            st = second.status()
            return bool(st["journal_backlog_bytes"] == 0 and st["flush_lag_s"] == 0)

        marks["halt"] = len(market.feed.trades)
        time.sleep(1.5)
        assert wait_for(settled, 20)
        status = second.status()
        truth = market.feed.truth()
        res = compare(db_engine, truth, codes)
        if res.missing:
            pytest.fail(loss_report(res, truth, marks, log_path.read_text()))
        _assert_exact(res)
        assert res.stored > after_kill
        assert status["backfill"]["ticks"] > 0, status["backfill"]
    finally:
        second.terminate()
