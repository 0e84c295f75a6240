"""``GET /api/charts/{code}`` against the simulator (the Kiwoom peer, over HTTP) and a real
MariaDB schema.

The market is driven deterministically (``sim.step``) through two hours of a session;
every trade it makes (its ground truth, through the listener API) is stored as the hub
stores it: the trade in ``tick_data`` and its 1-minute bar by the hub's own candle builder
(:class:`gslts_hub.candles.CandleAggregator` + the writer's rebuild from ``tick_data``).
The last trades go to ``tick_data`` only (the hub's next flush has not written their bars
yet): the forming bar must hold them.

The expected candles of every interval are folded here, independently, from the ground
truth: the trades for the recorded session, the simulator's own minute and daily bars for
the history before it (which the API must backfill from ka10080/ka10081 and store).
Paging backwards over many pages must give exactly that series (no gap, no overlap), and
a second pass over the same pages must not call Kiwoom at all (counted at the simulator).
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gslts_backend import charts as charts_area
from gslts_backend.app import create_app
from gslts_backend.deps import Principal
from gslts_backend.settings import BackendSettings
from gslts_db import TickRow, fetch_ticks, insert_ticks, make_engine, upgrade, upsert_candles
from gslts_hub.candles import Bar, CandleAggregator, bar_from_ticks
from gslts_hub.rows import naive_kst
from gslts_kiwoom.krx import KST
from gslts_kiwoom.sim import Simulator, Trade
from tests.e2e.harness import free_port, own_schema
from tests.integration.sim.conftest import SimServer, make_config

pytestmark = pytest.mark.integration

START = datetime(2026, 9, 28, 9, 0, tzinfo=KST)  # a Monday, trading day
SESSION = timedelta(minutes=125)
#: the trades of the last 90 s are in tick_data only (no stored bar yet, or a stale one)
UNFLUSHED = timedelta(seconds=90)
MINUTE_HISTORY_DAYS = 3
HISTORY_DAYS = 40
INTRADAY = {"1m": 1, "3m": 3, "5m": 5, "10m": 10, "15m": 15, "30m": 30, "60m": 60}


@dataclass
class B:
    key: Any
    open: int
    high: int
    low: int
    close: int
    volume: int


def wall(dt: datetime) -> int:
    """The chart time: KST wall clock read as UTC (docs/backend.md "Charts")."""
    return int(dt.astimezone(KST).replace(tzinfo=UTC).timestamp())


def fold(bars: list[B], key: Callable[[Any], Any]) -> list[B]:
    """Oldest-first bars folded by ``key`` of their key (oldest first)."""
    out: list[B] = []
    for b in bars:
        k = key(b.key)
        if out and out[-1].key == k:
            m = out[-1]
            m.high, m.low, m.close = max(m.high, b.high), min(m.low, b.low), b.close
            m.volume += b.volume
        else:
            out.append(B(k, b.open, b.high, b.low, b.close, b.volume))
    return out


def as_json(bars: list[B], label: Callable[[Any], Any] = lambda k: k) -> list[dict[str, Any]]:
    return [
        {
            "time": label(b.key),
            "open": b.open,
            "high": b.high,
            "low": b.low,
            "close": b.close,
            "volume": b.volume,
        }
        for b in bars
    ]


class CountingApp:
    """ASGI wrapper counting the Kiwoom api-ids the simulator is asked for."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for k, v in scope.get("headers", []):
                if k == b"api-id":
                    with self._lock:
                        self.calls[v.decode()] += 1
        await self.app(scope, receive, send)


@dataclass
class World:
    sim: Simulator
    code: str
    truth: list[Trade]
    counter: CountingApp
    api: TestClient
    engine: sa.Engine
    stored_cut_bar: Bar | None
    srv: SimServer


def _viewer() -> Principal:
    return Principal(1, "viewer", "viewer", "127.0.0.1", 1)


@pytest.fixture(scope="module")
def world(mysql_server_url: str) -> Iterator[World]:
    sim = Simulator(
        make_config(
            start_time=START,
            trade_universe=2,
            trades_per_s=4.0,
            history_days=HISTORY_DAYS,
            minute_history_days=MINUTE_HISTORY_DAYS,
        )
    )
    code = sim.market._focus[0][0] if sim.market._focus else ""  # type: ignore[index]
    trades: list[Trade] = []
    sim.add_listener(lambda ev: trades.append(ev) if type(ev) is Trade else None)
    srv = SimServer(sim, free_port())
    counter = CountingApp(srv.server.config.app)
    srv.server.config.app = counter
    srv.start()
    end = START + SESSION
    t = START
    while t < end:
        t += timedelta(seconds=2)
        sim.step(t)
    truth = [x for x in trades if x.code == code]
    assert len(truth) > 2000, len(truth)
    if code == "":
        pytest.fail("the simulator has no focus stock")
    with backend(mysql_server_url, srv, code, truth) as (api, engine, stored_cut_bar):
        yield World(sim, code, truth, counter, api, engine, stored_cut_bar, srv)
    srv.stop()


@contextlib.contextmanager
def backend(
    mysql_server_url: str, srv: SimServer, code: str, truth: list[Trade]
) -> Iterator[tuple[TestClient, sa.Engine, Bar | None]]:
    """A fresh schema holding the recorded session, and the backend app on it."""
    with own_schema(mysql_server_url) as url:
        engine = make_engine(url)
        upgrade(engine)
        stored_cut_bar = record(engine, code, truth, START + SESSION - UNFLUSHED)
        settings = BackendSettings(
            _env_file=None,  # type: ignore[call-arg]
            kiwoom_mode="sim",
            kiwoom_rest_url=srv.rest_url,
            kiwoom_ws_url=srv.ws_url,
            kiwoom_rate_per_s=1000,
            kiwoom_rate_burst=1000,
            redis_url=None,
            database_url=url,
            hub_url=f"http://127.0.0.1:{free_port()}",
        )
        app = create_app(settings)
        app.dependency_overrides[charts_area.viewer] = _viewer
        try:
            with TestClient(app) as api:
                yield api, engine, stored_cut_bar
        finally:
            engine.dispose()


def record(engine: sa.Engine, code: str, truth: list[Trade], cut: datetime) -> Bar | None:
    """Store the trades as the hub does; bars only for the trades before ``cut``. Returns
    the stored bar of ``cut``'s minute (a partial one)."""
    rows = [
        TickRow(
            code,
            t.time.astimezone(KST).date(),
            "KRX",
            t.cum_volume,
            t.time.replace(microsecond=0),
            t.time,
            t.price,
            t.volume,
            t.cum_value,
        )
        for t in truth
    ]
    agg = CandleAggregator()
    flushed = [t for t in truth if t.time < cut]
    for t in flushed:
        agg.add(code, "KRX", t.cum_volume, t.time.timestamp(), t.price, abs(t.volume))
    with engine.begin() as conn:
        insert_ticks(conn, rows[: len(flushed)])
    # the writer's flush: rebuilt minutes from tick_data, then the bars (replace mode)
    keys, bars = agg.plan()
    with engine.begin() as conn:
        for c, start in keys:
            s = naive_kst(start)
            bar = bar_from_ticks(c, start, fetch_ticks(conn, c, s, naive_kst(start + 60)))
            if bar is not None:
                bars.append(bar.row())
        upsert_candles(conn, bars, mode="replace")
    with engine.begin() as conn:
        insert_ticks(conn, rows[len(flushed) :])  # the next flush's ticks, bars not yet
    return agg.open_bar(code)


# ---------------------------------------------------------------------- ground truth
def truth_minutes(w: World) -> list[B]:
    """Every 1-minute bar, oldest first: the simulator's minute history of the days
    before the session (what ka10080 serves), then the session's trades."""
    m = w.sim.market
    days = sorted(d for d, _ in m.minute_days(w.code) if d < START.date())
    out = [
        B(wall(b.start), b.open, b.high, b.low, b.close, b.volume)
        for d in days
        for b in m.minute_bars(w.code, d)
    ]
    session: list[B] = []
    for t in w.truth:
        k = wall(t.time) // 60 * 60
        if session and session[-1].key == k:
            s = session[-1]
            s.high, s.low, s.close = max(s.high, t.price), min(s.low, t.price), t.price
            s.volume += abs(t.volume)
        else:
            session.append(B(k, t.price, t.price, t.price, t.price, abs(t.volume)))
    return out + session


def truth_days(w: World) -> list[B]:
    """Every daily bar, oldest first: ka10081's history, then the session from its
    trades (the day being recorded)."""
    past = [
        B(b.start.date(), b.open, b.high, b.low, b.close, b.volume)
        for b in w.sim.market.daily_bars(w.code)
        if b.start.date() < START.date()
    ]
    prices = [t.price for t in w.truth]
    today = B(
        START.date(),
        prices[0],
        max(prices),
        min(prices),
        prices[-1],
        sum(abs(t.volume) for t in w.truth),
    )
    return [*past, today]


def truth_weeks(w: World) -> list[dict[str, Any]]:
    days = truth_days(w)
    first: dict[date, date] = {}
    for d in days:
        first.setdefault(d.key - timedelta(days=d.key.weekday()), d.key)
    weeks = fold(days, lambda k: k - timedelta(days=k.weekday()))
    return as_json(weeks, lambda k: first[k].isoformat())


def expected(w: World, interval: str) -> list[dict[str, Any]]:
    if interval == "1d":
        return as_json(truth_days(w), lambda k: k.isoformat())
    if interval == "1w":
        return truth_weeks(w)
    size = INTRADAY[interval] * 60
    return as_json(fold(truth_minutes(w), lambda k: k - k % size))


# ---------------------------------------------------------------------- helpers
def get(w: World, interval: str, *, api: TestClient | None = None, **params: Any) -> dict[str, Any]:
    r = (api or w.api).get(f"/api/charts/{w.code}", params={"interval": interval, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def walk(
    w: World, interval: str, limit: int, api: TestClient | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Every page back to the start of history; returns the candles (oldest first) and
    the number of pages."""
    out: list[dict[str, Any]] = []
    before: Any = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        page = get(w, interval, api=api, **params)
        pages += 1
        c = page["candles"]
        assert len(c) <= limit
        if out and c:
            assert c[-1]["time"] < out[0]["time"], "pages overlap or are out of order"
        out = c + out
        before = page["next_before"]
        if before is None:
            return out, pages
        assert c
        assert before == c[0]["time"]
        assert pages < 200, "paging does not end"


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize(
    ("interval", "limit"),
    [
        ("1m", 300),
        ("3m", 100),
        ("5m", 64),
        ("10m", 50),
        ("15m", 20),
        ("30m", 10),
        ("60m", 7),
        ("1d", 9),
        ("1w", 3),
    ],
)
def test_every_interval_pages_back_to_the_truth_without_gap_or_overlap(
    world: World, interval: str, limit: int
) -> None:
    want = expected(world, interval)
    got, pages = walk(world, interval, limit)
    assert pages >= 3
    assert len(got) == len(want)
    assert got == want

    # the whole history is stored now: the same pages again make no Kiwoom call
    before = dict(world.counter.calls)
    again, _ = walk(world, interval, limit)
    assert again == got
    assert dict(world.counter.calls) == before


def test_the_recorded_session_equals_the_trades_for_every_interval(world: World) -> None:
    """The first page of each intraday interval is the session, folded from the trades."""
    session_start = wall(START)
    for interval in INTRADAY:
        body = get(world, interval, limit=2000)
        got = [c for c in body["candles"] if c["time"] >= session_start]
        want = [c for c in expected(world, interval) if c["time"] >= session_start]
        assert got == want, interval
        assert body["candles"][-1] == want[-1]


def test_the_forming_bar_holds_the_trades_not_yet_in_a_stored_bar(world: World) -> None:
    stored = world.stored_cut_bar
    assert stored is not None
    newest = get(world, "1m", limit=3)["candles"]
    last_trade = world.truth[-1]
    assert newest[-1]["close"] == last_trade.price
    assert newest[-1]["time"] == wall(last_trade.time) // 60 * 60
    # the stored bar of the cut's minute lacks the trades after the cut; the API has them
    at = next(c for c in newest if c["time"] == wall(naive_kst(stored.start).replace(tzinfo=KST)))
    in_minute = [t for t in world.truth if wall(t.time) // 60 * 60 == at["time"]]
    assert at["volume"] == sum(abs(t.volume) for t in in_minute)
    assert at["volume"] > stored.volume
    day = get(world, "1d", limit=1)["candles"][-1]
    assert day["close"] == last_trade.price
    assert day["volume"] == sum(abs(t.volume) for t in world.truth)


def test_backfilled_history_is_stored_once(world: World) -> None:
    walk(world, "1m", 2000)
    walk(world, "1d", 2000)
    with world.engine.connect() as conn:
        n = dict(
            conn.exec_driver_sql(
                "SELECT bar_interval, COUNT(*) FROM candles GROUP BY bar_interval"
            ).all()
        )
    m = world.sim.market
    history_minutes = sum(
        len(m.minute_bars(world.code, d)) for d, _ in m.minute_days(world.code) if d < START.date()
    )
    session_minutes = len(
        {wall(t.time) // 60 for t in world.truth if t.time < START + SESSION - UNFLUSHED}
    )
    assert n["1m"] == history_minutes + session_minutes
    assert n["1d"] == len(truth_days(world)) - 1  # the recorded day is never stored


def test_bad_input_names_the_field_and_an_unknown_code_is_404(world: World) -> None:
    cases = {
        ("1m", "x", None): "before",
        ("1d", "20260928", None): "before",
        ("1w", "1700000000", None): "before",
        ("1d", "0001-01-01", None): "before",
        ("1d", "2026-02-30", None): "before",
        ("5m", "999999999999", None): "before",
        ("1m", None, "0"): "limit",
        ("1m", None, "2001"): "limit",
        ("1m", None, "ten"): "limit",
        ("2m", None, None): "interval",
    }
    for (interval, before, limit), field in cases.items():
        params = {"interval": interval}
        if before is not None:
            params["before"] = before
        if limit is not None:
            params["limit"] = limit
        r = world.api.get(f"/api/charts/{world.code}", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["field"] == field
        assert r.json()["error"] == "BadInput"
    # the extremes of the accepted range are answered, not failed on
    assert get(world, "5m", before="253402128000", limit=2)["candles"]
    assert get(world, "1w", before="1900-01-01")["candles"] == []
    r = world.api.get("/api/charts/12345X7")
    assert r.status_code == 422
    assert r.json()["field"] == "code"
    r = world.api.get("/api/charts/999990", params={"interval": "1d"})
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "NotFound"


@pytest.mark.parametrize(("interval", "back", "limit"), [("1d", 20, 5), ("1m", 700, 50)])
def test_a_first_request_deep_in_the_past_leaves_no_hole_in_the_stored_history(
    world: World, mysql_server_url: str, interval: str, back: int, limit: int
) -> None:
    """A chart opened at an old ``before`` on an empty store backfills from the oldest
    stored bar down, never just below ``before``, so paging from the top later sees
    every bar."""
    want = expected(world, interval)
    before = want[-back]["time"]
    with backend(mysql_server_url, world.srv, world.code, world.truth) as (api, _, _):
        page = get(world, interval, api=api, before=before, limit=limit)
        assert page["candles"] == want[-back - limit : -back]
        assert page["next_before"] == want[-back - limit]["time"]
        got, _ = walk(world, interval, 300, api=api)
        assert got == want
