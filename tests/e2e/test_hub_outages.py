"""The hub through a 30 s database outage and a ``kill -9`` (mid-flush, and with a backlog
only its journal holds): nothing lost, nothing doubled, the journal replayed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from gslts_hub.hub import Hub
from tests.e2e.harness import (
    Comparison,
    HubProcess,
    Market,
    PausableProxy,
    child_pids,
    free_port,
    hub_env,
    loss_report,
    stored_sources,
    wait_for,
)
from tests.e2e.test_hub_lossless import _assert_exact, _settle_and_compare, settle

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
        assert wait_for(lambda: hub.writer.stats.ticks_written > 50, 30)
        proxy.pause()
        t_out = time.monotonic()
        assert wait_for(lambda: not hub.status()["db_ok"], 30)
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
        assert wait_for(lambda: hub.status()["db_ok"], 60)
        res = _settle_and_compare(hub, market, db_engine)
        _assert_exact(res)
        kinds = [e["message"] for e in hub.status()["events"] if e["kind"] == "db"]
        assert any("unreachable" in m for m in kinds)
        assert any("back" in m for m in kinds)
    finally:
        proxy.stop()


def _stored(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT COUNT(*) FROM tick_data").scalar() or 0)


def _first_live(engine: sa.Engine) -> dict[str, int]:
    """Each stock's first stored live trade (cumulative volume): where the hub began."""
    with engine.connect() as conn:
        return {
            r[0]: int(r[1])
            for r in conn.exec_driver_sql(
                "SELECT stock_code, MIN(cum_volume) FROM tick_data WHERE source = 'live' "
                "GROUP BY stock_code"
            )
        }


def _halt_settle_compare(
    hub: HubProcess, market: Market, engine: sa.Engine, codes: list[str], marks: dict[str, int]
) -> Comparison:
    """Halt the market, wait until the hub has stored what it holds, compare; a loss
    fails with the developer's report (where the missing trades lie)."""
    marks["halt"] = len(market.feed.trades)
    market.halt_trading()
    truth = market.feed.truth()
    res = settle(hub.status, engine, truth, codes)
    if res.missing:
        pytest.fail(loss_report(res, truth, marks, hub.log_path.read_text()))
    _assert_exact(res)
    return res


def test_kill_9_mid_flush_then_restart_backfills_without_loss_or_doubles(
    market: Market, db_url: str, db_engine: sa.Engine, tmp_path: Path
) -> None:
    """Killed while flushing every 50 ms under a steady flow; the market trades on while
    nobody listens; the restarted hub fills that gap from ka10079 (``backfill``)."""
    env = hub_env(market, db_url, tmp_path / "data", HUB_FLUSH_INTERVAL_S="0.05")
    log_path = tmp_path / "hub.log"
    port = free_port()
    # ground-truth trades recorded at each moment: where a missing trade lies
    marks: dict[str, int] = {}
    first = HubProcess(env, port, log_path).start()
    try:
        assert wait_for(lambda: _stored(db_engine) > 200, 60)
        writer = first.status()["writer"]
        assert writer["mode"] == "process"
        assert first.proc is not None
        assert writer["pid"] in child_pids(first.proc.pid), "the writer is the hub's child"
        # flushing every 50 ms under a steady flow: mid-flush or close to it; the writer
        # process must not outlive the hub (it would race the next hub's writer)
        assert first.kill9() == []
        marks["kill"] = len(market.feed.trades)
        after_kill = _stored(db_engine)
        # the market trades on while nobody listens: a gap only ka10079 can fill
        assert wait_for(lambda: len(market.feed.trades) > marks["kill"] + 300, 60)
        marks["restart"] = len(market.feed.trades)
        second = HubProcess(env, port, log_path).start()
        marks["restarted"] = len(market.feed.trades)
    finally:
        first.terminate()
    try:
        codes: list[str] = []

        def collecting() -> bool:
            codes[:] = second.status()["collecting_stocks"]
            return len(codes) >= 10 and second.status()["ticks_received"] > 300

        assert wait_for(collecting, 60)
        res = _halt_settle_compare(second, market, db_engine, codes, marks)
        assert res.stored > after_kill
        status = second.status()
        assert status["backfill"]["ticks"] > 0, status["backfill"]
    finally:
        second.terminate()


def test_kill_9_with_a_journal_only_backlog_restart_stores_it_from_the_journal(
    market: Market, db_url: str, db_engine: sa.Engine, tmp_path: Path
) -> None:
    """The database is away (the proxy refuses it), so what the hub receives is journaled
    and not stored; the hub is killed; the restarted hub (database back) must store those
    trades from its journal: as ``live`` trades, not refetched from ka10079 (``backfill``),
    which would fill the same gap if the journal were lost."""
    url = sa.make_url(db_url)
    proxy = PausableProxy(url.host or "127.0.0.1", url.port or 3306).start()
    via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    env = hub_env(market, via_proxy, tmp_path / "data")
    log_path = tmp_path / "hub.log"
    port = free_port()
    marks: dict[str, int] = {}
    first = HubProcess(env, port, log_path).start()
    try:
        codes: list[str] = []

        def every_stock_stored() -> bool:  # its first stored trade is where its truth starts
            codes[:] = first.status()["collecting_stocks"]
            return len(codes) >= 10 and set(codes) <= set(_first_live(db_engine))

        assert wait_for(every_stock_stored, 120)
        proxy.pause()
        marks["db_away"] = len(market.feed.trades)
        assert wait_for(lambda: not first.status()["db_ok"], 30)
        received = first.status()["ticks_received"]
        assert wait_for(lambda: first.status()["ticks_received"] > received + 300, 60)
        # the trades made so far; once the hub has counted as many per stock as the truth
        # holds from its first stored one on, it has received (and journaled) all of them
        truth = market.feed.truth(codes)
        starts = _first_live(db_engine)  # read directly: the hub cannot write now
        want = {
            c: sum(1 for t in truth if t.code == c and t.cum_volume >= starts[c]) for c in codes
        }

        def received_all() -> bool:
            st = first.status()
            got = {s["code"]: s["ticks_today"] for s in st["stocks"]}
            return st["reconnects"] == 0 and all(got.get(c, 0) >= n for c, n in want.items())

        assert wait_for(received_all, 60), (want, first.status()["stocks"])
        journal_only = {
            (t.code, t.cum_volume) for t in truth if t.cum_volume >= starts[t.code]
        } - set(stored_sources(db_engine))
        assert len(journal_only) > 100, len(journal_only)
        assert first.status()["journal_backlog_bytes"] > 0
        assert first.kill9() == []
        marks["kill"] = len(market.feed.trades)
    finally:
        first.terminate()
    try:
        proxy.resume()  # the database is reachable again
        second = HubProcess(env, port, log_path).start()
        marks["restarted"] = len(market.feed.trades)
        try:

            def collecting() -> bool:
                st = second.status()
                codes[:] = st["collecting_stocks"]
                return len(codes) >= 10 and st["ticks_received"] > 300

            assert wait_for(collecting, 60)
            _halt_settle_compare(second, market, db_engine, codes, marks)
            sources = stored_sources(db_engine)
            not_live = sorted(k for k in journal_only if sources.get(k) != "live")
            assert not_live == [], (
                f"{len(not_live)} of {len(journal_only)} journaled trades were not stored "
                f"from the journal (source {sorted({str(sources.get(k)) for k in not_live})}): "
                f"{not_live[:10]}"
            )
        finally:
            second.terminate()
    finally:
        proxy.stop()
