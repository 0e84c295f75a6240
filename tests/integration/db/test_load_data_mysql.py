"""``insert_ticks`` on MariaDB/MySQL: the LOAD DATA LOCAL INFILE path and its fallback."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

import gslts_db
from gslts_db import KST, TickRow
from gslts_db import store as store_mod
from gslts_db.engine import allow_local_infile
from tests.unit.db.factories import ticks

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 24)


def _raw_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """Every stored tick exactly as the server returns it (naive datetimes, no decorator)."""
    cols = ", ".join(gslts_db.TICK_COLUMNS)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT {cols} FROM tick_data ORDER BY stock_code, venue, cum_volume"  # noqa: S608
        ).all()
    return [tuple(r) for r in rows]


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT COUNT(*) FROM tick_data").scalar_one())


@pytest.fixture
def no_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if insert_ticks uses the INSERT IGNORE fallback instead of LOAD DATA."""

    def boom(*_a: Any, **_k: Any) -> int:
        raise AssertionError("fell back to INSERT IGNORE")

    monkeypatch.setattr(store_mod, "_insert_ignore_mysql", boom)


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Spool files go to ``tmp_path``; yields (name, mode) of each file seen while loading."""
    seen: list[tuple[str, int]] = []
    real = allow_local_infile

    @contextmanager
    def spy(dbapi: Any) -> Iterator[None]:
        for p in tmp_path.iterdir():
            seen.append((p.name, stat.S_IMODE(p.stat().st_mode)))
        with real(dbapi):
            yield

    monkeypatch.setattr(store_mod, "spool_dir", lambda: str(tmp_path))
    monkeypatch.setattr(store_mod, "allow_local_infile", spy)
    yield seen
    assert list(tmp_path.iterdir()) == [], "spool file left behind"


@pytest.mark.usefixtures("no_fallback")
def test_load_data_inserts_exactly_the_rows_and_skips_duplicates(
    mysql_engine: Engine, spool: list[tuple[str, int]]
) -> None:
    gslts_db.ensure_partitions(mysql_engine, 0, DAY)
    first = ticks("005930", DAY, 300) + ticks("000660", DAY + timedelta(days=3), 200)
    with mysql_engine.begin() as conn:
        # a generator works, and a duplicate inside the batch is stored once
        assert gslts_db.insert_ticks(conn, (r for r in [*first, first[7]])) == 500
    assert len(spool) == 1
    name, mode = spool[0]
    assert name.startswith("gslts-load-")
    assert mode == 0o600
    more = ticks("005930", DAY, 320)  # 300 already stored, 20 new
    with mysql_engine.begin() as conn:
        assert gslts_db.insert_ticks(conn, more) == 20
        assert gslts_db.insert_ticks(conn, first) == 0
        assert gslts_db.insert_ticks(conn, []) == 0
    stored = {(r[0], r[3]) for r in _raw_rows(mysql_engine)}
    assert stored == {(r.stock_code, r.cum_volume) for r in first + more}
    # the day without a partition of its own is kept in p_future
    parts = {
        p.name: p.rows
        for p in gslts_db.list_partitions(mysql_engine, tables=("tick_data",), exact=True)
    }
    assert parts[f"p{DAY:%Y%m%d}"] == 320
    assert parts["p_future"] == 200
    with mysql_engine.connect() as conn:
        got = gslts_db.fetch_ticks(
            conn,
            "005930",
            datetime(2026, 11, 24, 9, tzinfo=KST),
            datetime(2026, 11, 25, tzinfo=KST),
        )
    assert got == more  # every field round-trips (aware KST datetimes, Decimals, text)


@pytest.mark.usefixtures("no_fallback")
def test_text_nulls_decimals_and_zones_round_trip_exactly(mysql_engine: Engine) -> None:
    base = ticks("005930", DAY, 1)[0]
    nasty_codes = [
        "a\tb\nc\\d",
        "'\";--\\N",
        "\\N",
        "NULL",
        "",
        "삼성전자우",
        "x\r\0y\\",
        "\\t\\n",
    ]
    rows = [
        base._replace(stock_code=code, cum_volume=i + 1, session=code[:8] or None)
        for i, code in enumerate(nasty_codes)
    ]
    utc = datetime(2026, 11, 24, 0, 30, 1, 250_000, tzinfo=UTC)
    ny = datetime(2026, 11, 23, 19, 30, 1, tzinfo=ZoneInfo("America/New_York"))
    nulls = TickRow("000660", DAY, "NXT", 5, utc, ny, 1, -2, 3, source="backfill")
    decimals = [
        base._replace(stock_code="D", cum_volume=n, change_rate=d, strength=-d)
        for n, d in enumerate(
            [Decimal("9999999.99"), Decimal("0.01"), Decimal("-0.5"), Decimal("1E+2")], start=1
        )
    ]
    with mysql_engine.begin() as conn:
        assert gslts_db.insert_ticks(conn, [*rows, nulls, *decimals]) == len(rows) + 5
    stored = {(r[0], r[3]): r for r in _raw_rows(mysql_engine)}
    for row in rows:
        got = stored[(row.stock_code, row.cum_volume)]
        assert got[0] == row.stock_code
        assert got[13] == row.session
    # NULLs stay NULL (not 0 / '' / the text "\N"); other zones are stored as KST wall clock
    assert stored[("000660", 5)] == (
        "000660",
        DAY,
        "NXT",
        5,
        datetime(2026, 11, 24, 9, 30, 1, 250_000, tzinfo=KST).replace(tzinfo=None),
        datetime(2026, 11, 24, 9, 30, 1, tzinfo=KST).replace(tzinfo=None),
        1,
        -2,
        3,
        None,
        None,
        None,
        None,
        None,
        "backfill",
    )
    for row in decimals:
        got = stored[("D", row.cum_volume)]
        assert (got[11], got[12]) == (row.change_rate, row.strength)
        assert str(got[11]) == format(row.change_rate, ".2f")


def test_rolled_back_transaction_leaves_no_rows(mysql_engine: Engine) -> None:
    gslts_db.ensure_partitions(mysql_engine, 0, DAY)
    rows = ticks("005930", DAY, 2000)
    with mysql_engine.connect() as conn:
        trans = conn.begin()
        assert gslts_db.insert_ticks(conn, rows) == 2000
        # visible inside the transaction, invisible outside it (InnoDB isolation)
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM tick_data").scalar_one() == 2000
        assert _count(mysql_engine) == 0
        trans.rollback()
    assert _count(mysql_engine) == 0
    # the engine did not give up on LOAD DATA: the next batch still goes that way
    assert mysql_engine not in store_mod._LOAD_DATA_REFUSED


def test_refused_load_data_falls_back_with_one_warning(
    fresh_db_url: str, caplog: pytest.LogCaptureFixture, spool: list[tuple[str, int]]
) -> None:
    # a client connection without the local-infile capability is refused by the server
    # exactly like a server with local_infile=OFF (error 4166 / 1148 / 3948)
    engine = gslts_db.make_engine(fresh_db_url, local_infile=False)
    try:
        gslts_db.upgrade(engine)
        candle = gslts_db.CandleRow("005930", "1m", datetime(2026, 11, 24, 9, tzinfo=KST), *[1] * 7)
        rows = ticks("005930", DAY, 50)
        nasty = rows[0]._replace(cum_volume=1, session="a\tb'\\")
        with caplog.at_level(logging.WARNING, logger="gslts_db.store"):
            with engine.begin() as conn:
                # written before the refused statement: the transaction must survive it
                gslts_db.upsert_candles(conn, [candle])
                assert gslts_db.insert_ticks(conn, [*rows, nasty, rows[3]]) == 51
            with engine.begin() as conn:
                assert gslts_db.insert_ticks(conn, ticks("005930", DAY, 60)) == 10
            with engine.connect() as conn:
                trans = conn.begin()
                assert gslts_db.insert_ticks(conn, ticks("005930", DAY, 70)) == 10
                trans.rollback()
        warnings = [r for r in caplog.records if "load_data_refused" in r.getMessage()]
        assert len(warnings) == 1
        assert _count(engine) == 61
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM candles").scalar_one() == 1
            assert (
                conn.exec_driver_sql(
                    "SELECT session FROM tick_data WHERE cum_volume = 1"
                ).scalar_one()
                == "a\tb'\\"
            )
    finally:
        engine.dispose()
    # the refused attempt wrote its spool file once, and removed it
    assert len(spool) == 1


def test_server_file_requests_are_refused_outside_our_load_data(mysql_engine: Engine) -> None:
    # the capability is negotiated, but the client only answers a file request while
    # insert_ticks runs its own statement: any other LOAD DATA LOCAL (here standing in for
    # a rogue server asking for a file) is refused by the driver and nothing is sent
    probe = Path(f"/tmp/gslts-probe-{os.getpid()}.tsv")  # noqa: S108 - test-only file
    probe.write_text("000001\n", "utf-8")
    try:
        with mysql_engine.connect() as conn:
            with pytest.raises(Exception, match="local_infile option is false"):
                conn.exec_driver_sql(
                    f"LOAD DATA LOCAL INFILE '{probe}' INTO TABLE watchlist (stock_code)"
                )
            # PyMySQL leaves that connection out of sync: drop it rather than pool it
            conn.invalidate()
    finally:
        probe.unlink()
    with mysql_engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM watchlist").scalar_one() == 0
        # and our own LOAD DATA keeps working on the engine's fresh connections
        assert gslts_db.insert_ticks(conn, ticks("005930", DAY, 3)) == 3
