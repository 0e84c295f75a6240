"""Each MariaDB/MySQL test gets its own database ``gslts_t_<random>`` (partition DDL
auto-commits, so rolled-back transactions cannot isolate these tests)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import gslts_db


@pytest.fixture
def fresh_db_url(mysql_server_url: str) -> Iterator[str]:
    """URL of a new, empty database on the test server; dropped afterwards."""
    server = sa.make_url(mysql_server_url)
    name = f"gslts_t_{secrets.token_hex(4)}"
    admin = gslts_db.make_engine(server._replace(database=None), poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture
def mysql_engine(fresh_db_url: str) -> Iterator[Engine]:
    """A migrated engine on a fresh database (no day partitions yet: only p_future)."""
    engine = gslts_db.make_engine(fresh_db_url)
    gslts_db.upgrade(engine)
    yield engine
    engine.dispose()
