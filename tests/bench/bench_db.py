"""Bulk tick insert into MariaDB/MySQL: three ways side by side in one run, same rows.

A fresh schema ``gslts_bench_<hex>`` (migrated, day partitions for the days used, dropped
afterwards) receives ``BENCH_DB_ROWS`` (default 300000) distinct trades of 60 stocks over
three days — the last day has no partition of its own, so a third of the rows land in
``p_future`` as they would for a late partition job. Rows are hub-shaped
:class:`gslts_db.TickRow` values (naive KST datetimes, Decimals, Korean-free ASCII text),
written in transactions of 10,000 rows (the hub writer's batch). Each method gets its own
(truncated) table state, and the order of methods rotates per round so a warm-up or a
neighbour's load burst does not favour one of them:

* ``db.insert_ticks_rows_per_s`` — :func:`gslts_db.insert_ticks` as shipped
  (``LOAD DATA LOCAL INFILE`` on a server that allows it);
* ``db.executemany_rows_per_s`` — plain PyMySQL ``cursor.executemany`` of ``INSERT IGNORE``
  (PyMySQL batches it into multi-row statements itself; generic escaping);
* ``db.rendered_insert_rows_per_s`` — the multi-row ``INSERT IGNORE`` rendered per column
  type (the previous ``insert_ticks``, now the fallback);
* ``db.load_data_rows_per_s`` — :func:`gslts_db.store.load_data_ignore` called directly
  (TSV spool file + ``LOAD DATA LOCAL INFILE ... IGNORE``).

Every run is checked: the table must then hold exactly the rows sent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gslts_db import TICK_COLUMNS, TickData, TickRow
from gslts_db.store import _insert_ignore_mysql, insert_ticks, load_data_ignore
from tests.bench._mysql import fresh_schema

N_ROWS = int(os.environ.get("BENCH_DB_ROWS", "300000"))
BATCH = 10_000
N_STOCKS = 60
DAYS = (date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26))
ROUNDS = int(os.environ.get("BENCH_DB_ROUNDS", "2"))

TABLE: sa.Table = TickData.__table__  # type: ignore[assignment]


def build_rows(n: int) -> list[TickRow]:
    """``n`` distinct trades: stocks interleaved as on the wire, days in order."""
    rows: list[TickRow] = []
    per_day = -(-n // len(DAYS))
    for day in DAYS:
        cum = [0] * N_STOCKS
        # naive KST, exactly what the hub writer passes (gslts_hub.rows.naive_kst)
        t0 = datetime(day.year, day.month, day.day, 9, 0)  # noqa: DTZ001
        for i in range(min(per_day, n - len(rows))):
            s = i % N_STOCKS
            qty = 1 + (i * 7) % 300
            cum[s] += qty
            price = 10_000 + 50 * s + 10 * (i % 40)
            t = t0 + timedelta(seconds=i // 20)
            rows.append(
                TickRow(
                    f"{100000 + 37 * s:06d}",
                    day,
                    "KRX" if i % 5 else "NXT",
                    cum[s],
                    t,
                    t + timedelta(microseconds=1000 + i % 999_000),
                    price,
                    qty if i % 2 else -qty,
                    cum[s] * price // 1_000_000,
                    price + 10,
                    price,
                    Decimal(i % 3000 - 1500) / 100,
                    Decimal(9000 + i % 3000) / 100,
                    "regular",
                    "live",
                )
            )
    return rows


def _executemany(conn: Connection, rows: list[TickRow]) -> int:
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    marks = ", ".join(["%s"] * len(TICK_COLUMNS))
    sql = f"INSERT IGNORE INTO tick_data ({', '.join(TICK_COLUMNS)}) VALUES ({marks})"  # noqa: S608
    cur = dbapi.cursor()
    try:
        return int(cur.executemany(sql, rows) or 0)
    finally:
        cur.close()


def _rendered(conn: Connection, rows: list[TickRow]) -> int:
    return _insert_ignore_mysql(conn, TABLE, TICK_COLUMNS, rows)


def _load_data(conn: Connection, rows: list[TickRow]) -> int:
    return load_data_ignore(conn, TABLE, rows, columns=TICK_COLUMNS)


METHODS: dict[str, Callable[[Connection, list[TickRow]], int]] = {
    "db.insert_ticks_rows_per_s": insert_ticks,
    "db.executemany_rows_per_s": _executemany,
    "db.rendered_insert_rows_per_s": _rendered,
    "db.load_data_rows_per_s": _load_data,
}


def time_method(
    engine: sa.Engine, fn: Callable[[Connection, list[TickRow]], int], rows: list[TickRow]
) -> float:
    """Rows/s of ``fn`` over ``rows`` in 10k transactions, into an empty table."""
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE TABLE tick_data")
    inserted = 0
    t0 = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        with engine.begin() as conn:
            inserted += fn(conn, rows[i : i + BATCH])
    elapsed = time.perf_counter() - t0
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT COUNT(*) FROM tick_data").scalar_one()
    if inserted != len(rows) or stored != len(rows):
        raise RuntimeError(f"{fn.__name__}: reported {inserted}, stored {stored} of {len(rows)}")
    return len(rows) / elapsed


def run() -> dict[str, float]:
    """All methods, ``ROUNDS`` rotated rounds, best round per method; ``db.*`` keys."""
    rows = build_rows(N_ROWS)
    best: dict[str, float] = dict.fromkeys(METHODS, 0.0)
    names = list(METHODS)
    # partitions for the first two days; the third goes to p_future
    with fresh_schema(DAYS[0], 1) as engine:
        for r in range(ROUNDS):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                rate = time_method(engine, METHODS[name], rows)
                print(f"   round {r + 1} {name:32s} {rate:10,.0f} rows/s", flush=True)
                best[name] = max(best[name], rate)
    print(f"   {'method':32s} {'rows/s':>10s}   ({len(rows):,} rows, batches of {BATCH:,})")
    for name in names:
        print(f"   {name:32s} {best[name]:10,.0f}")
    print(f"   load: {os.getloadavg()}")
    return {k: round(v) for k, v in best.items()}


if __name__ == "__main__":
    for key, value in run().items():
        print(key, value)
