"""The tick page's JSON built by MariaDB equals the one built in Python from the rows.

``/api/tick-data`` asks the database for each tick's ``JSON_OBJECT`` joined by
``GROUP_CONCAT`` (PyMySQL decoding 15 fields a row was most of a page's CPU). The two paths
must give the same ticks — times with and without microseconds, NULLs, decimals, both
venues, several days, cursors, a window cut inside a day — and the API pages on it must
chain without a gap or a repeat.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gslts_db import StockMaster, TickData, ensure_partitions, make_engine, upgrade
from gslts_hub.app import create_app, tick_json
from gslts_hub.hub import Hub
from gslts_hub.repository import HubRepository
from gslts_hub.settings import HubSettings
from gslts_kiwoom.realtime import KST

DAY = date(2026, 12, 2)
DAYS = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
CODE = "005930"


@pytest.fixture
def url(mysql_server_url: str) -> Iterator[str]:
    name = f"gslts_page_{uuid.uuid4().hex[:8]}"
    root = make_engine(sa.make_url(mysql_server_url)._replace(database=None))
    with root.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    u = sa.make_url(mysql_server_url).set(database=name).render_as_string(hide_password=False)
    eng = make_engine(u)
    upgrade(eng)
    ensure_partitions(eng, 4, DAY - timedelta(days=1))
    rows: list[dict[str, object]] = []
    for d in DAYS:
        t = datetime.combine(d, datetime.min.time()).replace(hour=9)
        for venue, n in (("KRX", 700), ("NXT", 40)):
            for i in range(1, n + 1):
                us = (i % 7) * 1000 if i % 3 == 0 else 0  # some with microseconds
                rows.append(
                    {"stock_code": CODE, "trade_date": d, "venue": venue, "cum_volume": i * 3,
                     "trade_time": t + timedelta(seconds=i // 2, microseconds=us),
                     "recv_time": t, "price": 70_000 + i, "volume": -i if i % 2 else i,
                     "cum_value": i * 70, "best_ask": None if i % 5 == 0 else 70_100,
                     "best_bid": 70_000, "change_rate": None if i % 4 == 0 else Decimal("-1.25"),
                     "strength": Decimal("101.50") if i % 2 else Decimal("0.00"),
                     "session": None if i % 6 == 0 else "2",
                     "source": "backfill" if i % 9 == 0 else "live"}
                )  # fmt: skip
    with eng.begin() as conn:
        conn.execute(sa.insert(TickData), rows)
    eng.dispose()
    yield u
    with root.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name}")
    root.dispose()


def _at(d: date, h: int, m: int = 0, s: int = 0) -> datetime:
    return datetime.combine(d, datetime.min.time(), KST).replace(hour=h, minute=m, second=s)


@pytest.mark.parametrize(
    ("start", "end", "after", "limit"),
    [
        (_at(DAY, 0), _at(DAY + timedelta(days=1), 0), None, 1001),  # one day, both venues
        (_at(DAY, 9, 1, 7), _at(DAYS[2], 9, 3), None, 1001),  # cut at both ends, 3 days
        (_at(DAY, 9, 2), _at(DAYS[2], 23), (DAY, "KRX", 600), 500),  # a cursor inside
        (_at(DAY, 9, 2), _at(DAYS[2], 23), (DAYS[1], "NXT", 3), 2000),  # past everything
        (_at(DAY, 16), _at(DAY, 17), None, 10),  # nothing in the window
    ],
)
def test_the_database_builds_the_same_ticks_as_python(
    url: str, start: datetime, end: datetime, after: tuple[date, str, int] | None, limit: int
) -> None:
    eng = make_engine(url)
    try:
        repo = HubRepository(eng)
        want = [tick_json(r) for r in repo.tick_rows(CODE, start, end, after, limit)]
        got = repo.tick_page_json(CODE, start, end, after, limit)
        assert got is not None
        assert [orjson.loads(o) for o in got] == want
        if limit == 1001 and start.hour == 0:
            assert len(want) == 740  # the whole day: both venues
    finally:
        eng.dispose()


def test_api_pages_chain_over_days_without_a_gap_or_a_repeat(url: str, tmp_path: Path) -> None:
    settings = HubSettings(
        _env_file=None,
        data_dir=tmp_path,
        database_url=url,
        redis_url=None,
        hub_writer_process="off",
    )
    app = create_app(settings, hub_factory=lambda s: Hub(s, connect=False))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
        with hub.engine.begin() as conn:
            conn.execute(
                sa.insert(StockMaster),
                [{"stock_code": CODE, "name": "삼성전자", "chosung": "ㅅㅅㅈㅈ",
                  "market": "KOSPI", "updated_at": datetime.now(KST)}],
            )  # fmt: skip
        seen: list[tuple[str, str, int]] = []
        params: dict[str, object] = {
            "start_time": "2026-12-02T09:01:00",
            "end_time": "2026-12-04T23:00:00",
            "limit": 333,
        }
        while True:
            r = client.get(f"/api/tick-data/{CODE}", params=params)
            assert r.status_code == 200, r.text
            doc = r.json()
            assert len(doc["ticks"]) <= 333
            seen += [(t["trade_date"], t["venue"], t["cum_volume"]) for t in doc["ticks"]]
            if doc["next_cursor"] is None:
                break
            assert r.headers["x-next-cursor"] == doc["next_cursor"]
            params["cursor"] = doc["next_cursor"]
        assert (
            len(seen) == len(set(seen)) == 740 * 3 - 119 - 40
        )  # before 09:01 on the first day: 119 KRX, all 40 NXT
        assert seen == sorted(seen)
