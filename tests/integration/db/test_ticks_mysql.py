from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Connection, Engine

import gslts_db
from gslts_db import KST, CandleRow
from tests.unit.db.factories import ticks

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 24)


def _exact(engine: Engine, table: str = "tick_data") -> dict[str, int]:
    return {p.name: p.rows for p in gslts_db.list_partitions(engine, tables=(table,), exact=True)}


def test_partitions_ahead_are_created_once(mysql_engine: Engine) -> None:
    created = gslts_db.ensure_partitions(mysql_engine, 3, TODAY)
    days = [TODAY + timedelta(days=i) for i in range(4)]
    expected = [f"{t}.p{d:%Y%m%d}" for t in gslts_db.PARTITIONED_TABLES for d in days]
    assert created == expected
    assert gslts_db.ensure_partitions(mysql_engine, 3, TODAY) == []
    parts = gslts_db.list_partitions(mysql_engine, tables=("tick_data",))
    assert [(p.name, p.day, p.upper_bound) for p in parts] == [
        *((f"p{d:%Y%m%d}", d, d + timedelta(days=1)) for d in days),
        ("p_future", None, None),
    ]
    # the next day's run adds exactly one more day per table
    assert gslts_db.ensure_partitions(mysql_engine, 3, TODAY + timedelta(days=1)) == [
        f"{t}.p{TODAY + timedelta(days=4):%Y%m%d}" for t in gslts_db.PARTITIONED_TABLES
    ]


def test_a_tick_for_a_day_without_partition_is_kept_and_moved(mysql_engine: Engine) -> None:
    gslts_db.ensure_partitions(mysql_engine, 1, TODAY)
    later = TODAY + timedelta(days=10)
    with mysql_engine.begin() as conn:
        assert gslts_db.insert_ticks(conn, ticks("005930", later, 5)) == 5
    assert _exact(mysql_engine)["p_future"] == 5
    gslts_db.ensure_partitions(mysql_engine, 0, later)
    counts = _exact(mysql_engine)
    assert counts[f"p{later:%Y%m%d}"] == 5
    assert counts["p_future"] == 0


def test_insert_across_a_day_boundary_and_duplicates(mysql_engine: Engine) -> None:
    gslts_db.ensure_partitions(mysql_engine, 2, TODAY)
    # NXT trades until 20:00; the next day's first trades come at 08:00
    nxt_evening = ticks("005930", TODAY, 90, venue="NXT", start=(19, 59))
    next_morning = ticks("005930", TODAY + timedelta(days=1), 25, start=(8, 0))
    with mysql_engine.begin() as conn:
        assert gslts_db.insert_ticks(conn, nxt_evening + next_morning) == 115
    with mysql_engine.begin() as conn:
        assert gslts_db.insert_ticks(conn, nxt_evening + next_morning) == 0
        replay = ticks("005930", TODAY, 95, venue="NXT", start=(19, 59))
        assert gslts_db.insert_ticks(conn, replay) == 5
    counts = _exact(mysql_engine)
    assert counts[f"p{TODAY:%Y%m%d}"] == 95
    assert counts[f"p{TODAY + timedelta(days=1):%Y%m%d}"] == 25
    with mysql_engine.connect() as conn:
        got = gslts_db.fetch_ticks(
            conn,
            "005930",
            datetime(2026, 11, 24, 20, 0, 0, tzinfo=KST),
            datetime(2026, 11, 25, 8, 0, 3, tzinfo=KST),
        )
    assert got == replay[60:] + next_morning[:3]


def _explain(conn: Connection, query: Any) -> list[dict[str, Any]]:
    sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN PARTITIONS " if getattr(conn.dialect, "is_mariadb", False) else "EXPLAIN "
    result = conn.exec_driver_sql(prefix + sql)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def test_one_stock_time_range_prunes_to_its_day_and_uses_the_primary_key(
    mysql_engine: Engine,
) -> None:
    gslts_db.ensure_partitions(mysql_engine, 3, TODAY)
    rows = []
    for i, code in enumerate(("005930", "000660", "035420", "035720", "051910")):
        for d in range(3):
            day = TODAY + timedelta(days=d)
            rows += ticks(code, day, 80, price=10_000 * (i + 1))
    with mysql_engine.begin() as conn:
        gslts_db.insert_ticks(conn, rows)
        conn.exec_driver_sql("ANALYZE TABLE tick_data")
    day = TODAY + timedelta(days=1)
    start = datetime(day.year, day.month, day.day, 9, 0, 10, tzinfo=KST)
    q = gslts_db.tick_range_query("000660", start, start + timedelta(seconds=30))
    with mysql_engine.connect() as conn:
        plan = _explain(conn, q)
        got = gslts_db.fetch_ticks(conn, "000660", start, start + timedelta(seconds=30))
    assert len(got) == 30
    assert len(plan) == 1
    assert plan[0]["partitions"] == f"p{day:%Y%m%d}"
    assert plan[0]["key"] == "PRIMARY"


def test_candles_upsert_on_mysql(mysql_engine: Engine) -> None:
    start = datetime(2026, 11, 24, 9, 1, tzinfo=KST)
    bar = CandleRow("005930", "1m", start, 100, 110, 95, 105, 10, 1000, 3)
    with mysql_engine.begin() as conn:
        gslts_db.upsert_candles(conn, [bar], mode="merge")
        gslts_db.upsert_candles(
            conn, [bar._replace(open=1, high=120, low=99, close=101, volume=5)], mode="merge"
        )
        merged = conn.exec_driver_sql(
            "SELECT open, high, low, close, volume, value, trade_count FROM candles"
        ).one()
        assert tuple(merged) == (100, 120, 95, 101, 15, 2000, 6)
        gslts_db.upsert_candles(conn, [bar])
        gslts_db.upsert_candles(conn, [bar])
        replaced = conn.exec_driver_sql(
            "SELECT open, high, low, close, volume, value, trade_count FROM candles"
        ).one()
    assert tuple(replaced) == tuple(bar[3:])


def test_orderbook_snapshots_one_per_second_on_mysql(mysql_engine: Engine) -> None:
    gslts_db.ensure_partitions(mysql_engine, 0, TODAY)
    t = datetime(2026, 11, 24, 9, 0, 0, tzinfo=KST)
    blob = gslts_db.pack_levels([70_100], [3], [70_000], [4])
    snap = gslts_db.OrderbookRow("005930", TODAY, "KRX", t, t, blob, 3, 4)
    with mysql_engine.begin() as conn:
        n = gslts_db.insert_orderbook_snapshots(
            conn,
            [
                snap,
                snap._replace(total_bid_qty=9),
                snap._replace(book_time=t + timedelta(seconds=1)),
            ],
        )
    assert n == 2
    assert _exact(mysql_engine, "orderbook_snapshots")[f"p{TODAY:%Y%m%d}"] == 2


def test_text_values_are_quoted_safely_and_dict_rows_work(mysql_engine: Engine) -> None:
    row = ticks("005930", TODAY, 1)[0]
    nasty = row._replace(session="a'b\\c;--")
    as_dict = ticks("000660", TODAY, 1)[0]._asdict()
    del as_dict["source"]  # the column default applies
    with mysql_engine.begin() as conn:
        assert gslts_db.insert_ticks(conn, [nasty, as_dict]) == 2
        got = conn.exec_driver_sql(
            "SELECT stock_code, session, source FROM tick_data ORDER BY stock_code"
        ).all()
    assert [tuple(r) for r in got] == [
        ("000660", "regular", "live"),
        ("005930", "a'b\\c;--", "live"),
    ]
