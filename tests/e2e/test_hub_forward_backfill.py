"""A stock that traded while the hub was disconnected and never again afterwards: its gap
has no live anchor, so the hub walks forward from its last stored trade (ka10079)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from gslts_hub.hub import Hub
from tests.e2e.harness import Market, compare, wait_for

pytestmark = pytest.mark.e2e


def test_gap_of_a_stock_that_stops_trading_is_walked_forward(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub(HUB_BACKFILL_FORWARD_AFTER_S="2")
    assert wait_for(lambda: hub.ws_state == "ready" and hub.ticks_received > 200, 15)
    before = {c: st.last_cum for c, st in hub.stocks.items() if st.last_cum is not None}
    assert len(before) >= 5
    keep = max(before, key=lambda c: before[c] or 0)  # the one stock still trading later
    market.fault(drop_connections=True, reject_login=2)  # a gap of a few seconds
    time.sleep(1.5)  # … in which every stock trades
    market.trade_only([keep])  # then all but one stop for the rest of the "day"
    assert wait_for(lambda: hub.ws_state == "ready", 15)
    silent = [
        c
        for c, cum in before.items()
        if c != keep and any(t.cum_volume > (cum or 0) for t in market.feed.truth([c]))
    ]
    assert len(silent) >= 3, "the silent stocks must have traded during the gap"
    codes = hub.collected_codes()

    def complete() -> bool:
        return compare(db_engine, market.feed.truth(codes), codes).missing == []

    assert wait_for(complete, 30), hub.status()["backfill"]
    market.halt_trading()
    time.sleep(1.0)
    assert wait_for(lambda: hub.status()["journal_backlog_bytes"] == 0, 20)
    res = compare(db_engine, market.feed.truth(codes), codes)
    assert res.missing == []
    assert res.duplicates == 0
    assert res.unexpected == []
    assert res.mismatched == []
    with db_engine.connect() as conn:
        filled = {
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT DISTINCT stock_code FROM tick_data WHERE source = 'backfill'"
            )
        }
    assert set(silent) <= filled  # their gap trades came from the forward walk
    recent = hub.status()["backfill"]["recent"]
    assert any("forward" in r["detail"] and r["consistent"] for r in recent), recent
    assert hub.backfill.gaps_flagged == 0, recent
