"""Run the Alembic history programmatically (no ``alembic.ini``: it ships inside the package).

New revisions: ``gslts_db.migrate.revision(engine, "message", autogenerate=True)`` writes a
dated file ``YYYY_MM_DD_HHMM_<rev>_<slug>.py`` into ``gslts_db/migrations/versions``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from gslts_db.models import Base

SCRIPT_LOCATION = "gslts_db:migrations"
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s"


def alembic_config() -> Config:
    """The Alembic configuration of the packaged history."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("file_template", FILE_TEMPLATE)
    cfg.set_main_option("timezone", "Asia/Seoul")
    return cfg


def _run(engine: Engine, fn: str, *args: object, **kwargs: object) -> None:
    with engine.begin() as conn:
        _run_on(conn, fn, *args, **kwargs)


def _run_on(conn: sa.Connection, fn: str, *args: object, **kwargs: object) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    getattr(command, fn)(cfg, *args, **kwargs)


#: seconds a migration waits for another process's migration of the same database
LOCK_WAIT_S = 300


def _file_lock_path(engine: Engine) -> str | None:
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return f"{path}.migrate-lock"


@contextlib.contextmanager
def _file_lock(path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    import fcntl

    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database forward to ``revision`` (default: the newest).

    Processes migrating one database at once take turns — the hub and the backend both
    migrate at start-up and ``gslts run`` starts them together on a fresh schema:
    MySQL/MariaDB hold the named lock ``GET_LOCK('gslts_migrate:<schema>')`` on the very
    connection that migrates (one connection: a pool of one does not deadlock); SQLite an
    advisory lock on a file beside the database (none for an in-memory one). The second
    finds the schema at head."""
    if engine.dialect.name not in ("mysql", "mariadb"):
        with _file_lock(_file_lock_path(engine)):
            _run(engine, "upgrade", revision)
        return
    name = f"gslts_migrate:{engine.url.database or ''}"[:64]
    with engine.connect() as conn:
        got = conn.execute(
            sa.text("SELECT GET_LOCK(:n, :t)"), {"n": name, "t": LOCK_WAIT_S}
        ).scalar()
        conn.commit()
        if got != 1:
            raise RuntimeError(f"another migration holds {name} for over {LOCK_WAIT_S} s")
        try:
            with conn.begin():
                _run_on(conn, "upgrade", revision)
        finally:
            conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": name})
            conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database back to ``revision`` (``"base"`` removes every table)."""
    _run(engine, "downgrade", revision)


def revision(engine: Engine, message: str, *, autogenerate: bool = True) -> None:
    """Write a new revision file (developer tool; autogenerate compares to the models)."""
    _run(engine, "revision", message=message, autogenerate=autogenerate)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest revision of the packaged history."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the packaged history is never empty
        raise RuntimeError("the packaged Alembic history has no revisions")
    return head


def schema_drift(engine: Engine) -> list[object]:
    """Differences between the models and the database (empty when they agree).

    Uses Alembic's autogenerate comparison, the same one ``revision --autogenerate`` uses.
    """
    from alembic.autogenerate import compare_metadata

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))
