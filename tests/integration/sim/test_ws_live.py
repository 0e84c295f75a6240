"""Client ↔ simulator over real sockets: KiwoomWebSocket + KiwoomClient against
``create_app(sim)`` (REST and ``/api/dostk/websocket`` on one port)."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest
import websocket

from gslts_kiwoom import krx
from gslts_kiwoom.realtime import (
    BalanceEvent,
    IndexTick,
    MarketPhase,
    OrderBook,
    OrderEvent,
    OrderState,
    RealtimeEvent,
    Trade,
    ViEvent,
)
from tests.integration.sim.conftest import (
    DEADLINE_S,
    FAST_WS,
    SimServer,
    collect,
    echoes_seen,
    wait_until,
)

Make = Callable[..., SimServer]


def _codes(srv: SimServer) -> list[str]:
    focus = srv.sim.market._focus
    assert focus is not None
    return list(focus[0])


def _trades(events: list[RealtimeEvent]) -> list[Trade]:
    return [e for e in events if isinstance(e, Trade)]


def test_stream_equals_ground_truth_and_is_consistent(make_server: Make) -> None:
    srv = make_server()
    codes = _codes(srv)
    rest = srv.client()
    ws = srv.ws(rest)
    ws.subscribe(codes, ["0B", "0D"])
    srv.advance(20.0)  # ~600 trades over 3 stocks
    truth = httpx.get(f"{srv.rest_url}/_sim/ground-truth", timeout=DEADLINE_S).json()
    assert truth["dropped"] == 0
    assert truth["total"] == len(truth["rows"]) > 300
    events = collect(ws, lambda ev: len(_trades(ev)) >= truth["total"])
    got = _trades(events)
    # every trade, once, in order, with the same numbers
    assert [(t.code, t.cum_volume, t.price, t.volume, t.time.strftime("%H%M%S")) for t in got] == [
        (r[1], r[7], r[5], r[6], r[4][:6]) for r in truth["rows"]
    ]
    by_code: dict[str, list[Trade]] = {}
    for t in got:
        by_code.setdefault(t.code, []).append(t)
        assert krx.is_valid_price(t.price), t
        st = srv.sim.market.state(t.code)
        assert st.lower <= t.price <= st.upper
    for ticks in by_code.values():
        cums = [t.cum_volume for t in ticks]
        assert all(b > a for a, b in itertools.pairwise(cums))
        assert all(
            b.cum_volume - a.cum_volume == abs(b.volume) for a, b in itertools.pairwise(ticks)
        )
    # the last 0B before each 0D shows that book's best ask/bid
    last: dict[str, Trade] = {}
    books = 0
    for e in events:
        if isinstance(e, Trade):
            last[e.code] = e
        elif isinstance(e, OrderBook) and e.code in last:
            books += 1
            assert (last[e.code].best_ask, last[e.code].best_bid) == (e.asks[0][0], e.bids[0][0])
            assert e.asks[0][0] > e.bids[0][0]
            assert e.total_ask == sum(q for _p, q in e.asks)
    assert books > 100
    # REST agrees with what was streamed: quote, tick chart (one row per trade), minutes
    code = codes[0]
    ticks = by_code[code]
    quote = rest.get_quote(code)
    assert quote.price == ticks[-1].price
    assert quote.volume == ticks[-1].cum_volume
    chart = rest.get_tick_chart(code)
    assert [(c.close, abs(c.volume)) for c in chart[-len(ticks) :]] == [
        (t.price, abs(t.volume)) for t in ticks
    ]
    minutes = rest.get_minute_chart(code)
    # minute bars are labelled by their end (ka10080); 0B carries HHMMSS only
    streamed: dict[tuple[int, int], int] = {}
    for t in ticks:
        end = t.time.replace(second=0) + timedelta(minutes=1)
        streamed[(end.hour, end.minute)] = streamed.get((end.hour, end.minute), 0) + abs(t.volume)
    bars = {(c.time.hour, c.time.minute): c.volume for c in minutes}
    assert {k: bars.get(k) for k in streamed} == streamed


def test_order_life_over_00_and_04(make_server: Make) -> None:
    srv = make_server(trades_per_s=5.0)
    code = _codes(srv)[0]
    rest = srv.client()
    ws = srv.ws(rest)
    ws.subscribe([""], ["00", "04"])
    st = srv.sim.market.state(code)
    # rests below the market → 접수 only; modify → 접수 + 확인; cancel → 접수 + 확인
    low = krx.tick_down(st.best_bid, 5)
    ack = rest.buy(code, 3, low)
    mod = rest.modify_order(ack.order_no, code, 3, krx.tick_down(low))
    cxl = rest.cancel_order(mod.order_no, code, 0)

    def orders(ev: list[RealtimeEvent]) -> list[OrderEvent]:
        return [e for e in ev if isinstance(e, OrderEvent)]

    got = orders(collect(ws, lambda ev: len(orders(ev)) >= 5))
    seq = [(e.order_no, e.state, e.order_kind) for e in got]
    assert seq[0] == (ack.order_no, OrderState.ACCEPTED, "매수")
    assert (mod.order_no, OrderState.ACCEPTED, "매수정정") in seq
    assert (mod.order_no, OrderState.CONFIRMED, "매수정정") in seq
    assert (cxl.order_no, OrderState.ACCEPTED, "매수취소") in seq
    assert (cxl.order_no, OrderState.CONFIRMED, "매수취소") in seq
    assert all(e.code == code and e.account == srv.sim.config.account_no for e in got)
    # a buy bigger than the best ask level: 접수 → 체결 (partial) … → 체결 (full), then 04
    st = srv.sim.market.state(code)
    ask, level_qty = st.asks[0].price, st.asks[0].qty
    big = rest.buy(code, level_qty + 5, ask)

    def done(ev: list[RealtimeEvent]) -> bool:
        return any(
            isinstance(e, OrderEvent) and e.order_no == big.order_no and e.open_qty == 0 for e in ev
        )

    events = collect(ws, done, tick=lambda: srv.advance(1.0, 0.5))
    mine = [e for e in orders(events) if e.order_no == big.order_no]
    assert mine[0].state is OrderState.ACCEPTED
    assert mine[0].open_qty == level_qty + 5
    fills = [e for e in mine if e.state is OrderState.FILLED]
    assert len(fills) >= 2
    assert fills[0].open_qty > 0
    assert fills[-1].open_qty == 0
    assert sum(f.fill_qty or 0 for f in fills) == level_qty + 5
    assert fills[-1].filled_amount == sum((f.fill_price or 0) * (f.fill_qty or 0) for f in fills)
    balances = [e for e in events if isinstance(e, BalanceEvent)]
    assert balances
    assert balances[-1].holding_qty == level_qty + 5


def test_ping_echo_keeps_alive_and_missing_echo_gets_r10002(make_server: Make) -> None:
    srv = make_server()
    rest = srv.client()
    ws = srv.ws(rest)
    # the server saw our echoes (only an echo resets its missed count) after 4+ PINGs
    assert wait_until(lambda: ws.stats.pings >= 4 and echoes_seen(srv.sim))
    assert ws.stats.reconnects == 0
    assert srv.sim.ws_hub.stats["heartbeat_close"] == 0
    # a client that never echoes is closed: a tight allowance, on a server of its own
    # (load can only delay the close; the deadline is generous)
    tight = make_server(ws_max_missed_pings=3)
    raw = websocket.create_connection(tight.ws_url, timeout=DEADLINE_S)
    try:
        other = tight.client("another-app-key").token()
        raw.send('{"trnm":"LOGIN","token":"' + other + '"}')
        frames = []
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            try:
                frames.append(raw.recv())
            except websocket.WebSocketConnectionClosedException:
                break
            if not frames[-1]:
                break
        assert any('"R10002"' in f for f in frames if isinstance(f, str))
    finally:
        raw.close()
    assert tight.sim.ws_hub.stats["heartbeat_close"] == 1


def test_bad_token_rejected_then_expire_and_reject_login_heal(make_server: Make) -> None:
    srv = make_server()
    raw = websocket.create_connection(srv.ws_url, timeout=DEADLINE_S)
    raw.send('{"trnm":"LOGIN","token":"nope"}')
    reply = raw.recv()
    assert '"return_code":1' in reply
    assert "8005" in reply
    raw.close()
    rest = srv.client()
    ws = srv.ws(rest)
    codes = _codes(srv)
    ws.subscribe(codes, ["0B"])
    r = httpx.post(
        f"{srv.rest_url}/_sim/faults",
        json={"expire_tokens": True, "reject_login": 1, "drop_connections": True},
        timeout=DEADLINE_S,
    )
    assert r.json()["ws_faults"]["dropped"] == 1
    # rejected once (8005) → fresh token from au10001 → logged in, data flows again
    collect(ws, lambda ev: bool(_trades(ev)), tick=lambda: srv.advance(0.3))
    assert ws.stats.login_failures >= 1


def test_drop_connections_reconnects_and_restores_registrations(make_server: Make) -> None:
    srv = make_server()
    rest = srv.client()
    ws = srv.ws(rest)
    codes = _codes(srv)
    ws.subscribe(codes, ["0B", "0D"])
    ws.subscribe(["001"], ["0J"])
    want = {(t, c) for c in codes for t in ("0B", "0D")} | {("0J", "001")}

    def registered() -> set[tuple[str, str]]:
        return {p for _ident, pairs in srv.sim.ws_hub.sessions() for p in pairs}

    collect(ws, lambda ev: bool(_trades(ev)), tick=lambda: srv.advance(0.3))
    assert registered() >= want
    logins = httpx.get(f"{srv.rest_url}/_sim/state").json()["ws"]["stats"]["login_ok"]
    # the market moves only through advance(): what exists now was sent before the drop
    cum_at_drop = {c: max((t.cum_volume for t in srv.sim.trades(c)), default=0) for c in codes}
    second_at_drop = srv.sim.now.replace(microsecond=0)
    r = httpx.post(f"{srv.rest_url}/_sim/faults", json={"drop_connections": True})
    assert r.json()["ws_faults"]["dropped"] == 1  # the one session really was closed
    # the client noticed, reconnected and logged in again (a second LOGIN at the server) …
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        ws.stats.reconnects >= 1
        and httpx.get(f"{srv.rest_url}/_sim/state").json()["ws"]["stats"]["login_ok"] > logins
        and registered() >= want
    ):
        time.sleep(0.05)
    assert ws.stats.reconnects >= 1
    assert httpx.get(f"{srv.rest_url}/_sim/state").json()["ws"]["stats"]["login_ok"] > logins
    # … and the new session holds every registration again, which then delivers: trades
    # and index ticks made after the drop (older ones may still sit in the client's queue)
    assert registered() >= want
    events = collect(
        ws,
        lambda ev: (
            any(t.cum_volume > cum_at_drop[t.code] for t in _trades(ev))
            and any(isinstance(e, IndexTick) and e.time > second_at_drop for e in ev)
        ),
        timeout=30.0,
        tick=lambda: srv.advance(0.2),
    )
    ix = next(e for e in events if isinstance(e, IndexTick) and e.time > second_at_drop)
    assert ix.code == "001"
    assert 100 < ix.value < 10_000


def test_stall_detected_and_healed_garbage_counted(make_server: Make) -> None:
    srv = make_server()
    rest = srv.client()
    # this test is about the watchdog: a short one (a spurious cut under load only heals)
    ws = srv.ws(rest, dataclasses.replace(FAST_WS, watchdog_s=1.0))
    ws.subscribe(_codes(srv), ["0B"])
    r = httpx.post(f"{srv.rest_url}/_sim/faults", json={"garbage": 6}, timeout=DEADLINE_S)
    assert r.json()["ws_faults"]["garbage_sessions"] == 1
    collect(ws, lambda ev: bool(_trades(ev)), tick=lambda: srv.advance(0.2))
    assert sum(ws.stats.malformed.values()) >= 1
    httpx.post(f"{srv.rest_url}/_sim/faults", json={"stall": True}, timeout=DEADLINE_S)
    t0 = time.monotonic()
    while ws.stats.watchdog_timeouts == 0 and time.monotonic() - t0 < DEADLINE_S:
        srv.advance(0.1)
        time.sleep(0.05)
    assert ws.stats.watchdog_timeouts >= 1
    collect(ws, lambda ev: bool(_trades(ev)), tick=lambda: srv.advance(0.2))


def test_second_session_same_app_key_gets_r10001(make_server: Make) -> None:
    srv = make_server()
    rest = srv.client()
    errors: list[Exception] = []
    first = srv.ws(
        rest,
        dataclasses.replace(FAST_WS, reconnect_on_takeover=False),
        on_error=errors.append,
    )
    second = srv.ws(rest)
    assert wait_until(lambda: bool(first.stats.takeovers))
    assert first.stats.system_messages["R10001"] == 1
    assert second.ready


def test_phase_events_auction_cross_and_vi(make_server: Make) -> None:
    pre_open = datetime(2026, 9, 28, 8, 59, 50, tzinfo=krx.KST)
    srv = make_server(clock="krx", start_time=pre_open, vi_threshold=0.004, vi_duration_s=120)
    codes = _codes(srv)
    rest = srv.client()
    ws = srv.ws(rest)
    ws.subscribe([""], ["0s", "1h"])
    ws.subscribe(codes, ["0B"])
    srv.advance(5.0, 1.0)
    assert srv.sim.market.ground_truth.rows() == []  # opening call: no continuous trades
    srv.advance(6.0, 1.0)  # crosses 09:00
    cross = [r for r in srv.sim.market.ground_truth.rows() if r[2] == _us(9, 0)]
    assert {r[1] for r in cross} >= set(codes)  # one auction trade per stock at 09:00

    def seen(ev: list[RealtimeEvent]) -> bool:
        phases = [e.code for e in ev if isinstance(e, MarketPhase)]
        return len(phases) >= 2 and any(isinstance(e, ViEvent) for e in ev)

    events = collect(ws, seen, tick=lambda: srv.advance(2.0, 0.5))
    # 08:59:51 opening call (0), then 09:00 open (3)
    assert [e.code for e in events if isinstance(e, MarketPhase)][:2] == ["0", "3"]
    vi = next(e for e in events if isinstance(e, ViEvent))
    assert vi.trigger_type == "1"
    assert vi.code in codes
    assert vi.release_time is not None
    assert vi.trade_time is not None
    assert (vi.release_time - vi.trade_time) == timedelta(minutes=2)
    # no trades of that stock while its VI runs
    vi_code_rows = list(srv.sim.market.ground_truth.rows(code=vi.code))
    t_trigger = vi_code_rows[-1][2]
    srv.advance(10.0, 0.5)
    assert srv.sim.market.ground_truth.rows(code=vi.code)[-1][2] == t_trigger


def _us(h: int, m: int) -> int:
    return int(datetime(2026, 9, 28, h, m, tzinfo=krx.KST).timestamp() * 1_000_000)


@pytest.mark.parametrize("rate", [20_000.0])
def test_flood_client_receives_everything(make_server: Make, rate: float) -> None:
    srv = make_server(trades_per_s=rate, trade_universe=50, ws_items_per_frame=100)
    codes = _codes(srv)
    rest = srv.client()
    ws = srv.ws(rest)
    ws.subscribe(codes, ["0B"])
    t0 = time.perf_counter()
    srv.advance(2.0, 0.1)
    gen_s = time.perf_counter() - t0
    total = len(srv.sim.market.ground_truth)
    got = collect(ws, lambda ev: len(_trades(ev)) >= total, timeout=2 * DEADLINE_S)
    wall = time.perf_counter() - t0
    trades = _trades(got)
    assert len(trades) == total
    assert ws.stats.dropped_items.total() == 0
    assert sum(1 for _ in trades) > 30_000
    print(
        f"\nflood: {total} trades generated in {gen_s:.2f}s, delivered in {wall:.2f}s "
        f"({total / wall:,.0f} ticks/s end-to-end)"
    )
