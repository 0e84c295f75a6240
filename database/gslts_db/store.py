"""Bulk writes and range reads for the market-data tables.

The hub writes tens of thousands of rows a second, so the writers here bypass the ORM:
rows are plain tuples (or dicts). On MySQL/MariaDB ticks are bulk-loaded with
``LOAD DATA LOCAL INFILE ... IGNORE`` from a TSV spool file (~1.7x the rows/s of multi-row
``INSERT``; see ``database/README.md``), falling back to multi-row ``INSERT IGNORE``
statements of about 1 MB when the server refuses LOAD DATA; on SQLite one prepared
statement runs with ``executemany``. Writes are idempotent through the primary keys:
``IGNORE`` (MySQL/MariaDB) / ``INSERT OR IGNORE`` (SQLite), never ``REPLACE`` (which
deletes and re-inserts, and would let a replay overwrite a row).
"""

from __future__ import annotations

import functools
import logging
import os
import struct
import tempfile
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gslts_db._types import KST, KSTDateTime, to_naive_kst
from gslts_db.engine import allow_local_infile, is_mysql
from gslts_db.models import Candle, OrderbookSnapshot, TickData

log = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------- LOAD DATA (MySQL)

#: MySQL/MariaDB errors meaning "LOAD DATA LOCAL is not allowed here" (server option
#: ``local_infile`` OFF, or a client connection without the capability): 1148
#: ER_NOT_ALLOWED_COMMAND, 3948 ER_CLIENT_LOCAL_FILES_DISABLED (MySQL 8), 4166
#: ER_LOAD_INFILE_CAPABILITY_DISABLED (MariaDB 10.6+)
LOAD_DATA_REFUSED_ERRNOS: frozenset[int] = frozenset({1148, 3948, 4166})

#: engines whose server refused LOAD DATA LOCAL: they use multi-row INSERT IGNORE until the
#: process restarts (one warning per engine, not one per batch)
_LOAD_DATA_REFUSED: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()

#: rows formatted per write to the spool file (bounds memory for very large inputs)
_SPOOL_CHUNK_ROWS = 4096

# LOAD DATA's default field format (TAB-separated, newline-terminated, backslash escapes,
# ``\\N`` = NULL, nothing enclosed): the characters that must be escaped inside a field
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def spool_dir() -> str:
    """Directory of the LOAD DATA batch files: ``/dev/shm`` (RAM) when usable, else the
    system temp dir (``TMPDIR``). Files are created 0600 and deleted after each batch."""
    shm = "/dev/shm"  # noqa: S108 - mkstemp below makes a private 0600 file with a random name
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


def _tsv_str(v: Any) -> str:
    s = v if type(v) is str else str(v)
    # the translate call is the slow part; most values (codes, venues) need no escaping
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s or "\0" in s:
        return s.translate(_TSV_ESCAPES)
    return s


def _tsv_int(v: Any) -> str:
    return str(v if type(v) is int else int(v))


def _tsv_decimal(v: Any) -> str:
    d = v if type(v) is Decimal else Decimal(v)
    # fixed-point text ("1E+2" -> "100"); NaN/inf are not storable: NULL like INSERT IGNORE
    return format(d, "f") if d.is_finite() else "\\N"


def _tsv_date(v: Any) -> str:
    return str(v.isoformat())


def _tsv_datetime(v: Any) -> str:
    # naive = KST already (what the hub passes); aware values of any zone become KST
    # str() of a naive datetime is isoformat(" ") ("2026-11-24 09:00:01[.123456]"), faster
    return str(v if v.tzinfo is None else to_naive_kst(v))


def _tsv_kinds(table: sa.Table, cols: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in cols:
        t = table.c[name].type
        if isinstance(t, KSTDateTime):
            out.append("datetime")
        elif isinstance(t, sa.Date):
            out.append("date")
        elif isinstance(t, sa.Integer):
            out.append("int")
        elif isinstance(t, sa.Numeric):
            out.append("decimal")
        elif isinstance(t, sa.String):
            out.append("str")
        else:  # pragma: no cover - binary columns would need escaping rules of their own
            raise NotImplementedError(f"LOAD DATA of column {name} ({t}) is not supported")
    return tuple(out)


_TSV_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "datetime": _tsv_datetime,
    "date": _tsv_date,
    "int": _tsv_int,
    "decimal": _tsv_decimal,
    "str": _tsv_str,
}

#: memo entries per column before a cache is emptied (bounds memory on huge inputs)
_MEMO_MAX = 1 << 16


@functools.lru_cache(maxsize=16)
def _row_encoder_code(kinds: tuple[str, ...]) -> Any:
    """Byte code of ``enc(row) -> str``, one TSV line, specialised to the column kinds.

    Formatting is most of LOAD DATA's client cost, and a generic loop (one call per value)
    halves the rows/s. The generated function unpacks the row once and formats it in a
    single f-string; ints are formatted inline, every other column goes through a per-batch
    memo (codes, venues, dates, trade times and rates repeat a lot; aware datetimes that are
    the same instant share one KST text, which is correct). Only generated names (``v3``,
    ``c3``, ``m3``) appear in the source, never data or metadata.
    """
    parts = []
    for i, kind in enumerate(kinds):
        if kind == "int":
            parts.append(f"{{str(v{i}) if type(v{i}) is int else m{i}(v{i})}}")
        else:
            parts.append(f"{{c{i}.get(v{i}) or m{i}(v{i})}}")
    names = ", ".join(f"v{i}" for i in range(len(kinds)))
    body = "\\t".join(parts)
    src = f"def enc(row):\n    ({names},) = row\n    return f'{body}'\n"
    return compile(src, "<gslts_db tsv encoder>", "exec")


def _memo(fmt: Callable[[Any], str], cache: dict[Any, str]) -> Callable[[Any], str]:
    def miss(v: Any) -> str:
        text = "\\N" if v is None else fmt(v)
        if len(cache) >= _MEMO_MAX:
            cache.clear()
        cache[v] = text
        return text

    return miss


def _row_encoder(kinds: tuple[str, ...]) -> Callable[[Sequence[Any]], str]:
    ns: dict[str, Any] = {}
    for i, kind in enumerate(kinds):
        cache: dict[Any, str] = {}
        ns[f"c{i}"] = cache
        if kind == "int":  # not memoised: the inline fast path covers plain ints
            ns[f"m{i}"] = _memo(_tsv_int, {})
        else:
            ns[f"m{i}"] = _memo(_TSV_FORMATTERS[kind], cache)
    exec(_row_encoder_code(kinds), ns)  # noqa: S102 - our own generated source, see above
    enc: Callable[[Sequence[Any]], str] = ns["enc"]
    return enc


def _tsv_lines(
    table: sa.Table, cols: Sequence[str], rows: Iterable[Row]
) -> Iterable[tuple[int, str]]:
    """``(row count, text)`` chunks of the TSV body, one line per row."""
    enc = _row_encoder(_tsv_kinds(table, cols))
    defaults = {c.name: c.server_default.arg for c in table.c if c.server_default is not None}  # type: ignore[attr-defined]
    lines: list[str] = []
    for row in rows:
        # tuples first: an isinstance check against the Mapping ABC costs more per row
        if not isinstance(row, tuple) and isinstance(row, Mapping):
            row = [row.get(c, defaults.get(c)) for c in cols]
        # a row of the wrong width fails the encoder's unpacking (ValueError)
        lines.append(enc(row))
        if len(lines) >= _SPOOL_CHUNK_ROWS:
            yield len(lines), "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield len(lines), "\n".join(lines) + "\n"


class LoadDataRefusedError(Exception):
    """The server (or the connection) does not allow ``LOAD DATA LOCAL INFILE``."""


def load_data_ignore(
    conn: Connection, table: sa.Table, rows: Iterable[Row], *, columns: Sequence[str]
) -> int:
    """``LOAD DATA LOCAL INFILE ... IGNORE`` of ``rows`` through a private TSV spool file.

    Runs on the caller's connection, inside its transaction (InnoDB: a rollback removes the
    rows). The file is created 0600 in :func:`spool_dir` and deleted before returning.

    Returns:
        Rows actually inserted (with ``IGNORE`` the affected-rows count excludes duplicates).

    Raises:
        LoadDataRefusedError: the server or the connection refuses LOAD DATA LOCAL (nothing
            was written; the transaction is intact).
    """
    return _load_data_chunks(conn, table, columns, _tsv_lines(table, columns, rows))


def _line_chunks(lines: Iterable[str]) -> Iterable[tuple[int, str]]:
    """Pre-encoded TSV lines (no terminator) as ``(row count, text)`` chunks."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= _SPOOL_CHUNK_ROWS:
            yield len(chunk), "\n".join(chunk) + "\n"
            chunk = []
    if chunk:
        yield len(chunk), "\n".join(chunk) + "\n"


def _load_data_chunks(
    conn: Connection, table: sa.Table, columns: Sequence[str], chunks: Iterable[tuple[int, str]]
) -> int:
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - an open Connection always has one
        raise RuntimeError("connection is closed")
    fd, path = tempfile.mkstemp(prefix="gslts-load-", suffix=".tsv", dir=spool_dir())
    try:
        n = 0
        with os.fdopen(fd, "wb") as f:
            for count, text in chunks:
                f.write(text.encode("utf-8"))
                n += count
        if n == 0:
            return 0
        # identifiers come from our metadata; the path is ours (mkstemp) and driver-quoted
        sql = (
            f"LOAD DATA LOCAL INFILE {dbapi.escape(path)} IGNORE INTO TABLE {table.name} "
            f"CHARACTER SET utf8mb4 ({', '.join(columns)})"
        )
        cursor = dbapi.cursor()
        try:
            with allow_local_infile(dbapi):
                return int(cursor.execute(sql))
        except Exception as exc:
            errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            if errno in LOAD_DATA_REFUSED_ERRNOS:
                raise LoadDataRefusedError(str(exc)) from exc
            raise
        finally:
            cursor.close()
    finally:
        os.unlink(path)


def tsv_text(v: str | None) -> str:
    """A text value as one LOAD DATA field (backslash escapes; ``None`` = ``\\N``)."""
    return "\\N" if v is None else _tsv_str(v)


def tsv_decimal(v: str | Decimal | None) -> str:
    """A decimal value (or its text, e.g. ``"+0.71"``) as one LOAD DATA field: fixed-point
    text like the bulk load of :class:`TickRow` values; ``None``/NaN/inf = ``\\N``."""
    return "\\N" if v is None else _tsv_decimal(v)


def tsv_date_text(v: date) -> str:
    """A date as one LOAD DATA field."""
    return _tsv_date(v)


def tsv_datetime(v: datetime) -> str:
    """A datetime as one LOAD DATA field (naive = KST; aware values converted to KST)."""
    return _tsv_datetime(v)


@functools.cache
def _tick_encoder() -> Callable[[Sequence[Any]], str]:
    return _row_encoder(_tsv_kinds(TickData.__table__, TICK_COLUMNS))  # type: ignore[arg-type]


def tick_tsv_line(row: TickRow | Sequence[Any]) -> str:
    """The LOAD DATA line (no terminator) :func:`insert_ticks` writes for ``row``: the
    reference a caller's own encoder (``insert_ticks(..., tsv=...)``) must match."""
    return _tick_encoder()(row)


def _insert_ticks_mysql(
    conn: Connection,
    rows: Iterable[TickRow | Row],
    tsv: Callable[[], Iterable[str]] | None,
) -> int:
    table: sa.Table = TickData.__table__  # type: ignore[assignment]
    engine = conn.engine
    if not _LOAD_DATA_REFUSED.get(engine, False):
        try:
            if tsv is not None:
                # the caller encoded the lines itself (e.g. the hub, from its journal
                # arrays): ``rows`` stays untouched unless the fallback below needs it
                return _load_data_chunks(conn, table, TICK_COLUMNS, _line_chunks(tsv()))
            rows = rows if isinstance(rows, list | tuple) else list(rows)
            return load_data_ignore(conn, table, rows, columns=TICK_COLUMNS)
        except LoadDataRefusedError as exc:
            _LOAD_DATA_REFUSED[engine] = True
            log.warning(
                "load_data_refused fallback=insert_ignore hint=%s error=%s",
                "enable local_infile on the server (SET GLOBAL local_infile=ON)",
                exc,
            )
    return _insert_ignore_mysql(conn, table, TICK_COLUMNS, rows)


def insert_ticks(
    conn: Connection,
    rows: Iterable[TickRow | Row],
    *,
    tsv: Callable[[], Iterable[str]] | None = None,
) -> int:
    """Store trades (real-time 0B 주식체결); a trade already stored is skipped.

    On MySQL/MariaDB the batch is bulk-loaded with ``LOAD DATA LOCAL INFILE ... IGNORE``
    (:func:`load_data_ignore`); if the server refuses it (``local_infile`` OFF) a warning is
    logged once per engine and multi-row ``INSERT IGNORE`` statements are used instead.

    Args:
        conn: an open connection; the caller commits (a rollback removes the rows).
        rows: :class:`TickRow` values, plain tuples in :data:`TICK_COLUMNS` order, or dicts.
            Datetimes may be aware (any zone, stored as KST) or naive (taken as KST).
        tsv: optional fast path: returns the same rows already encoded as LOAD DATA lines
            (each exactly :func:`tick_tsv_line` of its row, in :data:`TICK_COLUMNS` order).
            When the bulk load runs, these lines are loaded and ``rows`` is never iterated
            (so it may be a lazy iterable); ``rows`` serves SQLite and the INSERT fallback.

    Returns:
        The number of new trades stored.
    """
    if is_mysql(conn):
        return _insert_ticks_mysql(conn, rows, tsv)
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


def count_day_ticks(conn: Connection, day: date) -> int:
    """How many trades are stored for KST trading day ``day`` (one partition's count)."""
    t: sa.Table = TickData.__table__  # type: ignore[assignment]
    q = sa.select(sa.func.count()).select_from(t).where(t.c.trade_date == day)
    return int(conn.execute(q).scalar() or 0)
