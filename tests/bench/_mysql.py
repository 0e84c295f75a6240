"""A throw-away MariaDB/MySQL schema for one benchmark, migrated and partitioned."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import sqlalchemy as sa

from gslts_db import ensure_partitions, make_engine, upgrade

MYSQL_URL = os.environ.get("BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")


@contextmanager
def fresh_schema(first_day: date, days_ahead: int) -> Iterator[sa.Engine]:
    """A new database at head with day partitions ``first_day … +days_ahead``; dropped after."""
    name = f"gslts_bench_{uuid.uuid4().hex[:8]}"
    root = make_engine(sa.make_url(MYSQL_URL)._replace(database=None))
    with root.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    eng = make_engine(sa.make_url(MYSQL_URL).set(database=name))
    try:
        upgrade(eng)
        ensure_partitions(eng, days_ahead, first_day)
        yield eng
    finally:
        eng.dispose()
        with root.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        root.dispose()
