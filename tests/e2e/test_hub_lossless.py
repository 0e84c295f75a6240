"""Simulator → hub → MariaDB: every emitted trade stored exactly once, through faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from gslts_hub.hub import Hub
from gslts_kiwoom.sim import Trade
from tests.e2e.harness import Comparison, Market, compare, wait_for

pytestmark = __import__("pytest").mark.e2e


def settle(
    status: Callable[[], dict[str, Any]],
    engine: sa.Engine,
    truth: list[Trade],
    codes: list[str],
    timeout: float = 60.0,
) -> Comparison:
    """With the market halted: wait (generously) until the hub has committed all it holds
    and every expected trade is stored, then compare. Waiting on that condition instead of
    a sleep keeps a slow machine from failing the test, and a hub that never stores a trade
    from failing it late: the comparison then says what is wrong."""

    def done() -> bool:
        st = status()
        if st["journal_backlog_bytes"] or st["flush_lag_s"]:
            return False
        return compare(engine, truth, codes).missing == []

    wait_for(done, timeout, poll=0.5)
    return compare(engine, truth, codes)


def _settle_and_compare(hub: Hub, market: Market, engine: sa.Engine) -> Comparison:
    """Stop the market, let the hub commit everything it has, compare with the truth."""
    market.halt_trading()  # returns once the ticker has stopped: the truth is final
    codes = hub.collected_codes()
    return settle(hub.status, engine, market.feed.truth(codes), codes)


def _assert_exact(res: Comparison) -> None:
    assert res.unstored == [], f"collected, traded, nothing stored: {res.unstored}"
    assert res.duplicates == 0
    assert res.missing == [], f"{len(res.missing)} of {res.expected} missing: {res.missing[:10]}"
    assert res.unexpected == []
    assert res.mismatched == [], f"{len(res.mismatched)} differ: {res.mismatched[:10]}"
    assert res.stored == res.expected


def test_collects_ten_stocks_exactly_once(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub()
    assert wait_for(lambda: hub.writer.stats.ticks_written >= 100, 30)
    assert len(hub.collected_codes()) >= 10
    res = _settle_and_compare(hub, market, db_engine)
    _assert_exact(res)
    with db_engine.connect() as conn:
        n_codes = conn.exec_driver_sql("SELECT COUNT(DISTINCT stock_code) FROM tick_data").scalar()
    assert n_codes is not None
    assert n_codes >= 10


def _run_for(hub: Hub, ticks: int) -> None:
    """Wait until the hub has received ``ticks`` more live trades (the market at ~300
    trades/s: about a second per 300)."""
    n0 = hub.ticks_received
    assert wait_for(lambda: hub.ticks_received >= n0 + ticks, 60), "no live ticks"


def test_dropped_connection_gap_is_backfilled(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub()
    assert wait_for(lambda: hub.ws_state == "ready" and hub.ticks_received > 50, 30)
    for i in range(2):
        assert market.drop_connections() == 1
        time.sleep(1.5)  # the market trades on while the hub reconnects (backoff)
        assert wait_for(lambda i=i: hub.status()["reconnects"] > i and hub.ws_state == "ready", 30)
        _run_for(hub, 600)
    res = _settle_and_compare(hub, market, db_engine)
    _assert_exact(res)
    st = hub.status()
    assert st["reconnects"] >= 2
    assert st["backfill"]["gaps"] >= 1
    assert st["backfill"]["ticks"] > 0
    assert st["backfill"]["gaps_flagged"] == 0, st["backfill"]
    assert any(e["kind"] == "backfill" for e in st["events"])


def test_stall_watchdog_reconnects_and_backfills(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub()
    assert wait_for(lambda: hub.ws_state == "ready" and hub.ticks_received > 50, 30)
    market.stall()
    assert wait_for(lambda: hub.status()["watchdog_timeouts"] >= 1, 30)
    assert wait_for(lambda: hub.ws_state == "ready", 30)
    _run_for(hub, 750)
    res = _settle_and_compare(hub, market, db_engine)
    _assert_exact(res)
    assert hub.backfill.ticks > 0


def test_token_expiry_reissues_and_relogins(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub()
    assert wait_for(lambda: hub.ws_state == "ready" and hub.ticks_received > 50, 30)
    ws = hub.ws
    assert ws is not None
    logins_before = ws.stats.last_login_at
    market.expire_tokens()
    assert wait_for(lambda: ws.stats.login_failures >= 1, 30)
    assert wait_for(lambda: hub.ws_state == "ready" and ws.stats.last_login_at != logins_before, 30)
    _run_for(hub, 750)
    res = _settle_and_compare(hub, market, db_engine)
    _assert_exact(res)
    assert hub.backfill.errors == 0


def test_one_minute_candles_agree_with_stored_ticks(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub()
    assert wait_for(lambda: hub.writer.stats.ticks_written >= 300, 30)
    assert market.drop_connections() == 1  # a backfilled gap forces rebuilt minutes too
    assert wait_for(lambda: hub.status()["reconnects"] >= 1 and hub.ws_state == "ready", 30)
    _run_for(hub, 600)
    _assert_exact(_settle_and_compare(hub, market, db_engine))
    bars: dict[tuple[str, object], list[int]] = {}
    with db_engine.connect() as conn:
        for r in conn.exec_driver_sql(
            "SELECT stock_code, trade_time, price, volume FROM tick_data "
            "ORDER BY stock_code, cum_volume"
        ):
            key = (r.stock_code, r.trade_time.replace(second=0, microsecond=0))
            qty = abs(r.volume)
            b = bars.get(key)
            if b is None:
                bars[key] = [r.price, r.price, r.price, r.price, qty, 1]
            else:
                b[1], b[2], b[3] = max(b[1], r.price), min(b[2], r.price), r.price
                b[4] += qty
                b[5] += 1
        stored = {
            (r.stock_code, r.start_time): [r.open, r.high, r.low, r.close, r.volume, r.trade_count]
            for r in conn.exec_driver_sql(
                "SELECT stock_code, start_time, open, high, low, close, volume, trade_count "
                "FROM candles WHERE bar_interval = '1m'"
            )
        }
    assert len(bars) >= 10
    assert stored == bars
