"""Archive old days of the partitioned tables to Parquet, and restore them.

An archive file holds one day of one table: ``<table>_<YYYY-MM-DD>.parquet`` (zstd, row
groups of ``chunk_rows``), readable by pandas, polars, DuckDB or Spark. Times are
``timestamp[us, tz=Asia/Seoul]``, prices ``int64``, rates ``decimal128``. The file's
schema metadata names the table and the day (``gslts_table``, ``gslts_day``) so
:func:`restore_files` needs nothing else.

Order of operations for each day, so a crash at any point loses nothing:

1. stream the rows in primary-key order into ``<name>.parquet.part`` (bounded memory);
2. fsync, re-open the file and check its row count against the database's count;
3. rename it to ``<name>.parquet`` and fsync the directory;
4. only then ``DROP PARTITION`` (MySQL/MariaDB, after re-counting the partition) or
   ``DELETE`` the day (SQLite, count and delete in one transaction).

Only whole partitions are archived on MySQL: a partition whose range reaches ``before`` or
later (the catch-all ``p_future`` included) is left alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gslts_db._types import KSTDateTime
from gslts_db.engine import is_mysql
from gslts_db.errors import ArchiveError, RestoreError
from gslts_db.models import PARTITIONED_TABLES, Base
from gslts_db.partitions import _bounds, ensure_day_partition
from gslts_db.store import insert_ignore

if TYPE_CHECKING:
    import pyarrow as pa


def _arrow() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, imported on first use: pyarrow + numpy add ~70 MB
    and a second of start-up to every process that imports ``gslts_db`` (the hub, its writer
    process, the backend), and only archive/restore need them."""
    import pyarrow
    import pyarrow.parquet

    return pyarrow, pyarrow.parquet


DEFAULT_CHUNK_ROWS = 50_000
META_TABLE = b"gslts_table"
META_DAY = b"gslts_day"

#: progress callback: (rows done, rows total, what is being worked on)
RowProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ArchivedDay:
    """One day of one table written to ``path`` and removed from the database."""

    table: str
    day: date
    rows: int
    path: Path
    partition: str | None


@dataclass(frozen=True)
class RestoredFile:
    """One archive file re-imported; ``inserted`` < ``rows`` when some were still stored."""

    path: Path
    table: str
    day: date
    rows: int
    inserted: int


def _table(name: str) -> sa.Table:
    if name not in PARTITIONED_TABLES:
        raise ValueError(
            f"{name!r} is not an archivable table; expected one of {PARTITIONED_TABLES}"
        )
    return Base.metadata.tables[name]


def arrow_schema(table: sa.Table) -> pa.Schema:
    """The Parquet/Arrow schema used for ``table``'s archive files."""
    pa, _pq = _arrow()
    fields = []
    for col in table.c:
        t = col.type
        at: Any  # a pyarrow.DataType
        if isinstance(t, KSTDateTime):
            at = pa.timestamp("us", tz="Asia/Seoul")
        elif isinstance(t, sa.Date):
            at = pa.date32()
        elif isinstance(t, sa.Integer):
            at = pa.int64()
        elif isinstance(t, sa.Numeric):
            at = pa.decimal128(int(t.precision or 18), int(t.scale or 0))
        elif isinstance(t, sa.LargeBinary):
            at = pa.binary()
        elif isinstance(t, sa.String):
            at = pa.string()
        else:  # pragma: no cover - every column type of the partitioned tables is above
            raise TypeError(f"no Arrow type for {table.name}.{col.name}: {t!r}")
        fields.append(pa.field(col.name, at, nullable=bool(col.nullable)))
    return pa.schema(fields)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _free_path(out_dir: Path, table: str, day: date) -> Path:
    """A file name not used yet: a second archive of the same day never overwrites the first."""
    base = f"{table}_{day.isoformat()}"
    path = out_dir / f"{base}.parquet"
    n = 2
    while path.exists():
        path = out_dir / f"{base}-{n}.parquet"
        n += 1
    return path


def _export_day(
    engine: Engine,
    table: sa.Table,
    day: date,
    out_dir: Path,
    chunk_rows: int,
    on_rows: Callable[[int], None],
) -> tuple[Path, int]:
    """Stream one day into a verified Parquet file; returns (path, rows written)."""
    pa, pq = _arrow()
    schema = arrow_schema(table).with_metadata(
        {META_TABLE: table.name.encode(), META_DAY: day.isoformat().encode()}
    )
    final = _free_path(out_dir, table.name, day)
    part = final.with_name(final.name + ".part")
    pk = list(table.primary_key.columns)
    q = sa.select(table).where(table.c.trade_date == day).order_by(*pk)
    written = 0
    with engine.connect() as conn, pq.ParquetWriter(part, schema, compression="zstd") as writer:
        result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(q)
        for chunk in result.partitions(chunk_rows):
            cols = list(zip(*chunk, strict=True))
            arrays = [pa.array(c, type=f.type) for c, f in zip(cols, schema, strict=True)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            written += len(chunk)
            on_rows(len(chunk))
    _fsync_path(part)
    in_file = pq.read_metadata(part).num_rows
    if in_file != written:
        raise ArchiveError(f"{part}: wrote {written} rows but the file holds {in_file}")
    os.replace(part, final)
    _fsync_path(out_dir)
    return final, written


def archive_before(
    engine: Engine,
    before: date,
    out_dir: Path | str,
    *,
    tables: Sequence[str] = PARTITIONED_TABLES,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: RowProgress | None = None,
) -> list[ArchivedDay]:
    """Move every stored day older than ``before`` into Parquet files, then drop it.

    Args:
        engine: the database.
        before: first day to keep (exclusive bound of what is archived).
        out_dir: directory for the files (created if missing).
        tables: which partitioned tables to archive.
        chunk_rows: rows per streamed chunk and Parquet row group.
        progress: called as ``progress(rows_done, rows_total, "<table> <day>")``.

    Returns:
        What was archived, oldest first per table.

    Raises:
        ArchiveError: a file did not verify, or the partition changed during the export;
            that partition / day is kept in the database and the function stops.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # plan: (table, partition or None, [(day, rows)])
    plan: list[tuple[sa.Table, str | None, list[tuple[date, int]]]] = []
    with engine.connect() as conn:
        for name in tables:
            table = _table(name)
            if is_mysql(conn):
                for pname, upper in _bounds(conn, name):
                    if upper is None or upper > before:
                        continue
                    days = _day_counts(conn, name, f"PARTITION ({pname})", {})
                    plan.append((table, pname, days))
            else:
                days = _day_counts(conn, name, "WHERE trade_date < :b", {"b": before})
                plan.extend((table, None, [d]) for d in days)
    total = sum(n for _, _, days in plan for _, n in days)
    done = 0
    archived: list[ArchivedDay] = []
    for table, part, days in plan:
        for day, expected in days:
            label = f"{table.name} {day.isoformat()}"

            def on_rows(n: int, label: str = label) -> None:
                nonlocal done
                done += n
                if progress:
                    progress(done, total, label)

            path, written = _export_day(engine, table, day, out, chunk_rows, on_rows)
            if written != expected:
                raise ArchiveError(
                    f"{label}: exported {written} rows but the database counted {expected}; "
                    "nothing was dropped"
                )
            if part is None:
                _delete_day_sqlite(engine, table.name, day, written)
            archived.append(ArchivedDay(table.name, day, written, path, part))
        if part is not None:
            _drop_partition(engine, table.name, part, sum(n for _, n in days))
    if progress and total == 0:
        progress(0, 0, "nothing to archive")
    return archived


def _day_counts(
    conn: Connection, table: str, clause: str, params: dict[str, Any]
) -> list[tuple[date, int]]:
    rows = conn.execute(
        sa.text(
            f"SELECT trade_date, COUNT(*) FROM {table} {clause} "  # noqa: S608 - fixed names
            "GROUP BY trade_date ORDER BY trade_date"
        ),
        params,
    ).all()
    return [(d if isinstance(d, date) else date.fromisoformat(str(d)), int(n)) for d, n in rows]


def _drop_partition(engine: Engine, table: str, part: str, exported: int) -> None:
    with engine.connect() as conn:
        now = conn.exec_driver_sql(
            f"SELECT COUNT(*) FROM {table} PARTITION ({part})"  # noqa: S608 - fixed names
        ).scalar_one()
        if int(now) != exported:
            raise ArchiveError(
                f"{table} partition {part} now holds {now} rows but {exported} were exported "
                "(written to during the archive?); it was not dropped — run the archive again"
            )
        conn.exec_driver_sql(f"ALTER TABLE {table} DROP PARTITION {part}")


def _delete_day_sqlite(engine: Engine, table: str, day: date, exported: int) -> None:
    with engine.begin() as conn:
        t = Base.metadata.tables[table]
        now = conn.execute(
            sa.select(sa.func.count()).select_from(t).where(t.c.trade_date == day)
        ).scalar_one()
        if int(now) != exported:
            raise ArchiveError(
                f"{table} {day}: now holds {now} rows but {exported} were exported; kept"
            )
        conn.execute(t.delete().where(t.c.trade_date == day))


def inspect_archive(path: Path | str) -> tuple[str, date, int]:
    """(table, day, rows) of an archive file.

    Raises:
        RestoreError: the file is missing, not Parquet, or not a GSLTS archive.
    """
    pa, pq = _arrow()
    p = Path(path)
    if not p.is_file():
        raise RestoreError(f"{p}: no such file")
    try:
        meta = pq.read_metadata(p)
        schema = pq.read_schema(p)
    except (pa.ArrowException, OSError) as exc:
        raise RestoreError(f"{p}: not a readable Parquet file ({exc})") from None
    md = schema.metadata or {}
    try:
        table = md[META_TABLE].decode()
        day = date.fromisoformat(md[META_DAY].decode())
        _table(table)
    except (KeyError, ValueError):
        raise RestoreError(f"{p}: not a GSLTS archive (no table/day metadata)") from None
    missing = set(arrow_schema(_table(table)).names) - set(schema.names)
    if missing:
        raise RestoreError(f"{p}: columns missing for {table}: {sorted(missing)}")
    return table, day, int(meta.num_rows)


def restore_files(
    engine: Engine,
    paths: Iterable[Path | str],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: RowProgress | None = None,
) -> list[RestoredFile]:
    """Re-import archive files; rows already stored are skipped (idempotent).

    Every file is checked before anything is written. On MySQL/MariaDB the day's partition
    is recreated first (split out of the partition covering the day).

    Raises:
        RestoreError: a file is missing, unreadable or not a GSLTS archive (nothing written).
    """
    _pa, pq = _arrow()
    files = [(Path(p), *inspect_archive(p)) for p in paths]
    total = sum(n for *_, n in files)
    done = 0
    restored: list[RestoredFile] = []
    for path, name, day, rows in files:
        table = _table(name)
        cols = [c.name for c in table.c]
        inserted = 0
        with engine.connect() as conn:
            ensure_day_partition(conn, name, day)
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows, columns=cols):
                values = [batch.column(c).to_pylist() for c in cols]
                inserted += insert_ignore(conn, table, zip(*values, strict=True), columns=cols)
                conn.commit()
                done += batch.num_rows
                if progress:
                    progress(done, total, f"{name} {day.isoformat()}")
        restored.append(RestoredFile(path, name, day, rows, inserted))
    return restored
