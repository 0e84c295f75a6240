from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import gslts_db
from gslts_db import KST

from .factories import ticks

D1, D2, D3 = date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 24)


def _all_ticks(engine: Engine) -> list[gslts_db.TickRow]:
    with engine.connect() as conn:
        return gslts_db.fetch_ticks(
            conn, "005930", datetime(2026, 1, 1, tzinfo=KST), datetime(2027, 1, 1, tzinfo=KST)
        ) + gslts_db.fetch_ticks(
            conn, "000660", datetime(2026, 1, 1, tzinfo=KST), datetime(2027, 1, 1, tzinfo=KST)
        )


@pytest.fixture
def three_days(sqlite_engine: Engine) -> list[gslts_db.TickRow]:
    rows = [
        *ticks("005930", D1, 40),
        *ticks("000660", D1, 25, venue="NXT"),
        *ticks("005930", D2, 30),
        *ticks("005930", D3, 20),
    ]
    with sqlite_engine.begin() as conn:
        gslts_db.insert_ticks(conn, rows)
    return rows


def test_archive_then_restore_round_trip(
    sqlite_engine: Engine, three_days: list[gslts_db.TickRow], tmp_path: Path
) -> None:
    before = _all_ticks(sqlite_engine)
    seen: list[tuple[int, int]] = []
    done = gslts_db.archive_before(
        sqlite_engine,
        D3,
        tmp_path / "arch",
        chunk_rows=7,
        progress=lambda d, t, _w: seen.append((d, t)),
    )
    assert [(a.table, a.day, a.rows) for a in done] == [
        ("tick_data", D1, 65),
        ("tick_data", D2, 30),
    ]
    # progress is monotonic and ends at the total
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (95, 95)

    parts = gslts_db.list_partitions(sqlite_engine, tables=("tick_data",))
    assert [(p.day, p.rows) for p in parts] == [(D3, 20)]

    f1 = done[0].path
    assert f1.name == "tick_data_2026-11-20.parquet"
    assert not list((tmp_path / "arch").glob("*.part"))
    meta = pq.read_metadata(f1)
    assert meta.num_rows == 65
    assert meta.num_row_groups > 1  # streamed in chunks
    assert meta.row_group(0).column(0).compression == "ZSTD"
    df = pd.read_parquet(f1)
    assert len(df) == 65
    assert str(df["trade_time"].dt.tz) == "Asia/Seoul"
    assert df["trade_time"].min() == pd.Timestamp("2026-11-20 09:00:00", tz="Asia/Seoul")

    restored = gslts_db.restore_files(sqlite_engine, [a.path for a in done])
    assert [(r.rows, r.inserted) for r in restored] == [(65, 65), (30, 30)]
    assert sorted(_all_ticks(sqlite_engine)) == sorted(before)

    again = gslts_db.restore_files(sqlite_engine, [f1])
    assert again[0].inserted == 0


def test_second_archive_of_a_day_does_not_overwrite_the_first(
    sqlite_engine: Engine, three_days: list[gslts_db.TickRow], tmp_path: Path
) -> None:
    first = gslts_db.archive_before(sqlite_engine, D2, tmp_path)
    with sqlite_engine.begin() as conn:  # a late backfill for the archived day
        gslts_db.insert_ticks(conn, ticks("005930", D1, 3, first_cum=10_000))
    second = gslts_db.archive_before(sqlite_engine, D2, tmp_path)
    assert first[0].path != second[0].path
    assert pq.read_metadata(first[0].path).num_rows == 65
    assert pq.read_metadata(second[0].path).num_rows == 3


def test_restore_rejects_bad_files_before_writing_anything(
    sqlite_engine: Engine, three_days: list[gslts_db.TickRow], tmp_path: Path
) -> None:
    good = gslts_db.archive_before(sqlite_engine, D2, tmp_path)[0].path
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    for bad, msg in [(tmp_path / "missing.parquet", "no such file"), (junk, "not a readable")]:
        with pytest.raises(gslts_db.RestoreError, match=msg):
            gslts_db.restore_files(sqlite_engine, [good, bad])
    assert [p.day for p in gslts_db.list_partitions(sqlite_engine, tables=("tick_data",))] == [
        D2,
        D3,
    ]

    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pq.read_table(good).replace_schema_metadata({}), foreign)
    with pytest.raises(gslts_db.RestoreError, match="not a GSLTS archive"):
        gslts_db.restore_files(sqlite_engine, [foreign])


def test_archive_includes_orderbook_snapshots(sqlite_engine: Engine, tmp_path: Path) -> None:
    t = datetime(2026, 11, 20, 9, 0, tzinfo=KST)
    blob = gslts_db.pack_levels([101], [5], [100], [7])
    snaps = [
        gslts_db.OrderbookRow("005930", D1, "KRX", t + timedelta(seconds=i), t, blob, 5, 7)
        for i in range(12)
    ]
    with sqlite_engine.begin() as conn:
        gslts_db.insert_orderbook_snapshots(conn, snaps)
    done = gslts_db.archive_before(sqlite_engine, D2, tmp_path)
    assert [(a.table, a.rows) for a in done] == [("orderbook_snapshots", 12)]
    gslts_db.restore_files(sqlite_engine, [done[0].path])
    with sqlite_engine.connect() as conn:
        t_ob = gslts_db.OrderbookSnapshot.__table__
        got = conn.execute(sa.select(t_ob).order_by(t_ob.c.book_time)).all()
    assert [tuple(r) for r in got] == [tuple(s) for s in snaps]
