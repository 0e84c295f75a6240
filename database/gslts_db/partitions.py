"""Day partitions of ``tick_data`` and ``orderbook_snapshots`` (MySQL/MariaDB).

Layout: ``PARTITION BY RANGE COLUMNS(trade_date)`` with one partition per day, named
``pYYYYMMDD`` and bounded ``VALUES LESS THAN (<the next day>)``, followed by the catch-all
``p_future VALUES LESS THAN (MAXVALUE)`` that the first migration creates.

Why a catch-all: a row whose day has no partition yet must never be lost. It lands in
``p_future`` (or, for a day below an existing partition, in the partition covering it), and
when the day's partition is created later with ``REORGANIZE PARTITION`` MySQL moves those
rows into it. Creating partitions ahead (:func:`ensure_partitions`, run by
``gslts db upgrade`` and the hub's daily job) keeps ``p_future`` empty in practice, so the
reorganisation is instant.

A partition is "one day" only as long as the days before it have partitions: dropping
``p20260105`` (archive) makes ``p20260106`` cover 2026-01-05 again, which is what a late
backfill for that day will hit. :func:`ensure_day_partition` splits it again when an
archive is restored.

SQLite has no partitions: the functions here are no-ops there, and :func:`list_partitions`
reports one pseudo-partition per stored day.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gslts_db.engine import is_mysql
from gslts_db.models import PARTITIONED_TABLES

FUTURE = "p_future"
DEFAULT_DAYS_AHEAD = 14
_NAME = re.compile(r"^p(\d{8})$")

#: progress callback: (step done, steps total, what)
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class PartitionInfo:
    """One partition (or, on SQLite, one stored day) of a partitioned table.

    ``upper_bound`` is exclusive, None for the MAXVALUE partition; ``day`` is the day a
    ``pYYYYMMDD`` partition is meant for. ``rows`` is exact when listed with
    ``exact=True`` (InnoDB's own count is an estimate); sizes are None on SQLite.
    """

    table: str
    name: str
    upper_bound: date | None
    day: date | None
    rows: int
    data_bytes: int | None = None
    index_bytes: int | None = None


def partition_name(day: date) -> str:
    """``p20260105`` for 2026-01-05."""
    return f"p{day:%Y%m%d}"


def _day_of(name: str) -> date | None:
    m = _NAME.match(name)
    if not m:
        return None
    s = m.group(1)
    return date(int(s[:4]), int(s[4:6]), int(s[6:]))


def _parse_bound(desc: str | None) -> date | None:
    if desc is None or desc.strip().upper() == "MAXVALUE":
        return None
    return date.fromisoformat(desc.strip().strip("'\""))


def _check_table(table: str) -> None:
    if table not in PARTITIONED_TABLES:
        raise ValueError(f"{table!r} is not partitioned; expected one of {PARTITIONED_TABLES}")


def _bounds(conn: Connection, table: str) -> list[tuple[str, date | None]]:
    """(name, exclusive upper bound) of each partition, in order."""
    rows = conn.execute(
        sa.text(
            "SELECT PARTITION_NAME, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t "
            "AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION"
        ),
        {"t": table},
    ).all()
    if not rows:
        raise RuntimeError(
            f"{table} is not partitioned in this database; run `gslts db upgrade` first"
        )
    return [(str(name), _parse_bound(desc)) for name, desc in rows]


def _day_partition_sql(day: date) -> str:
    return (
        f"PARTITION {partition_name(day)} "
        f"VALUES LESS THAN ('{(day + timedelta(days=1)).isoformat()}')"
    )


def ensure_day_partition(conn: Connection, table: str, day: date) -> str | None:
    """Make sure ``day`` has its own partition in ``table``; MySQL/MariaDB only.

    The partition currently covering ``day`` is split in two with ``REORGANIZE PARTITION``
    (rows move with it; nothing is lost). DDL commits implicitly on MySQL.

    Returns:
        The name of the partition created, or None when it already existed.
    """
    _check_table(table)
    if not is_mysql(conn):
        return None
    bound = day + timedelta(days=1)
    for name, upper in _bounds(conn, table):
        if upper is not None and upper <= day:
            continue
        if upper == bound:
            return None
        # `name` covers `day` and more: split off [.., day] as the day's own partition
        upper_sql = "MAXVALUE" if upper is None else f"'{upper.isoformat()}'"
        conn.exec_driver_sql(
            f"ALTER TABLE {table} REORGANIZE PARTITION {name} INTO "
            f"({_day_partition_sql(day)}, PARTITION {name} VALUES LESS THAN ({upper_sql}))"
        )
        return partition_name(day)
    raise RuntimeError(f"{table} has no MAXVALUE partition")  # pragma: no cover


def ensure_partitions(
    engine: Engine,
    days_ahead: int = DEFAULT_DAYS_AHEAD,
    today: date | None = None,
    *,
    tables: tuple[str, ...] = PARTITIONED_TABLES,
    progress: Progress | None = None,
) -> list[str]:
    """Create the day partitions for ``today`` and the next ``days_ahead`` days.

    Idempotent: existing partitions are left alone. The days beyond the last partition are
    cut out of ``p_future`` in one ``REORGANIZE PARTITION`` per table; a missing day below
    the last partition (a gap) is split out of the partition covering it.

    Args:
        engine: the database (a no-op on SQLite).
        days_ahead: how many days after ``today`` to prepare.
        today: the KST trading day (the caller's clock; required on MySQL).
        tables: which partitioned tables.
        progress: called as ``progress(done, total, table)`` after each table.

    Returns:
        ``"<table>.<partition>"`` for each partition created.
    """
    if not is_mysql(engine):
        return []
    if today is None:
        raise ValueError("today is required (the caller's KST date)")
    days = [today + timedelta(days=i) for i in range(days_ahead + 1)]
    created: list[str] = []
    with engine.connect() as conn:
        for i, table in enumerate(tables, 1):
            _check_table(table)
            bounds = _bounds(conn, table)
            last = max((u for _, u in bounds if u is not None), default=None)
            tail = [d for d in days if last is None or d >= last]
            for d in days:
                if d in tail:
                    continue
                made = ensure_day_partition(conn, table, d)
                if made:
                    created.append(f"{table}.{made}")
            if tail:
                parts = ", ".join(_day_partition_sql(d) for d in tail)
                conn.exec_driver_sql(
                    f"ALTER TABLE {table} REORGANIZE PARTITION {FUTURE} INTO "
                    f"({parts}, PARTITION {FUTURE} VALUES LESS THAN (MAXVALUE))"
                )
                created.extend(f"{table}.{partition_name(d)}" for d in tail)
            conn.commit()
            if progress:
                progress(i, len(tables), table)
    return created


def list_partitions(
    engine: Engine, *, tables: tuple[str, ...] = PARTITIONED_TABLES, exact: bool = False
) -> list[PartitionInfo]:
    """The partitions of the partitioned tables, with row counts and sizes.

    On MySQL/MariaDB from ``information_schema.PARTITIONS`` (InnoDB's row count is an
    estimate; ``exact=True`` counts each partition instead, which reads it). On SQLite one
    entry per stored ``trade_date`` with exact counts.
    """
    out: list[PartitionInfo] = []
    with engine.connect() as conn:
        for table in tables:
            _check_table(table)
            if not is_mysql(conn):
                for day, n in conn.execute(
                    sa.text(
                        f"SELECT trade_date, COUNT(*) FROM {table} "  # noqa: S608 - fixed names
                        "GROUP BY trade_date ORDER BY trade_date"
                    )
                ):
                    d = day if isinstance(day, date) else date.fromisoformat(str(day))
                    out.append(
                        PartitionInfo(table, partition_name(d), d + timedelta(days=1), d, int(n))
                    )
                continue
            if not getattr(conn.dialect, "is_mariadb", False):
                # MySQL 8 caches these statistics for a day by default
                conn.exec_driver_sql("SET SESSION information_schema_stats_expiry = 0")
            rows = conn.execute(
                sa.text(
                    "SELECT PARTITION_NAME, PARTITION_DESCRIPTION, TABLE_ROWS, DATA_LENGTH, "
                    "INDEX_LENGTH FROM information_schema.PARTITIONS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t "
                    "AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION"
                ),
                {"t": table},
            ).all()
            for name, desc, n, data, index in rows:
                count = int(n or 0)
                if exact:
                    count = int(
                        conn.exec_driver_sql(
                            f"SELECT COUNT(*) FROM {table} PARTITION ({name})"  # noqa: S608
                        ).scalar_one()
                    )
                out.append(
                    PartitionInfo(
                        table,
                        str(name),
                        _parse_bound(desc),
                        _day_of(str(name)),
                        count,
                        None if data is None else int(data),
                        None if index is None else int(index),
                    )
                )
    return out
