"""Watchlist writes on real MariaDB under contention: add and delete of one code from many
threads (and from two hubs on one database, as two processes would) never answer 500, and
the hub's view, the API and the table agree afterwards; a write that meets another
process's lock is retried."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gslts_db import StockMaster, WatchlistItem, make_engine, upgrade
from gslts_hub.app import create_app
from gslts_hub.hub import Hub
from gslts_hub.settings import HubSettings
from gslts_hub.watchlist import WatchlistStore
from gslts_kiwoom.realtime import KST

pytestmark = pytest.mark.integration

CODE = "005930"
ROUNDS = 240  # requests per client: half adds, half deletes, interleaved
THREADS = 16


@pytest.fixture
def db_url(mysql_server_url: str) -> Iterator[str]:
    server = sa.make_url(mysql_server_url)
    name = f"gslts_t_{secrets.token_hex(4)}"
    admin = make_engine(server._replace(database=None), poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


def _client(db_url: str, data_dir: Path) -> Iterator[TestClient]:
    settings = HubSettings(
        _env_file=None,
        data_dir=data_dir,
        database_url=db_url,
        redis_url=None,
        hub_writer_process="off",
        hub_flush_interval_s=0.05,
    )
    app = create_app(settings, hub_factory=lambda s: Hub(s, connect=False))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def clients(db_url: str, tmp_path: Path) -> Iterator[list[TestClient]]:
    """Two hubs (each with its own in-process lock) on one database."""
    gens = [_client(db_url, tmp_path / f"hub{i}") for i in range(2)]
    cs = [next(g) for g in gens]
    hub: Hub = cs[0].app.state.hub  # type: ignore[attr-defined]
    with hub.engine.begin() as conn:
        conn.execute(
            sa.insert(StockMaster),
            [{"stock_code": CODE, "name": "삼성전자", "chosung": "ㅅㅅㅈㅈ", "market": "KOSPI",
              "updated_at": datetime.now(KST)}],
        )  # fmt: skip
    yield cs
    for g in gens:
        next(g, None)


def _hammer(jobs: list[Callable[[], int]]) -> Counter[int]:
    with ThreadPoolExecutor(THREADS) as pool:
        return Counter(f.result() for f in [pool.submit(j) for j in jobs])


def _jobs(c: TestClient) -> list[Callable[[], int]]:
    def add(i: int) -> int:
        r = c.post("/api/watchlist", json={"stock_code": CODE, "note": f"n{i}"})
        return r.status_code

    def delete() -> int:
        return c.delete(f"/api/watchlist/{CODE}").status_code

    return [(lambda i=i: add(i)) if i % 2 else delete for i in range(ROUNDS)]


def _stored(hub: Hub) -> list[str]:
    with hub.engine.connect() as conn:
        return list(conn.execute(sa.select(WatchlistItem.stock_code)).scalars())


def _assert_consistent(c: TestClient) -> None:
    hub: Hub = c.app.state.hub  # type: ignore[attr-defined]
    stored = _stored(hub)
    listed = [i["stock_code"] for i in c.get("/api/watchlist").json()["items"]]
    assert listed == stored
    assert sorted(hub.watchlist) == stored


def test_concurrent_add_and_delete_of_one_code_never_fail(clients: list[TestClient]) -> None:
    c = clients[0]
    statuses = _hammer(_jobs(c))
    assert set(statuses) <= {200, 201, 204, 404}, statuses
    assert statuses[201] >= 1
    assert statuses[204] >= 1
    _assert_consistent(c)
    # one more add then delete: the hub still follows the table afterwards
    assert c.post("/api/watchlist", json={"stock_code": CODE}).status_code in (200, 201)
    _assert_consistent(c)
    assert c.delete(f"/api/watchlist/{CODE}").status_code == 204
    _assert_consistent(c)


def test_two_hubs_writing_one_table_retry_instead_of_failing(clients: list[TestClient]) -> None:
    a, b = clients
    jobs = [j for pair in zip(_jobs(a), _jobs(b), strict=True) for j in pair]
    statuses = _hammer(jobs)
    assert set(statuses) <= {200, 201, 204, 404}, statuses
    # each hub is consistent with the table once it writes again (the other hub's last
    # write happened behind its back: a hub follows the table on its own writes)
    for c in (a, b):
        assert c.post("/api/watchlist", json={"stock_code": CODE}).status_code in (200, 201)
        _assert_consistent(c)
    assert a.delete(f"/api/watchlist/{CODE}").status_code == 204
    assert b.delete(f"/api/watchlist/{CODE}").status_code == 404
    assert _stored(a.app.state.hub) == []  # type: ignore[attr-defined]


def test_a_write_that_times_out_on_a_lock_is_retried(db_url: str) -> None:
    """Another process holds the row (lock wait timeout 1205 on the first try): the write
    is retried and lands once the lock is gone — a real server error, not a mock."""
    migrated = make_engine(db_url)
    upgrade(migrated)
    migrated.dispose()
    engine = make_engine(
        db_url, connect_args={"init_command": "SET SESSION innodb_lock_wait_timeout = 1"}
    )
    store = WatchlistStore(engine, attempts=30)
    blocker = make_engine(db_url, poolclass=sa.pool.NullPool)
    result: list[Any] = []
    with blocker.connect() as other:
        other.exec_driver_sql(
            "INSERT INTO watchlist (stock_code, note, sort_order, added_at) "
            "VALUES ('005930', 'theirs', 0, '2026-03-03 09:00:00')"
        )  # uncommitted: holds the key
        writer = threading.Thread(
            target=lambda: result.append(store.add(CODE, "mine", datetime.now(KST)))
        )
        writer.start()
        deadline = time.monotonic() + 120
        while store.retries == 0:  # the first try timed out on the lock
            assert time.monotonic() < deadline, "the write never retried"
            assert writer.is_alive() or result, "the write ended without retrying"
            time.sleep(0.01)
        other.rollback()  # the other process gives up its row
    writer.join(timeout=120)
    assert not writer.is_alive()
    entry, created = result[0]
    assert created
    assert entry.note == "mine"
    engine.dispose()
    blocker.dispose()
