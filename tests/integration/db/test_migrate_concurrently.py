"""Two processes' start-ups migrating one fresh database at once (the hub and the backend
under ``gslts run``) take turns: both succeed, the schema is at head once, with no drift."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

import gslts_db

pytestmark = pytest.mark.integration


def _migrate(url: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        engine = gslts_db.make_engine(url)
        gslts_db.upgrade(engine)
        engine.dispose()
        out.put("ok")
    except Exception as exc:  # reported to the test
        out.put(f"{type(exc).__name__}: {exc}"[:500])


def _race(url: str, n: int = 3) -> list[str]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_migrate, args=(url, out)) for _ in range(n)]
    for p in procs:
        p.start()
    got = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    return got


def test_concurrent_migrations_of_a_fresh_mariadb_schema(fresh_db_url: str) -> None:
    assert _race(fresh_db_url) == ["ok"] * 3
    engine = gslts_db.make_engine(fresh_db_url)
    try:
        assert gslts_db.current_revision(engine) == gslts_db.head_revision()
        assert gslts_db.schema_drift(engine) == []
    finally:
        engine.dispose()


def test_concurrent_migrations_of_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gslts.sqlite3'}"
    assert _race(url) == ["ok"] * 3
    engine = gslts_db.make_engine(url)
    try:
        assert gslts_db.current_revision(engine) == gslts_db.head_revision()
    finally:
        engine.dispose()


def test_an_engine_of_one_connection_migrates_under_the_lock(fresh_db_url: str) -> None:
    # the lock is held on the connection that migrates: a pool of one must not wait on
    # itself
    engine = gslts_db.make_engine(fresh_db_url, pool_size=1, max_overflow=0, pool_timeout=10)
    try:
        gslts_db.upgrade(engine)
        gslts_db.upgrade(engine)  # at head: again a no-op
        assert gslts_db.current_revision(engine) == gslts_db.head_revision()
    finally:
        engine.dispose()
