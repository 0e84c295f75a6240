"""``insert_ticks(..., tsv=...)``: caller-encoded LOAD DATA lines on MariaDB (the hub's path)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy.engine import Engine

import gslts_db
from gslts_db import TickRow
from gslts_db.store import tick_tsv_line
from tests.unit.db.factories import ticks

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 24)


def _raw(engine: Engine) -> list[tuple[Any, ...]]:
    cols = ", ".join(gslts_db.TICK_COLUMNS)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT {cols} FROM tick_data ORDER BY stock_code, venue, cum_volume"  # noqa: S608
        ).all()
    return [tuple(r) for r in rows]


def _untouched(rows: list[TickRow]) -> Iterator[TickRow]:
    raise AssertionError("rows iterated although the lines were loaded")
    yield from rows  # pragma: no cover


def test_lines_store_the_same_rows_and_rows_stay_untouched(mysql_engine: Engine) -> None:
    rows = ticks("005930", DAY, 40)
    rows[1] = rows[1]._replace(strength=None, session="a\tb\\", best_ask=None)
    with mysql_engine.begin() as conn:
        n = gslts_db.insert_ticks(
            conn, _untouched(rows), tsv=lambda: [tick_tsv_line(r) for r in rows]
        )
    assert n == 40
    via_lines = _raw(mysql_engine)
    with mysql_engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM tick_data")
        assert gslts_db.insert_ticks(conn, rows) == 40
    assert _raw(mysql_engine) == via_lines
    with mysql_engine.begin() as conn:  # duplicates are skipped on this path too
        again = [*rows[:5], *ticks("005930", DAY, 45)[40:]]
        assert gslts_db.insert_ticks(conn, again, tsv=lambda: map(tick_tsv_line, again)) == 5


def test_refused_load_data_falls_back_to_the_rows(fresh_db_url: str) -> None:
    engine = gslts_db.make_engine(fresh_db_url, local_infile=False)
    try:
        gslts_db.upgrade(engine)
        rows = ticks("000660", DAY, 30)
        with engine.begin() as conn:
            # lazy rows (like the hub's): consumed only by the INSERT fallback
            assert (
                gslts_db.insert_ticks(
                    conn, iter(rows), tsv=lambda: [tick_tsv_line(r) for r in rows]
                )
                == 30
            )
        assert len(_raw(engine)) == 30
    finally:
        engine.dispose()
