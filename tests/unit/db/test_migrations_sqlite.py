from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

import gslts_db
from gslts_db.models import Base


def test_upgrade_downgrade_upgrade_and_no_drift(sqlite_engine: Engine) -> None:
    assert gslts_db.current_revision(sqlite_engine) == gslts_db.head_revision()
    assert gslts_db.schema_drift(sqlite_engine) == []

    gslts_db.downgrade(sqlite_engine, "base")
    assert gslts_db.current_revision(sqlite_engine) is None
    left = set(sa.inspect(sqlite_engine).get_table_names()) - {"alembic_version"}
    assert left == set()

    gslts_db.upgrade(sqlite_engine)
    assert set(Base.metadata.tables) <= set(sa.inspect(sqlite_engine).get_table_names())
    assert gslts_db.schema_drift(sqlite_engine) == []


def test_drift_check_notices_a_schema_that_differs(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_stock_master_chosung")
    drift = gslts_db.schema_drift(sqlite_engine)
    assert any("ix_stock_master_chosung" in repr(d) for d in drift)


def test_engine_uses_wal_and_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_migration_files_have_dated_names() -> None:
    versions = Path(gslts_db.__file__).parent / "migrations" / "versions"
    names = sorted(p.name for p in versions.glob("*.py"))
    assert names, "no migration files shipped"
    for name in names:
        assert re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}_\w+\.py$", name), name


def test_constraint_names_follow_the_convention(sqlite_engine: Engine) -> None:
    insp = sa.inspect(sqlite_engine)
    assert [u["name"] for u in insp.get_unique_constraints("users")] == ["uq_users_username"]
    fks = insp.get_foreign_keys("order_events")
    assert [f["name"] for f in fks] == ["fk_order_events_order_id_orders"]
