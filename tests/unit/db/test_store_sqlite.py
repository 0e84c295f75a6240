from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import gslts_db
from gslts_db import KST, CandleRow, OrderbookRow

from .factories import ticks

DAY = date(2026, 11, 24)


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        sql = f"SELECT COUNT(*) FROM {table}"  # noqa: S608 - fixed names
        return int(conn.exec_driver_sql(sql).scalar_one())


def test_insert_ticks_counts_new_rows_and_duplicates_are_no_ops(sqlite_engine: Engine) -> None:
    rows = ticks("005930", DAY, 50)
    with sqlite_engine.begin() as conn:
        assert gslts_db.insert_ticks(conn, rows) == 50
    with sqlite_engine.begin() as conn:
        assert gslts_db.insert_ticks(conn, rows) == 0
        # a replayed batch overlapping stored trades stores only the new ones
        more = ticks("005930", DAY, 60)
        assert gslts_db.insert_ticks(conn, more) == 10
    assert _count(sqlite_engine, "tick_data") == 60


def test_a_replay_never_overwrites_a_stored_trade(sqlite_engine: Engine) -> None:
    row = ticks("000660", DAY, 1)[0]
    with sqlite_engine.begin() as conn:
        gslts_db.insert_ticks(conn, [row])
        gslts_db.insert_ticks(conn, [row._replace(price=1, source="replay")])
    with sqlite_engine.connect() as conn:
        got = gslts_db.fetch_ticks(
            conn, "000660", row.trade_time, row.trade_time + timedelta(seconds=1)
        )
    assert got == [row]


def test_equal_timestamps_are_distinct_trades(sqlite_engine: Engine) -> None:
    base = ticks("035420", DAY, 1)[0]
    same_second = [base, base._replace(cum_volume=base.cum_volume + 5, volume=5)]
    with sqlite_engine.begin() as conn:
        assert gslts_db.insert_ticks(conn, same_second) == 2


def test_dict_rows_and_column_defaults(sqlite_engine: Engine) -> None:
    row = ticks("005930", DAY, 1)[0]._asdict()
    del row["source"]
    with sqlite_engine.begin() as conn:
        assert gslts_db.insert_ticks(conn, [row]) == 1
        assert conn.exec_driver_sql("SELECT source FROM tick_data").scalar_one() == "live"


def test_range_across_midnight_keeps_order_and_timezones(sqlite_engine: Engine) -> None:
    day2 = DAY + timedelta(days=1)
    late = ticks("005930", DAY, 30, start=(23, 59))  # 23:59:00..23:59:29 (replay data)
    early = ticks("005930", day2, 30, start=(0, 0))
    with sqlite_engine.begin() as conn:
        gslts_db.insert_ticks(conn, late + early)
    start = datetime(2026, 11, 24, 23, 59, 10, tzinfo=KST)
    end = datetime(2026, 11, 25, 0, 0, 10, tzinfo=KST)
    with sqlite_engine.connect() as conn:
        got = gslts_db.fetch_ticks(conn, "005930", start, end)
    assert got == late[10:] + early[:10]
    assert all(t.trade_time.utcoffset() == timedelta(hours=9) for t in got)
    assert isinstance(got[0].change_rate, Decimal)


def test_aware_times_in_other_zones_are_stored_as_kst(sqlite_engine: Engine) -> None:
    row = ticks("005930", DAY, 1)[0]
    utc_row = row._replace(
        trade_time=row.trade_time.astimezone(UTC), recv_time=row.recv_time.astimezone(UTC)
    )
    with sqlite_engine.begin() as conn:
        gslts_db.insert_ticks(conn, [utc_row])
        stored = conn.exec_driver_sql("SELECT trade_time FROM tick_data").scalar_one()
    assert str(stored).startswith("2026-11-24 09:00:00")
    with sqlite_engine.connect() as conn:
        got = gslts_db.fetch_ticks(
            conn, "005930", row.trade_time, row.trade_time + timedelta(seconds=1)
        )
    assert got[0].trade_time == row.trade_time


def test_orderbook_levels_pack_roundtrip_and_one_snapshot_per_second(
    sqlite_engine: Engine,
) -> None:
    asks = [70_100 + 100 * i for i in range(10)]
    bids = [70_000 - 100 * i for i in range(10)]
    blob = gslts_db.pack_levels(asks, list(range(1, 11)), bids, list(range(11, 21)))
    assert len(blob) == 320
    levels = gslts_db.unpack_levels(blob)
    assert levels.ask_prices == tuple(asks)
    assert levels.bid_qtys == tuple(range(11, 21))
    assert gslts_db.unpack_levels(gslts_db.pack_levels([1], [2], [], [])).ask_prices[1:] == (0,) * 9
    with pytest.raises(ValueError, match="at most 10"):
        gslts_db.pack_levels(list(range(11)), [], [], [])

    t = datetime(2026, 11, 24, 9, 0, 1, tzinfo=KST)
    snap = OrderbookRow("005930", DAY, "KRX", t, t, blob, 55, 155)
    later_same_second = snap._replace(total_ask_qty=1)
    with sqlite_engine.begin() as conn:
        assert gslts_db.insert_orderbook_snapshots(conn, [snap, later_same_second]) == 1
        assert (
            gslts_db.insert_orderbook_snapshots(
                conn, [snap._replace(book_time=t + timedelta(seconds=1))]
            )
            == 1
        )
        stored = conn.exec_driver_sql(
            "SELECT total_ask_qty, levels FROM orderbook_snapshots ORDER BY book_time"
        ).first()
    assert stored is not None
    assert stored[0] == 55
    assert gslts_db.unpack_levels(stored[1]) == levels


def _bar(**kw: int) -> CandleRow:
    base = {"open": 100, "high": 110, "low": 95, "close": 105}
    base |= {"volume": 10, "value": 1000, "trade_count": 3}
    base.update(kw)
    return CandleRow("005930", "1m", datetime(2026, 11, 24, 9, 0, tzinfo=KST), **base)


def _stored_bar(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT open, high, low, close, volume, value, trade_count FROM candles"
        ).one()
    return tuple(row)


def test_candle_replace_is_idempotent(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        gslts_db.upsert_candles(conn, [_bar()])
        gslts_db.upsert_candles(conn, [_bar(close=107, high=112, volume=12)])
        gslts_db.upsert_candles(conn, [_bar(close=107, high=112, volume=12)])
    assert _stored_bar(sqlite_engine) == (100, 112, 95, 107, 12, 1000, 3)


def test_candle_merge_adds_deltas(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        gslts_db.upsert_candles(conn, [_bar()], mode="merge")
        gslts_db.upsert_candles(
            conn,
            [_bar(open=104, high=120, low=99, close=101, volume=5, value=500, trade_count=2)],
            mode="merge",
        )
    assert _stored_bar(sqlite_engine) == (100, 120, 95, 101, 15, 1500, 5)


def test_orm_models_read_back_aware_datetimes(sqlite_engine: Engine) -> None:
    factory = gslts_db.make_session_factory(sqlite_engine)
    now = datetime(2026, 11, 24, 8, 30, tzinfo=KST)
    with gslts_db.session_scope(factory) as s:
        s.add(gslts_db.User(username="admin", password_hash="x", created_at=now))
    with gslts_db.session_scope(factory) as s:
        user = s.scalars(sa.select(gslts_db.User)).one()
    assert user.created_at == now
    assert user.created_at.tzinfo is not None
    assert user.is_active is True
