"""The hub writer on real MariaDB: partitions, idempotent replay, candles."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from gslts_db import ensure_partitions, make_engine, upgrade
from gslts_hub.candles import CandleAggregator
from gslts_hub.journal import Journal
from gslts_hub.rows import encode_record, trade_to_array
from gslts_hub.writer import JournalWriter
from gslts_kiwoom.realtime import KST, Trade

T0 = datetime.now(KST).replace(hour=10, minute=0, second=0, microsecond=0)


@pytest.fixture
def engine(mysql_server_url: str) -> Iterator[sa.Engine]:
    name = f"gslts_hub_{uuid.uuid4().hex[:8]}"
    root = make_engine(sa.make_url(mysql_server_url)._replace(database=None))
    with root.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    url = sa.make_url(mysql_server_url).set(database=name)
    eng = make_engine(url)
    upgrade(eng)
    ensure_partitions(eng, 2, T0.date())
    yield eng
    eng.dispose()
    with root.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name}")
    root.dispose()


def _trade(cum: int, sec: int) -> Trade:
    return Trade(
        "005930",
        "KRX",
        T0.date(),
        T0.replace(second=sec),
        70_000 + cum,
        0,
        Decimal("0"),
        5,
        cum,
        1,
        70_000,
        70_000,
        70_000,
        70_100,
        70_000,
        None,
        "2",
    )


def test_writer_stores_every_tick_once_and_a_candle(engine: sa.Engine, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    for i in range(20):
        arrays = [trade_to_array(_trade(c, i)) for c in range(i * 50 + 5, i * 50 + 55, 5)]
        journal.append(encode_record(time.time(), arrays))
    # the same trades again (a replay after a crash) must not be stored twice
    journal.append(encode_record(time.time(), [trade_to_array(_trade(5, 0))]))
    writer = JournalWriter(journal, engine, aggregator=CandleAggregator(), flush_interval_s=0.05)
    writer.start()
    deadline = time.monotonic() + 15
    while journal.stats().backlog_bytes and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.stop()
    journal.close()
    with engine.connect() as conn:
        n = conn.exec_driver_sql("SELECT COUNT(*) FROM tick_data").scalar()
        bar = conn.exec_driver_sql("SELECT volume, trade_count FROM candles").one()
    assert n == 200
    assert tuple(bar) == (1000, 200)


def test_writer_process_commits_the_parent_journal_and_mirrors_its_stats(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """``HUB_WRITER_PROCESS``: the same writer in a child process (own GIL): every journaled
    tick stored once, the parent's backlog reaches 0, counters and closed candles come back
    over the pipe, and ``stop`` drains."""
    from gslts_hub.writer_proc import WriterProcess

    journal = Journal(tmp_path / "j")
    candles: list[object] = []
    db_states: list[bool] = []
    writer = WriterProcess(
        journal,
        engine.url.render_as_string(hide_password=False),
        flush_interval_s=0.05,
        on_candles=candles.extend,
        on_db_state=lambda ok, _err: db_states.append(ok),
    )
    writer.start()
    try:
        for i in range(20):
            arrays = [trade_to_array(_trade(c, i)) for c in range(i * 50 + 5, i * 50 + 55, 5)]
            journal.append(encode_record(time.time(), arrays))
        journal.append(encode_record(time.time(), [trade_to_array(_trade(5, 0))]))  # replay
        deadline = time.monotonic() + 30
        while (
            journal.stats().backlog_bytes or writer.stats.ticks_written < 200
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert writer.running
        assert journal.stats().backlog_bytes == 0
        assert writer.stats.ticks_written == 200
        assert writer.stats.ticks_read == 201
        assert writer.stats.batches >= 1
        assert writer.stats.db_ok
        assert len(writer.stats.commit_latency) >= 1
        assert writer.flush_lag_s() == 0.0
        assert writer.pid is not None
        assert writer.pid != os.getpid()
        assert writer.peak_rss_kib > 10_000  # reported by the child (KiB)
        # one more record after a quiet spell, then stop: the drain commits it
        journal.append(encode_record(time.time(), [trade_to_array(_trade(2000, 59))]))
    finally:
        writer.stop(drain=True)
    assert not writer.running
    assert writer.stats.ticks_written == 201
    assert journal.stats().backlog_bytes == 0
    journal.close()
    with engine.connect() as conn:
        n = conn.exec_driver_sql("SELECT COUNT(*) FROM tick_data").scalar()
    assert n == 201
    assert db_states == []  # the database never went away
    assert writer.candle_counts()[1] == len(candles)


def test_a_dead_writer_process_is_reported_and_a_new_one_resumes(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """The writer child killed (OOM, kill -9): ``running`` turns False (the hub's health
    says 503), the journal keeps what arrives, and the next writer stores all of it."""
    import os
    import signal

    from gslts_hub.writer_proc import WriterProcess

    journal = Journal(tmp_path / "j")
    url = engine.url.render_as_string(hide_password=False)
    first = WriterProcess(journal, url, flush_interval_s=0.05)
    first.start()
    assert first.wait_ready(60)
    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while first.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not first.running
    first.stop()
    for i in range(5):
        arrays = [trade_to_array(_trade(c, i)) for c in range(i * 50 + 5, i * 50 + 55, 5)]
        journal.append(encode_record(time.time(), arrays))
    assert journal.stats().backlog_bytes > 0
    # the same object started again runs a fresh child (as a new WriterProcess would)
    second = first
    second.start()
    try:
        assert second.wait_ready(60)
        assert second.running
        deadline = time.monotonic() + 30
        while journal.stats().backlog_bytes and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        second.stop()
    journal.close()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM tick_data").scalar() == 50
