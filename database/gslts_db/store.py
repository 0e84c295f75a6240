"""Bulk writes and range reads for the market-data tables.

The hub writes tens of thousands of rows a second, so the writers here bypass the ORM:
rows are plain tuples (or dicts). On MySQL/MariaDB they become multi-row ``INSERT``
statements of about 1 MB, on SQLite one prepared statement run with ``executemany``.
Writes are idempotent through the primary keys: ``INSERT IGNORE``
(MySQL/MariaDB) / ``INSERT OR IGNORE`` (SQLite), never ``REPLACE`` (which deletes and
re-inserts, and would let a replay overwrite a row).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gslts_db._types import KST, KSTDateTime, to_naive_kst
from gslts_db.engine import is_mysql
from gslts_db.models import Candle, OrderbookSnapshot, TickData

#: rows per ``executemany`` call; PyMySQL splits each call into ~1 MB statements itself
BATCH_ROWS = 5000


class TickRow(NamedTuple):
    """One trade as stored in ``tick_data`` (field order = :data:`TICK_COLUMNS`).

    ``trade_time``/``recv_time`` should be timezone-aware (naive values are taken as KST).
    ``volume`` is signed: + buy-initiated, - sell-initiated. ``cum_value`` is KRW million.
    """

    stock_code: str
    trade_date: date
    venue: str
    cum_volume: int
    trade_time: datetime
    recv_time: datetime
    price: int
    volume: int
    cum_value: int
    best_ask: int | None = None
    best_bid: int | None = None
    change_rate: Decimal | None = None
    strength: Decimal | None = None
    session: str | None = None
    source: str = "live"


class OrderbookRow(NamedTuple):
    """One sampled order book as stored in ``orderbook_snapshots``.

    ``levels`` comes from :func:`pack_levels`.
    """

    stock_code: str
    trade_date: date
    venue: str
    book_time: datetime
    recv_time: datetime
    levels: bytes
    total_ask_qty: int
    total_bid_qty: int
    expected_price: int | None = None
    expected_qty: int | None = None


class CandleRow(NamedTuple):
    """One OHLCV bar as stored in ``candles`` (``value`` in KRW)."""

    stock_code: str
    bar_interval: str
    start_time: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    trade_count: int


TICK_COLUMNS: tuple[str, ...] = TickRow._fields
ORDERBOOK_COLUMNS: tuple[str, ...] = OrderbookRow._fields
CANDLE_COLUMNS: tuple[str, ...] = CandleRow._fields

Row = Sequence[Any] | Mapping[str, Any]


# --------------------------------------------------------------------------- order books

BOOK_DEPTH = 10
_LEVELS = struct.Struct(f"<{4 * BOOK_DEPTH}q")


class BookLevels(NamedTuple):
    """The 10-level ladder: level 1 first on both sides (best ask, best bid)."""

    ask_prices: tuple[int, ...]
    ask_qtys: tuple[int, ...]
    bid_prices: tuple[int, ...]
    bid_qtys: tuple[int, ...]


def pack_levels(
    ask_prices: Sequence[int],
    ask_qtys: Sequence[int],
    bid_prices: Sequence[int],
    bid_qtys: Sequence[int],
) -> bytes:
    """Pack a ladder of up to 10 levels per side into 320 bytes (40 little-endian int64).

    Missing levels are stored as 0 (no price / no quantity).

    Raises:
        ValueError: a side has more than 10 levels.
    """
    values: list[int] = []
    for side in (ask_prices, ask_qtys, bid_prices, bid_qtys):
        if len(side) > BOOK_DEPTH:
            raise ValueError(f"at most {BOOK_DEPTH} levels per side, got {len(side)}")
        values.extend(int(v) for v in side)
        values.extend([0] * (BOOK_DEPTH - len(side)))
    return _LEVELS.pack(*values)


def unpack_levels(blob: bytes) -> BookLevels:
    """Inverse of :func:`pack_levels` (always 10 levels per side, 0 where empty)."""
    v = _LEVELS.unpack(blob)
    d = BOOK_DEPTH
    return BookLevels(v[0:d], v[d : 2 * d], v[2 * d : 3 * d], v[3 * d : 4 * d])


# --------------------------------------------------------------------------- generic writer


def _converters(
    table: sa.Table, columns: Sequence[str], sqlite: bool
) -> list[Callable[[Any], Any] | None]:
    """Per-column value converters for the raw driver (None = pass the value through)."""
    out: list[Callable[[Any], Any] | None] = []
    for name in columns:
        t = table.c[name].type
        if isinstance(t, KSTDateTime):
            out.append(_sqlite_datetime if sqlite else _naive_kst)
        elif sqlite and isinstance(t, sa.Date):
            out.append(_sqlite_date)
        elif sqlite and isinstance(t, sa.Numeric) and not isinstance(t, sa.Integer | sa.Float):
            out.append(_sqlite_decimal)
        else:
            out.append(None)
    return out


def _naive_kst(v: datetime | None) -> datetime | None:
    return None if v is None else to_naive_kst(v)


def _sqlite_datetime(v: datetime | None) -> str | None:
    # the exact text SQLAlchemy's SQLite DateTime writes, so range predicates compare right
    return None if v is None else to_naive_kst(v).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_date(v: date | None) -> str | None:
    return None if v is None else v.isoformat()


def _sqlite_decimal(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _prepare(
    table: sa.Table, columns: Sequence[str], rows: Iterable[Row], sqlite: bool
) -> list[tuple[Any, ...]]:
    conv = _converters(table, columns, sqlite)
    defaults = {c.name: c.server_default.arg for c in table.c if c.server_default is not None}  # type: ignore[attr-defined]
    out: list[tuple[Any, ...]] = []
    for row in rows:
        if isinstance(row, Mapping):
            vals: Sequence[Any] = [row[c] if c in row else defaults.get(c) for c in columns]
        else:
            vals = row
        out.append(tuple(v if f is None else f(v) for f, v in zip(conv, vals, strict=True)))
    return out


def _batched(rows: list[tuple[Any, ...]], size: int) -> Iterable[list[tuple[Any, ...]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def insert_ignore(
    conn: Connection,
    table: sa.Table,
    rows: Iterable[Row],
    *,
    columns: Sequence[str] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> int:
    """Insert rows, silently skipping any whose primary key is already stored.

    Args:
        conn: an open connection; the caller owns the transaction.
        table: the target table.
        rows: tuples in ``columns`` order, or dicts keyed by column name.
        columns: column order of tuple rows (default: every column of the table).
        batch_rows: rows per ``executemany`` call (SQLite; MySQL batches by statement size).

    Returns:
        How many rows were actually inserted (duplicates count 0).
    """
    cols = tuple(columns or (c.name for c in table.c))
    col_sql = ", ".join(cols)
    if is_mysql(conn):
        return _insert_ignore_mysql(conn, table, cols, rows)
    if conn.dialect.name != "sqlite":  # pragma: no cover - only the two supported engines
        raise NotImplementedError(f"unsupported dialect {conn.dialect.name}")
    prepared = _prepare(table, cols, rows, sqlite=True)
    marks = ", ".join(["?"] * len(cols))
    # identifiers come from our own metadata, values are bound: no injection
    sql = f"INSERT OR IGNORE INTO {table.name} ({col_sql}) VALUES ({marks})"  # noqa: S608
    inserted = 0
    for batch in _batched(prepared, batch_rows):
        result = conn.exec_driver_sql(sql, batch)
        inserted += max(result.rowcount, 0)
    return inserted


#: target size of one multi-row statement (server max_allowed_packet is >= 16 MB by default)
MYSQL_STATEMENT_BYTES = 1 << 20


def _insert_ignore_mysql(
    conn: Connection, table: sa.Table, cols: tuple[str, ...], rows: Iterable[Row]
) -> int:
    """Multi-row ``INSERT IGNORE`` with values rendered per column type.

    PyMySQL's generic escaping (a type dispatch per value) costs about three times the
    rest of the insert for 15-column ticks; knowing each column's type lets us render
    ints, dates and decimals directly. Strings still go through the driver's own quoting
    and bytes become hex literals, so no value can change the statement.
    """
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - an open Connection always has one
        raise RuntimeError("connection is closed")
    # PyMySQL's own string quoting (what its parameter binding uses); honours the
    # server's NO_BACKSLASH_ESCAPES mode
    quote: Callable[[str], str] = dbapi.escape
    renderers: list[Callable[[Any], str]] = []
    for name in cols:
        t = table.c[name].type
        if isinstance(t, KSTDateTime):
            renderers.append(lambda v: f"'{to_naive_kst(v).isoformat(' ')}'")
        elif isinstance(t, sa.Date):
            renderers.append(lambda v: f"'{v.isoformat()}'")
        elif isinstance(t, sa.Integer):
            renderers.append(lambda v: str(int(v)))
        elif isinstance(t, sa.Numeric):
            renderers.append(lambda v: str(Decimal(v)) if Decimal(v).is_finite() else "NULL")
        elif isinstance(t, sa.LargeBinary):
            renderers.append(lambda v: f"X'{bytes(v).hex()}'")
        else:
            renderers.append(lambda v: quote(str(v)))
    defaults = {c.name: c.server_default.arg for c in table.c if c.server_default is not None}  # type: ignore[attr-defined]
    head = f"INSERT IGNORE INTO {table.name} ({', '.join(cols)}) VALUES "  # noqa: S608
    inserted = 0
    parts: list[str] = []
    size = 0
    cursor = dbapi.cursor()
    try:
        for row in rows:
            vals = [row.get(c, defaults.get(c)) for c in cols] if isinstance(row, Mapping) else row
            text = (
                "("
                + ",".join(
                    "NULL" if v is None else r(v) for r, v in zip(renderers, vals, strict=True)
                )
                + ")"
            )
            parts.append(text)
            size += len(text) + 1
            if size >= MYSQL_STATEMENT_BYTES:
                inserted += cursor.execute(head + ",".join(parts))
                parts, size = [], 0
        if parts:
            inserted += cursor.execute(head + ",".join(parts))
    finally:
        cursor.close()
    return inserted


def insert_ticks(conn: Connection, rows: Iterable[TickRow | Row]) -> int:
    """Store trades (real-time 0B 주식체결); a trade already stored is skipped.

    Args:
        conn: an open connection; the caller commits.
        rows: :class:`TickRow` values, plain tuples in :data:`TICK_COLUMNS` order, or dicts.

    Returns:
        The number of new trades stored.
    """
    return insert_ignore(conn, TickData.__table__, rows, columns=TICK_COLUMNS)  # type: ignore[arg-type]


def insert_orderbook_snapshots(conn: Connection, rows: Iterable[OrderbookRow | Row]) -> int:
    """Store sampled order books (real-time 0D 주식호가잔량).

    At most one snapshot per (stock, venue, second of ``book_time``) is kept: the first one
    written wins and later ones for the same second are skipped, which also makes replays
    no-ops.

    Returns:
        The number of new snapshots stored.
    """
    return insert_ignore(
        conn,
        OrderbookSnapshot.__table__,  # type: ignore[arg-type]
        rows,
        columns=ORDERBOOK_COLUMNS,
    )


def upsert_candles(
    conn: Connection,
    rows: Iterable[CandleRow | Row],
    *,
    mode: Literal["replace", "merge"] = "replace",
) -> int:
    """Insert or update bars keyed by (stock, interval, start time).

    Modes:
        ``replace``: each row is the bar's full state so far (idempotent; re-sending the
        same bar changes nothing).
        ``merge``: each row covers only ticks not sent before: ``open`` is kept, ``high``/
        ``low`` widen, ``close`` is replaced, ``volume``/``value``/``trade_count`` add up.
        Not idempotent — send each delta once.

    Returns:
        The number of rows sent.
    """
    table: sa.Table = Candle.__table__  # type: ignore[assignment]
    cols = CANDLE_COLUMNS
    sqlite = conn.dialect.name == "sqlite"
    prepared = _prepare(table, cols, rows, sqlite)
    if not prepared:
        return 0
    col_sql = ", ".join(cols)
    if is_mysql(conn):
        new = "VALUES({})".format
        marks = ", ".join(["%s"] * len(cols))
        head = f"INSERT INTO candles ({col_sql}) VALUES ({marks}) ON DUPLICATE KEY UPDATE "  # noqa: S608
    else:
        new = "excluded.{}".format
        marks = ", ".join(["?"] * len(cols))
        head = (
            f"INSERT INTO candles ({col_sql}) VALUES ({marks}) "  # noqa: S608
            "ON CONFLICT (stock_code, bar_interval, start_time) DO UPDATE SET "
        )
    greatest, least = ("GREATEST", "LEAST") if is_mysql(conn) else ("MAX", "MIN")
    if mode == "replace":
        sets = [
            f"{c} = {new(c)}"
            for c in ("open", "high", "low", "close", "volume", "value", "trade_count")
        ]
    elif mode == "merge":
        sets = [
            f"high = {greatest}(high, {new('high')})",
            f"low = {least}(low, {new('low')})",
            f"close = {new('close')}",
            f"volume = volume + {new('volume')}",
            f"value = value + {new('value')}",
            f"trade_count = trade_count + {new('trade_count')}",
        ]
    else:
        raise ValueError(f"mode must be 'replace' or 'merge', not {mode!r}")
    sql = head + ", ".join(sets)
    for batch in _batched(prepared, BATCH_ROWS):
        conn.exec_driver_sql(sql, batch)
    return len(prepared)


# --------------------------------------------------------------------------- reads


def tick_range_query(
    stock_code: str, start: datetime, end: datetime, *, venue: str | None = None
) -> sa.Select[Any]:
    """The SELECT of one stock's trades with ``start <= trade_time < end``.

    Adds the matching ``trade_date`` bounds so MySQL prunes to the partitions of those days
    and reads them as a range of the clustered primary key (stock_code, trade_date, …).
    """
    t: sa.Table = TickData.__table__  # type: ignore[assignment]
    first = start.astimezone(KST).date() if start.tzinfo else start.date()
    last_dt = end.astimezone(KST) if end.tzinfo else end
    # end is exclusive: a midnight end does not need that day's partition
    last = (last_dt - timedelta(microseconds=1)).date()
    q = sa.select(*(t.c[c] for c in TICK_COLUMNS)).where(
        t.c.stock_code == stock_code,
        t.c.trade_date.between(first, max(first, last)),
        t.c.trade_time >= start,
        t.c.trade_time < end,
    )
    if venue is not None:
        q = q.where(t.c.venue == venue)
    return q.order_by(t.c.trade_time, t.c.venue, t.c.cum_volume)


def fetch_ticks(
    conn: Connection,
    stock_code: str,
    start: datetime,
    end: datetime,
    *,
    venue: str | None = None,
    limit: int | None = None,
) -> list[TickRow]:
    """One stock's trades with ``start <= trade_time < end``, oldest first.

    Times come back timezone-aware (KST); ``change_rate``/``strength`` as ``Decimal``.
    """
    q = tick_range_query(stock_code, start, end, venue=venue)
    if limit is not None:
        q = q.limit(limit)
    return [TickRow(*r) for r in conn.execute(q)]
