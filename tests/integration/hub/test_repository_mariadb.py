"""Where each stock's stored history ends, on real MariaDB (the restart and gap anchor).

The query used to join tick_data to its own grouped maximum; MariaDB may run that as a
"lateral derived" table (the group recomputed per outer row) and a restarted hub sat in it
for minutes at 1.3M trades of a day (the soak of 2026-12-02). It is now a grouped maximum
and a primary-key lookup; this checks it answers right: KRX only, that day only, every
stock (more than one lookup batch).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from gslts_db import ensure_partitions, make_engine, upgrade
from gslts_hub.repository import ANCHOR_BATCH, HubRepository
from gslts_kiwoom.realtime import KST

DAY = date(2026, 12, 3)
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=KST)


@pytest.fixture
def engine(mysql_server_url: str) -> Iterator[sa.Engine]:
    name = f"gslts_repo_{uuid.uuid4().hex[:8]}"
    root = make_engine(sa.make_url(mysql_server_url)._replace(database=None))
    with root.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    eng = make_engine(sa.make_url(mysql_server_url).set(database=name))
    upgrade(eng)
    ensure_partitions(eng, 3, DAY - timedelta(days=1))
    yield eng
    eng.dispose()
    with root.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name}")
    root.dispose()


def _rows(code: str, day: date, venue: str, n: int, price: int) -> list[dict[str, object]]:
    t = datetime.combine(day, T0.time())
    return [
        {"stock_code": code, "trade_date": day, "venue": venue, "cum_volume": i,
         "trade_time": t + timedelta(seconds=i), "recv_time": t, "price": price + i,
         "volume": 1, "cum_value": i}
        for i in range(1, n + 1)
    ]  # fmt: skip


def test_each_stock_ends_at_its_largest_krx_trade_of_the_day(engine: sa.Engine) -> None:
    codes = [f"{i:06d}" for i in range(ANCHOR_BATCH + 30)]  # two lookup batches
    rows: list[dict[str, object]] = []
    for k, code in enumerate(codes):
        rows += _rows(code, DAY, "KRX", 3 + k % 5, 1000)
    rows += _rows(codes[0], DAY, "NXT", 50, 5000)  # NXT has its own cumulative volume
    rows += _rows(codes[1], DAY - timedelta(days=1), "KRX", 60, 7000)  # yesterday
    ins = "INSERT INTO tick_data (stock_code, trade_date, venue, cum_volume, trade_time, "
    ins += "recv_time, price, volume, cum_value) VALUES (:stock_code, :trade_date, :venue, "
    ins += ":cum_volume, :trade_time, :recv_time, :price, :volume, :cum_value)"
    with engine.begin() as conn:
        conn.execute(sa.text(ins), rows)
    got = HubRepository(engine).last_krx_trades(DAY)
    assert set(got) == set(codes)
    for k, code in enumerate(codes):
        n = 3 + k % 5
        a = got[code]
        assert (a.cum_volume, a.price, a.qty, a.cum_value) == (n, 1000 + n, 1, n)
        assert a.time == T0 + timedelta(seconds=n)
    assert HubRepository(engine).last_krx_trades(DAY + timedelta(days=1)) == {}
