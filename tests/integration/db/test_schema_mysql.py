from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import gslts_db
from gslts_db.models import Base

pytestmark = pytest.mark.integration


def test_upgrade_downgrade_upgrade_and_no_drift(mysql_engine: Engine) -> None:
    assert gslts_db.schema_drift(mysql_engine) == []
    gslts_db.downgrade(mysql_engine, "base")
    assert set(sa.inspect(mysql_engine).get_table_names()) <= {"alembic_version"}
    gslts_db.upgrade(mysql_engine)
    assert gslts_db.current_revision(mysql_engine) == gslts_db.head_revision()
    assert set(Base.metadata.tables) <= set(sa.inspect(mysql_engine).get_table_names())
    assert gslts_db.schema_drift(mysql_engine) == []


def test_partitioned_tables_start_with_the_catch_all_only(mysql_engine: Engine) -> None:
    parts = gslts_db.list_partitions(mysql_engine)
    assert [(p.table, p.name, p.upper_bound) for p in parts] == [
        ("tick_data", "p_future", None),
        ("orderbook_snapshots", "p_future", None),
    ]
    with mysql_engine.connect() as conn:
        ddl = conn.exec_driver_sql("SHOW CREATE TABLE tick_data").one()[1]
    assert "PRIMARY KEY (`stock_code`,`trade_date`,`venue`,`cum_volume`)" in ddl
    assert "utf8mb4" in ddl
    assert "InnoDB" in ddl


def test_korean_text_round_trips(mysql_engine: Engine) -> None:
    factory = gslts_db.make_session_factory(mysql_engine)
    from datetime import datetime

    now = datetime(2026, 11, 24, 8, 0, tzinfo=gslts_db.KST)
    with gslts_db.session_scope(factory) as s:
        s.add(
            gslts_db.StockMaster(
                stock_code="005930",
                name="삼성전자",
                chosung="ㅅㅅㅈㅈ",
                market="KOSPI",
                nxt_enabled=True,
                updated_at=now,
            )
        )
    with gslts_db.session_scope(factory) as s:
        got = s.scalars(
            sa.select(gslts_db.StockMaster).where(gslts_db.StockMaster.chosung.like("ㅅㅅ%"))
        ).one()
    assert (got.name, got.nxt_enabled, got.updated_at) == ("삼성전자", True, now)
