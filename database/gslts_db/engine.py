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


def make_engine(url: str | sa.URL, *, local_infile: bool = False, **kwargs: Any) -> Engine:
    """Create an engine configured for GSLTS.

    MySQL/MariaDB: ``utf8mb4``, ``pool_pre_ping`` (the server closes idle connections),
    hourly recycling, ``LOAD DATA LOCAL INFILE`` only when ``local_infile`` is set.
    SQLite: WAL journal (readers never block the writer), foreign keys on, a busy timeout,
    and the parent directory of the database file is created.

    Args:
        url: SQLAlchemy URL, e.g. ``mysql+pymysql://user:pw@host/gslts`` or
            ``sqlite:////var/lib/gslts/gslts.sqlite3``.
        local_infile: allow ``LOAD DATA LOCAL INFILE`` (MySQL only).
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
        return sa.create_engine(u, connect_args=connect_args, **kwargs)
    if backend == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(u, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    return sa.create_engine(u, **kwargs)


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
