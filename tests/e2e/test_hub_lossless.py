"""Simulator → hub → MariaDB: every emitted trade stored exactly once, through faults."""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from gslts_hub.hub import Hub
from tests.e2e.harness import Comparison, Market, compare, wait_for

pytestmark = __import__("pytest").mark.e2e


def _settle_and_compare(hub: Hub, market: Market, engine: sa.Engine) -> Comparison:
    """Stop the market, let the hub commit everything it has, compare with the truth."""
    time.sleep(1.0)  # the last frames in flight
    market.halt_trading()
    codes = hub.collected_codes()

    def settled() -> bool:
        st = hub.status()
        return bool(st["journal_backlog_bytes"] == 0 and st["flush_lag_s"] == 0)

    time.sleep(1.0)
    assert wait_for(settled, 20), hub.status()
    res = compare(engine, market.feed.truth(codes), codes)
    return res


def _assert_exact(res: Comparison) -> None:
    assert res.duplicates == 0
    assert res.missing == [], f"{len(res.missing)} of {res.expected} missing: {res.missing[:10]}"
    assert res.unexpected == []
    assert res.mismatched == []
    assert res.stored == res.expected


def test_collects_ten_stocks_exactly_once(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub()
    t0 = time.monotonic()
    assert wait_for(lambda: hub.writer.stats.ticks_written >= 100, 10)
    assert time.monotonic() - t0 <= 10
    assert len(hub.collected_codes()) >= 10
    res = _settle_and_compare(hub, market, db_engine)
    _assert_exact(res)
    with db_engine.connect() as conn:
        n_codes = conn.exec_driver_sql("SELECT COUNT(DISTINCT stock_code) FROM tick_data").scalar()
    assert n_codes is not None
    assert n_codes >= 10


def _run_for(hub: Hub, seconds: float) -> None:
    n0 = hub.ticks_received
    time.sleep(seconds)
    assert hub.ticks_received > n0, "no live ticks"


def test_dropped_connection_gap_is_backfilled(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub()
    assert wait_for(lambda: hub.ws_state == "ready" and hub.ticks_received > 50, 15)
    for _ in range(2):
        market.drop_connections()
        time.sleep(1.5)  # the market trades on while the hub reconnects (backoff)
        assert wait_for(lambda: hub.ws_state == "ready", 10)
        _run_for(hub, 2.0)
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
    assert wait_for(lambda: hub.ws_state == "ready" and hub.ticks_received > 50, 15)
    market.stall()
    assert wait_for(lambda: hub.status()["watchdog_timeouts"] >= 1, 10)
    assert wait_for(lambda: hub.ws_state == "ready", 10)
    _run_for(hub, 2.5)
    res = _settle_and_compare(hub, market, db_engine)
    _assert_exact(res)
    assert hub.backfill.ticks > 0


def test_token_expiry_reissues_and_relogins(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub()
    assert wait_for(lambda: hub.ws_state == "ready" and hub.ticks_received > 50, 15)
    ws = hub.ws
    assert ws is not None
    logins_before = ws.stats.last_login_at
    market.expire_tokens()
    assert wait_for(lambda: ws.stats.login_failures >= 1, 10)
    assert wait_for(lambda: hub.ws_state == "ready" and ws.stats.last_login_at != logins_before, 15)
    _run_for(hub, 2.5)
    res = _settle_and_compare(hub, market, db_engine)
    _assert_exact(res)
    assert hub.backfill.errors == 0


def test_one_minute_candles_agree_with_stored_ticks(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub()
    assert wait_for(lambda: hub.writer.stats.ticks_written >= 300, 15)
    market.drop_connections()  # a backfilled gap forces rebuilt minutes too
    assert wait_for(lambda: hub.ws_state == "ready", 10)
    _run_for(hub, 2.0)
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
