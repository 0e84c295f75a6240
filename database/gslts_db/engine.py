"""Engine and session factories for both supported engines.

MySQL 8 / MariaDB 10.11 through PyMySQL in production, an embedded SQLite file as the
zero-setup default. The caller passes the URL (``gslts_db`` never reads the environment).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

#: SQLite waits this long for a competing writer before "database is locked"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def is_mysql(engine_or_dialect: Engine | sa.engine.Connection | sa.engine.Dialect) -> bool:
    """True for MySQL and MariaDB (both use the ``mysql`` dialect family)."""
    dialect = getattr(engine_or_dialect, "dialect", engine_or_dialect)
    return str(getattr(dialect, "name", "")) in ("mysql", "mariadb")


def make_engine(url: str | sa.URL, *, local_infile: bool = True, **kwargs: Any) -> Engine:
    """Create an engine configured for GSLTS.

    MySQL/MariaDB: ``utf8mb4``, ``pool_pre_ping`` (the server closes idle connections),
    hourly recycling, and ``LOAD DATA LOCAL INFILE`` capability (on by default: it is how
    :func:`gslts_db.insert_ticks` bulk-loads ticks). Security: with that capability a server
    may ask the client for a local file. GSLTS only ever sends the spool files it wrote
    itself: the driver's permission is switched off on every new connection and switched on
    only for the duration of our own ``LOAD DATA`` statement (:func:`allow_local_infile`),
    so a file request at any other time fails on the client. The server must also have
    ``local_infile=ON`` (MariaDB's default; MySQL 8 defaults to OFF) or ticks fall back to
    multi-row ``INSERT IGNORE`` (one warning). Pass ``local_infile=False`` to never offer
    the capability.
    SQLite: WAL journal (readers never block the writer), foreign keys on, a busy timeout,
    and the parent directory of the database file is created.

    Args:
        url: SQLAlchemy URL, e.g. ``mysql+pymysql://user:pw@host/gslts`` or
            ``sqlite:////var/lib/gslts/gslts.sqlite3``.
        local_infile: offer ``LOAD DATA LOCAL INFILE`` to the server (MySQL only).
        **kwargs: passed to :func:`sqlalchemy.create_engine`.
    """
    u = sa.make_url(url)
    backend = u.get_backend_name()
    if backend in ("mysql", "mariadb"):
        connect_args: dict[str, Any] = {"charset": "utf8mb4"}
        if local_infile:
            connect_args["local_infile"] = True
        connect_args.update(kwargs.pop("connect_args", {}))
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_recycle", 3600)
        engine = sa.create_engine(u, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _mysql_on_connect)
        return engine
    if backend == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(u, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    return sa.create_engine(u, **kwargs)


#: ``group_concat_max_len`` of every MySQL/MariaDB session (bytes)
GROUP_CONCAT_MAX_LEN = 64 * 2**20


def _mysql_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # the capability was negotiated at the handshake; PyMySQL's own per-connection switch
    # decides whether it answers a server's file request: off except inside our LOAD DATA
    if hasattr(dbapi_conn, "_local_infile"):
        dbapi_conn._local_infile = False
    # GROUP_CONCAT builds whole API pages (the hub's tick page JSON, up to 10,000 ticks of
    # ~330 bytes); MySQL's default cap is 1 KB, MariaDB's 1 MB, and a longer value is cut
    # with only a warning
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"SET SESSION group_concat_max_len = {GROUP_CONCAT_MAX_LEN}")
    finally:
        cur.close()


@contextmanager
def allow_local_infile(dbapi_conn: Any) -> Iterator[None]:
    """Let a PyMySQL connection answer ``LOAD DATA LOCAL`` file requests inside the block.

    Only effective when the connection negotiated the capability (``local_infile=True`` at
    connect, see :func:`make_engine`); otherwise the server refuses the statement.
    """
    if not hasattr(dbapi_conn, "_local_infile"):  # another driver: nothing to switch
        yield
        return
    before = dbapi_conn._local_infile
    dbapi_conn._local_infile = bool(getattr(dbapi_conn, "client_flag", 0) & _CLIENT_LOCAL_FILES)
    try:
        yield
    finally:
        dbapi_conn._local_infile = before


#: PyMySQL ``CLIENT.LOCAL_FILES`` capability bit (the wire constant, stable across versions)
_CLIENT_LOCAL_FILES = 128


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cur.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit when the block succeeds, roll back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
