"""``gslts db``: schema migrations and day-partition maintenance.

Subcommands: ``upgrade`` (migrations to head, then partitions ahead), ``downgrade``,
``current``, ``ensure-partitions`` (the daily job), ``partitions`` (list), ``archive``
(old days → Parquet, then drop) and ``restore`` (Parquet → database). Bad input (a
malformed date, a missing file) exits with code 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gslts_common.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

EXIT_BAD_INPUT = 2


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _days(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 <= n <= 366:
        raise argparse.ArgumentTypeError(f"days must be 0..366, got {text!r}")
    return n


def register(subparsers: Any) -> None:
    """Add ``gslts db`` and its subcommands."""
    from gslts_db.partitions import DEFAULT_DAYS_AHEAD

    db = subparsers.add_parser("db", help="database migrations, partitions, archives")
    sub = db.add_subparsers(dest="db_command", metavar="<db command>", required=True)

    p = sub.add_parser("upgrade", help="migrate to the newest schema, then ensure partitions")
    p.add_argument("--revision", default="head", help="target revision (default: head)")
    p.add_argument(
        "--days-ahead",
        type=_days,
        default=DEFAULT_DAYS_AHEAD,
        metavar="N",
        help=f"day partitions to create ahead (default {DEFAULT_DAYS_AHEAD})",
    )
    p.set_defaults(func=_cmd_upgrade)

    p = sub.add_parser("downgrade", help="migrate back to REVISION ('base' drops all tables)")
    p.add_argument("revision")
    p.set_defaults(func=_cmd_downgrade)

    p = sub.add_parser("current", help="show the schema revision of the database")
    p.set_defaults(func=_cmd_current)

    p = sub.add_parser("ensure-partitions", help="create day partitions ahead (daily job)")
    p.add_argument("--days-ahead", type=_days, default=DEFAULT_DAYS_AHEAD, metavar="N")
    p.set_defaults(func=_cmd_ensure)

    p = sub.add_parser("partitions", help="list partitions with row counts and sizes")
    p.add_argument("--exact", action="store_true", help="count rows instead of estimating")
    p.set_defaults(func=_cmd_partitions)

    p = sub.add_parser("archive", help="export days before DATE to Parquet, then drop them")
    p.add_argument(
        "--before",
        type=_date,
        required=True,
        metavar="DATE",
        help="first day to keep (YYYY-MM-DD); older days are archived",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output directory (default: DATA_DIR/archive)",
    )
    p.add_argument(
        "--table",
        action="append",
        dest="tables",
        metavar="TABLE",
        help="only this table (repeatable; default: tick_data, orderbook_snapshots)",
    )
    p.set_defaults(func=_cmd_archive)

    p = sub.add_parser("restore", help="re-import archived Parquet files (idempotent)")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(func=_cmd_restore)


def _today_kst() -> date:
    from gslts_db import KST

    return datetime.now(KST).date()


def _engine(settings: Settings) -> Engine:
    from gslts_db import make_engine

    return make_engine(settings.resolved_database_url())


def _safe_url(settings: Settings) -> str:
    import sqlalchemy as sa

    return sa.make_url(settings.resolved_database_url()).render_as_string(hide_password=True)


def _guarded(fn: Callable[[argparse.Namespace, Settings], int]) -> Callable[..., int]:
    """Turn expected failures into one line on stderr (never a traceback, never a secret)."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        from sqlalchemy.exc import OperationalError

        from gslts_db import ArchiveError, GsltsDbError, RestoreError

        try:
            return fn(args, settings)
        except RestoreError as exc:
            print(f"gslts db: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except (ArchiveError, GsltsDbError) as exc:
            print(f"gslts db: {exc}", file=sys.stderr)
            return 1
        except OperationalError as exc:
            reason = exc.orig.args[-1] if exc.orig is not None and exc.orig.args else exc
            print(f"gslts db: database {_safe_url(settings)}: {reason}", file=sys.stderr)
            return 1

    return run


def _progress_bar() -> tuple[Callable[[int, int, str], None], Callable[[], None]]:
    """A tqdm bar on stderr (hidden when stderr is not a terminal)."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    bar: list[Any] = []

    def update(done: int, total: int, what: str) -> None:
        if not bar:
            bar.append(
                tqdm(total=total, unit="row", unit_scale=True, file=sys.stderr, disable=None)
            )
        bar[0].set_description(what)
        bar[0].update(done - bar[0].n)

    def close() -> None:
        if bar:
            bar[0].close()

    return update, close


@_guarded
def _cmd_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_db import current_revision, ensure_partitions, upgrade

    engine = _engine(settings)
    upgrade(engine, args.revision)
    created = ensure_partitions(engine, args.days_ahead, _today_kst())
    print(
        f"schema at {current_revision(engine)} ({_safe_url(settings)}); "
        f"{len(created)} partition(s) created"
    )
    return 0


@_guarded
def _cmd_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_db import current_revision, downgrade

    engine = _engine(settings)
    downgrade(engine, args.revision)
    print(f"schema at {current_revision(engine) or 'base (empty)'}")
    return 0


@_guarded
def _cmd_current(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_db import current_revision, head_revision

    rev = current_revision(_engine(settings))
    head = head_revision()
    state = "up to date" if rev == head else f"head is {head}: run `gslts db upgrade`"
    print(f"{rev or 'empty'} ({state})")
    return 0


@_guarded
def _cmd_ensure(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_db import ensure_partitions

    created = ensure_partitions(_engine(settings), args.days_ahead, _today_kst())
    for name in created:
        print(f"created {name}")
    print(f"{len(created)} partition(s) created")
    return 0


@_guarded
def _cmd_partitions(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_db import list_partitions

    parts = list_partitions(_engine(settings), exact=args.exact)
    print(
        f"{'table':<20} {'partition':<12} {'below':<11} {'rows':>12} {'data MB':>9} {'index MB':>9}"
    )
    for p in parts:
        below = p.upper_bound.isoformat() if p.upper_bound else "MAXVALUE"
        data = "-" if p.data_bytes is None else f"{p.data_bytes / 2**20:.1f}"
        index = "-" if p.index_bytes is None else f"{p.index_bytes / 2**20:.1f}"
        print(f"{p.table:<20} {p.name:<12} {below:<11} {p.rows:>12,} {data:>9} {index:>9}")
    if not parts:
        print("(no partitions / no stored days)")
    return 0


@_guarded
def _cmd_archive(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_db import PARTITIONED_TABLES, archive_before

    today = _today_kst()
    if args.before > today:
        print(
            f"gslts db: --before {args.before} is after today ({today} KST); "
            "refusing to archive days still being written",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    tables = tuple(args.tables or PARTITIONED_TABLES)
    unknown = [t for t in tables if t not in PARTITIONED_TABLES]
    if unknown:
        print(
            f"gslts db: not archivable: {', '.join(unknown)} "
            f"(choose from {', '.join(PARTITIONED_TABLES)})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    out = args.out or (settings.data_dir / "archive")
    update, close = _progress_bar()
    try:
        done = archive_before(_engine(settings), args.before, out, tables=tables, progress=update)
    finally:
        close()
    for a in done:
        print(f"archived {a.table} {a.day} rows={a.rows} -> {a.path}")
    print(f"{len(done)} day(s) archived to {out}")
    return 0


@_guarded
def _cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_db import inspect_archive, restore_files

    for f in args.files:  # check every file before touching the database
        inspect_archive(f)
    update, close = _progress_bar()
    try:
        done = restore_files(_engine(settings), args.files, progress=update)
    finally:
        close()
    for r in done:
        print(f"restored {r.path}: {r.table} {r.day} rows={r.rows} inserted={r.inserted}")
    return 0
