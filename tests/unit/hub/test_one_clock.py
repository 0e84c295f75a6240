"""One clock: every time the hub stamps comes from the clock it was built with.

A hub on an injected clock (a day that is not today) stamps with that day what it stores
and shows — the watchlist entry, the universe history, a book's receive date, a gap walk's
report, the writer's lag, the default window of ``/api/tick-data`` — and no module of the
hub reads the wall clock on its own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import gslts_hub
from gslts_db import StockMaster, UniverseEntry
from gslts_hub.app import create_app
from gslts_hub.backfill import LiveAnchor
from gslts_hub.hub import Hub
from gslts_hub.journal import Journal
from gslts_hub.settings import HubSettings
from gslts_hub.writer_proc import WriterProcess
from gslts_kiwoom.models import Candle
from gslts_kiwoom.realtime import KST, RawRealtime, Trade

#: not today, whenever the test runs
T0 = datetime(2026, 3, 3, 10, 0, 5, tzinfo=KST)
CODE = "005930"
#: calls that read the wall clock (time.monotonic, for deadlines, is not a clock reading)
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}


def test_no_module_of_the_hub_reads_the_wall_clock() -> None:
    found = []
    for path in sorted(Path(gslts_hub.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and (node.func.value.id, node.func.attr) in WALL_CLOCK
            ):
                found.append(f"{path.name}:{node.lineno} {node.func.value.id}.{node.func.attr}()")
    assert found == []


def _trade(second: int, qty: int, cum: int) -> Trade:
    t = T0 + timedelta(seconds=second)
    return Trade(
        code=CODE, venue="KRX", trade_date=T0.date(), time=t, price=70_000, change=0,
        change_rate=Decimal("0"), volume=qty, cum_volume=cum, cum_value=0, open=70_000,
        high=70_000, low=70_000, best_ask=0, best_bid=0, strength=None, session="2",
    )  # fmt: skip


class _Chart:
    """ka10079 of a market that traded 5 and then 3 shares after the stored 100."""

    token_cache = rate_limiter = None
    trades = (_trade(-10, 100, 100), _trade(-5, 5, 105), _trade(0, 3, 108))

    def iter_tick_chart(self, code: str, *, since: datetime) -> Iterator[list[Candle]]:
        yield self._rows(code, since)[::-1]  # one page, newest first

    def _rows(self, code: str, since: datetime) -> list[Candle]:
        return [
            Candle(t.time, t.price, t.price, t.price, t.price, t.volume)
            for t in self.trades
            if t.time >= since
        ]

    def token_expires_at(self) -> None:
        return None

    def close(self) -> None:
        pass


@pytest.fixture
def hub(hub_settings: HubSettings) -> Iterator[Hub]:
    h = Hub(
        hub_settings,
        connect=False,
        client=_Chart(),  # type: ignore[arg-type]
        clock=lambda: T0.timestamp(),
    )
    h.start()
    with h.engine.begin() as conn:
        conn.execute(
            StockMaster.__table__.insert(),  # type: ignore[attr-defined]
            [{"stock_code": CODE, "name": "삼성전자", "chosung": "", "market": "KOSPI",
              "updated_at": T0}],
        )  # fmt: skip
    yield h
    h.close()


def test_a_watchlist_entry_and_its_universe_history_are_dated_by_the_hub_clock(
    hub: Hub,
) -> None:
    item, created = hub.add_watchlist(CODE)
    assert created
    assert datetime.fromisoformat(item["added_at"]).replace(tzinfo=KST) == T0
    with hub.engine.connect() as conn:
        days = conn.execute(sa.select(UniverseEntry.trade_date)).scalars().all()
    assert days == [T0.date()]


def test_a_deferred_book_is_dated_by_the_hub_clock(hub: Hub) -> None:
    got: list[dict[str, Any]] = []
    hub.bus.subscribe(lambda ch, ev: got.append(ev) if "book" in ch else None)
    values = {"21": "100005", "121": "100", "125": "100"}
    for i in range(10):
        values[str(41 + i)] = f"+{70_100 + 100 * i}"
        values[str(51 + i)] = f"+{70_000 - 100 * i}"
        values[str(61 + i)] = values[str(71 + i)] = "10"
    hub.on_events([RawRealtime("0D", CODE, values)])
    assert [datetime.fromisoformat(b["time"]) for b in got] == [T0]


def test_a_gap_walk_is_reported_at_the_hub_clock(hub: Hub) -> None:
    stored = _Chart.trades[0]
    live = _Chart.trades[-1]
    anchor = LiveAnchor(live.time, live.price, live.volume, live.cum_volume, live.cum_value)
    assert hub.backfill_gap(CODE, stored.cum_volume, stored.time, anchor) == 1
    (walk,) = hub.status()["backfill"]["recent"]
    assert datetime.fromisoformat(walk["time"]) == T0


def test_the_writer_process_lag_is_measured_on_the_hub_clock(tmp_path: Path) -> None:
    writer = WriterProcess(
        Journal(tmp_path / "j"), "sqlite://", clock=lambda: T0.timestamp()
    )  # not started: only its figures
    writer.stats.oldest_pending_recv = T0.timestamp() - 2.5
    assert writer.flush_lag_s() == pytest.approx(2.5)


def test_the_default_tick_window_is_the_hub_clock_day(hub_settings: HubSettings) -> None:
    app = create_app(
        hub_settings, hub_factory=lambda s: Hub(s, connect=False, clock=lambda: T0.timestamp())
    )
    with TestClient(app, base_url="http://127.0.0.1:8001") as http:
        hub: Hub = app.state.hub
        hub.on_events([_trade(0, 3, 3)])
        assert hub.flush(timeout=30)
        ticks = http.get(f"/api/tick-data/{CODE}").json()["ticks"]
    assert [t["cum_volume"] for t in ticks] == [3]
