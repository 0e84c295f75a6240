"""The hub's HTTP API on a real (SQLite) database: paging, CSV, status, watchlist, errors."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from gslts_common.server_timing import parse as parse_server_timing
from gslts_db import StockMaster, TickRow, insert_ticks
from gslts_hub.app import create_app
from gslts_hub.hub import Hub
from gslts_hub.settings import HubSettings
from gslts_kiwoom.realtime import KST

DAY = datetime(2026, 3, 3, tzinfo=KST)


def _ticks(n: int) -> list[TickRow]:
    t0 = DAY.replace(hour=9)
    return [
        TickRow(
            "005930",
            DAY.date(),
            "KRX",
            100 + i,
            t0 + timedelta(seconds=i),
            t0 + timedelta(seconds=i, milliseconds=5),
            70_000 + i,
            1 if i % 2 else -1,
            i,
            70_100,
            70_000,
            Decimal("0.5"),
            None,
            "2",
            "live",
        )
        for i in range(n)
    ]


@pytest.fixture
def client(hub_settings: HubSettings) -> Iterator[TestClient]:
    app = create_app(hub_settings, hub_factory=lambda s: Hub(s, connect=False))
    with TestClient(app, base_url="http://127.0.0.1:8001") as c:
        hub: Hub = app.state.hub
        with hub.engine.begin() as conn:
            insert_ticks(conn, _ticks(25))
            conn.execute(
                StockMaster.__table__.insert(),  # type: ignore[attr-defined]
                [
                    {
                        "stock_code": "000660",
                        "name": "SK하이닉스",
                        "chosung": "ㅅㅋㅎㅇㄴㅅ",
                        "market": "KOSPI",
                        "updated_at": DAY,
                    }
                ],
            )
        yield c


def test_tick_pages_follow_the_cursor_to_the_end_without_overlap(client: TestClient) -> None:
    params = {
        "start_time": DAY.isoformat(),
        "end_time": (DAY + timedelta(days=1)).isoformat(),
        "limit": 10,
    }
    seen: list[int] = []
    cursor = None
    for _ in range(5):
        q = dict(params, **({"cursor": cursor} if cursor else {}))
        body = client.get("/api/tick-data/005930", params=q).json()
        assert body["stock_code"] == "005930"
        seen += [t["cum_volume"] for t in body["ticks"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(100, 125))
    first = client.get("/api/tick-data/005930", params=dict(params, limit=1)).json()["ticks"][0]
    assert first["time"] == "2026-03-03T09:00:00+09:00"
    assert first["price"] == 70_000
    assert first["volume"] == -1


def test_tick_csv_is_streamed_with_a_header(client: TestClient) -> None:
    r = client.get("/api/tick-data/005930", params={"start_time": DAY.isoformat(), "format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 25
    assert rows[3]["cum_volume"] == "103"
    assert rows[3]["price"] == "70003"


@pytest.mark.parametrize(
    ("path", "params", "status", "needle"),
    [
        ("/api/tick-data/5930", {}, 422, "6 characters"),
        ("/api/tick-data/005930", {"limit": 0}, 422, "limit"),
        ("/api/tick-data/005930", {"limit": 10_001}, 422, "limit"),
        (
            "/api/tick-data/005930",
            {"start_time": "2026-03-03T10:00:00+09:00", "end_time": "2026-03-03T09:00:00+09:00"},
            422,
            "after",
        ),
        ("/api/tick-data/005930", {"cursor": "garbage!"}, 422, "cursor"),
        ("/api/tick-data/999999", {}, 404, "unknown stock"),
    ],
)
def test_bad_input_gets_one_error_shape(
    client: TestClient, path: str, params: dict[str, object], status: int, needle: str
) -> None:
    r = client.get(path, params=params)
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"error", "detail"}
    assert needle in body["detail"]


def test_status_reports_the_collector_fields(client: TestClient) -> None:
    st = client.get("/api/status").json()
    for key in (
        "uptime_s",
        "tick_count_today",
        "db_size_bytes",
        "collecting_stocks",
        "ticks_per_s",
        "stocks",
        "journal_backlog_bytes",
        "flush_lag_s",
        "db_ok",
        "reconnects",
        "backfill",
        "token_expires_at",
        "ws_state",
        "market_phase",
    ):
        assert key in st, key
    assert st["db_ok"] is True
    assert st["db_size_bytes"] > 0
    # the bus stream other processes follow (docs/bus.md): its position and subscribers
    assert st["bus_stream"]["subscribers"] == []
    assert st["bus_stream"]["epoch"]
    # SQLite: the writer is a thread of the hub (MariaDB: a process, see the integration test)
    assert st["writer"]["mode"] == "thread"
    assert st["writer"]["running"] is True
    assert st["writer"]["hub_peak_rss_mb"] > 10


def test_watchlist_add_list_delete_is_persisted(client: TestClient) -> None:
    r = client.post("/api/watchlist", json={"stock_code": "000660", "note": "memory"})
    assert r.status_code == 201
    assert r.json()["name"] == "SK하이닉스"
    items = client.get("/api/watchlist").json()["items"]
    assert [i["stock_code"] for i in items] == ["000660"]
    assert "000660" in client.get("/api/status").json()["watchlist"]
    assert client.delete("/api/watchlist/000660").status_code == 204
    assert client.get("/api/watchlist").json()["items"] == []
    assert client.delete("/api/watchlist/000660").status_code == 404


def test_metrics_and_health(client: TestClient) -> None:
    text = client.get("/metrics").text
    assert "gslts_hub_ticks_written_total" in text
    assert "gslts_hub_journal_backlog_bytes" in text
    health = client.get("/api/health")
    assert health.status_code == 200
    assert parse_server_timing(health.headers["server-timing"]) is not None


def _day_ticks(day: datetime, n: int, cum0: int = 1) -> list[TickRow]:
    t0 = day.replace(hour=9)
    return [
        TickRow("005930", day.date(), "KRX", cum0 + i, t0 + timedelta(milliseconds=10 * i),
                t0 + timedelta(milliseconds=10 * i + 3), 70_000 + i % 50, 1, i)
        for i in range(n)
    ]  # fmt: skip


def test_cursor_pages_continue_across_trading_days(client: TestClient) -> None:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    nxt_day = DAY + timedelta(days=1)
    with hub.engine.begin() as conn:
        insert_ticks(conn, _day_ticks(nxt_day, 30))  # cum restarts at 1 on a new day
    params = {"start_time": DAY.isoformat(), "end_time": (DAY + timedelta(days=2)).isoformat(),
              "limit": 7}  # fmt: skip
    seen: list[tuple[str, int]] = []
    cursor = None
    for _ in range(20):
        q = dict(params, **({"cursor": cursor} if cursor else {}))
        body = client.get("/api/tick-data/005930", params=q).json()
        seen += [(t["trade_date"], t["cum_volume"]) for t in body["ticks"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    want = [(DAY.date().isoformat(), 100 + i) for i in range(25)] + [
        (nxt_day.date().isoformat(), 1 + i) for i in range(30)
    ]
    assert seen == want


def test_csv_streams_a_large_multi_day_range_completely(client: TestClient) -> None:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    days = [DAY + timedelta(days=d) for d in (1, 2)]
    with hub.engine.begin() as conn:
        for d in days:
            insert_ticks(conn, _day_ticks(d, 12_000))
    with client.stream(
        "GET",
        "/api/tick-data/005930",
        params={
            "start_time": DAY.isoformat(),
            "end_time": (DAY + timedelta(days=3)).isoformat(),
            "format": "csv",
        },
    ) as r:
        assert r.status_code == 200
        chunks = list(r.iter_text())
    assert len(chunks) > 1  # streamed, not built as one body
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert len(rows) == 25 + 24_000  # more than any JSON page (limit <= 10,000)
    keys = [(r["trade_date"], int(r["cum_volume"])) for r in rows]
    assert len(set(keys)) == len(keys)
    assert keys[25] == (days[0].date().isoformat(), 1)
    assert keys[-1] == (days[1].date().isoformat(), 12_000)
