from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine

import gslts_db
from gslts_db import KST
from tests.unit.db.factories import ticks

pytestmark = pytest.mark.integration

D1 = date(2026, 11, 20)
DAYS = [D1 + timedelta(days=i) for i in range(4)]


def _all(engine: Engine) -> list[gslts_db.TickRow]:
    out: list[gslts_db.TickRow] = []
    with engine.connect() as conn:
        for code in ("005930", "000660"):
            out += gslts_db.fetch_ticks(
                conn, code, datetime(2026, 1, 1, tzinfo=KST), datetime(2027, 1, 1, tzinfo=KST)
            )
    return sorted(out)


def _names(engine: Engine) -> dict[str, int]:
    parts = gslts_db.list_partitions(engine, tables=("tick_data",), exact=True)
    return {p.name: p.rows for p in parts}


@pytest.fixture
def four_days(mysql_engine: Engine) -> Engine:
    gslts_db.ensure_partitions(mysql_engine, 3, D1)
    rows = []
    for i, day in enumerate(DAYS):
        rows += ticks("005930", day, 30 + i)
        rows += ticks("000660", day, 20, venue="NXT")
    with mysql_engine.begin() as conn:
        gslts_db.insert_ticks(conn, rows)
    return mysql_engine


def test_archive_drops_partitions_and_restore_recreates_them(
    four_days: Engine, tmp_path: Path
) -> None:
    engine = four_days
    before = _all(engine)
    done = gslts_db.archive_before(engine, DAYS[2], tmp_path, tables=("tick_data",), chunk_rows=16)
    assert [(a.day, a.rows, a.partition) for a in done] == [
        (DAYS[0], 50, "p20261120"),
        (DAYS[1], 51, "p20261121"),
    ]
    assert [pq.read_metadata(a.path).num_rows for a in done] == [50, 51]
    assert _names(engine) == {"p20261122": 52, "p20261123": 53, "p_future": 0}

    # restore out of order: each day gets its own partition back, split from its neighbour
    restored = gslts_db.restore_files(engine, [done[1].path, done[0].path])
    assert [(r.day, r.inserted) for r in restored] == [(DAYS[1], 51), (DAYS[0], 50)]
    assert _names(engine) == {
        "p20261120": 50,
        "p20261121": 51,
        "p20261122": 52,
        "p20261123": 53,
        "p_future": 0,
    }
    assert _all(engine) == before
    # idempotent
    assert [r.inserted for r in gslts_db.restore_files(engine, [done[0].path])] == [0]
    assert _all(engine) == before


def test_archive_refuses_to_drop_when_the_partition_changed(
    four_days: Engine, tmp_path: Path
) -> None:
    engine = four_days

    def sneak_in(done: int, total: int, what: str) -> None:
        # a late write into the day being archived, after its rows were counted
        if done == total:
            with engine.begin() as conn:
                gslts_db.insert_ticks(conn, ticks("035420", DAYS[0], 1))

    with pytest.raises(gslts_db.ArchiveError, match="not dropped"):
        gslts_db.archive_before(engine, DAYS[1], tmp_path, tables=("tick_data",), progress=sneak_in)
    assert _names(engine)["p20261120"] == 51


def test_archive_keeps_partitions_reaching_the_cutoff(four_days: Engine, tmp_path: Path) -> None:
    assert gslts_db.archive_before(four_days, DAYS[0], tmp_path) == []
    assert "p20261120" in _names(four_days)
