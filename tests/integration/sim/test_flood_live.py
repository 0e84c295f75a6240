"""The flood path end to end: a high rate over 60 stocks through the real WebSocket and
REST. Functional only (nothing is timed): what the client receives is exactly the ground
truth, the book and trade fields stay consistent, and REST agrees with the stream.

The heartbeat runs throughout, behind ~50,000 trades of REAL frames, but with the
conftest's allowance (30 s of unanswered PINGs, client watchdog 30 s): a loaded machine
that stalls the client for seconds must not cut the session, which would lose trades
(it did: 3 missed PINGs at 0.2 s closed it with R10002 in 1 CI run in 4)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import httpx

from gslts_kiwoom import krx
from gslts_kiwoom.realtime import OrderBook, RealtimeEvent, Trade
from tests.integration.sim.conftest import DEADLINE_S, FAST_WS, SimServer, collect

Make = Callable[..., SimServer]


def _trades(events: list[RealtimeEvent]) -> list[Trade]:
    return [e for e in events if isinstance(e, Trade)]


def _all_rows(srv: SimServer) -> list[list[object]]:
    rows: list[list[object]] = []
    since = 0
    while True:
        body = httpx.get(
            f"{srv.rest_url}/_sim/ground-truth",
            params={"since_seq": since, "limit": 100_000},
            timeout=DEADLINE_S,
        ).json()
        if not body["rows"]:
            assert body["dropped"] == 0
            return rows
        rows.extend(body["rows"])
        since = body["next_seq"]


def test_flood_over_60_stocks_streams_exactly_the_ground_truth(make_server: Make) -> None:
    srv = make_server(trades_per_s=50_000.0, trade_universe=60, ws_items_per_frame=100)
    codes = list(srv.sim.market._focus[0])  # type: ignore[index]
    assert len(codes) == 60
    rest = srv.client()
    ws = srv.ws(rest, FAST_WS)
    ws.subscribe(codes, ["0B", "0D"])
    srv.advance(1.0, 0.1)
    rows = _all_rows(srv)
    assert len(rows) > 30_000
    events = collect(ws, lambda ev: len(_trades(ev)) >= len(rows), timeout=2 * DEADLINE_S)
    got = _trades(events)
    # one session throughout: never cut by the heartbeat or the watchdog
    assert srv.sim.ws_hub.stats["heartbeat_close"] == 0
    assert (ws.stats.reconnects, ws.stats.watchdog_timeouts) == (0, 0)
    assert ws.stats.dropped_items.total() == 0
    assert srv.sim.ws_hub.stats["real_dropped"] == 0
    # every trade once, in emission order, with the ground truth's numbers
    assert [(t.code, t.price, t.volume, t.cum_volume, t.time.strftime("%H%M%S")) for t in got] == [
        (r[1], r[5], r[6], r[7], str(r[4])[:6]) for r in rows
    ]
    assert {t.code for t in got} == set(codes)
    by_code: dict[str, list[Trade]] = {}
    for t in got:
        by_code.setdefault(t.code, []).append(t)
    for code, ticks in by_code.items():
        st = srv.sim.market.state(code)
        for t in ticks:
            assert krx.is_valid_price(t.price), t
            assert st.lower <= t.price <= st.upper
            assert t.low <= t.price <= t.high
            assert t.best_bid < t.best_ask or not t.best_bid or not t.best_ask
        # no gap in cumulative volume (FID 13), value (FID 14) never goes down
        for a, b in itertools.pairwise(ticks):
            assert b.cum_volume - a.cum_volume == abs(b.volume)
            assert b.cum_value >= a.cum_value
            assert b.time >= a.time
    # one 0D per changed stock per step, and the last 0B before it shows its best levels
    last: dict[str, Trade] = {}
    books = 0
    for e in events:
        if isinstance(e, Trade):
            last[e.code] = e
        elif isinstance(e, OrderBook) and e.code in last:
            books += 1
            assert (last[e.code].best_ask, last[e.code].best_bid) == (e.asks[0][0], e.bids[0][0])
    assert 60 <= books <= 60 * 10
    # REST reads the same history: ka10079 (one row per trade) equals the ground truth
    code = max(by_code, key=lambda c: len(by_code[c]))
    mine = [r for r in rows if r[1] == code]
    assert len(mine) <= srv.sim.config.trade_history
    chart = rest.get_tick_chart(code, max_pages=20)
    assert len(chart) == len(mine)
    assert [(c.close, c.volume) for c in chart] == [(r[5], abs(int(str(r[6])))) for r in mine]
    quote = rest.get_quote(code)
    assert (quote.price, quote.volume) == (mine[-1][5], mine[-1][7])
