"""The journal → DB writer: rows survive a database error and are stored exactly once."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from gslts_db import make_engine, upgrade
from gslts_hub.candles import CandleAggregator
from gslts_hub.journal import Journal
from gslts_hub.rows import decode_record, encode_record, tick_row, trade_to_array
from gslts_hub.writer import JournalWriter
from gslts_kiwoom.realtime import KST, Trade

T0 = datetime(2026, 3, 3, 10, 0, 5, tzinfo=KST)


def _trade(cum: int, qty: int = 10, price: int = 70_000, sec: int = 0) -> Trade:
    return Trade(
        "005930",
        "KRX",
        T0.date(),
        T0.replace(second=sec),
        price,
        -100,
        Decimal("-0.14"),
        qty,
        cum,
        cum * price // 1_000_000,
        70_100,
        71_000,
        69_000,
        70_100,
        70_000,
        Decimal("101.5"),
        "2",
    )


def test_trade_round_trips_through_a_journal_record() -> None:
    t = _trade(1234, qty=-7)
    recv, source, ticks, books = decode_record(encode_record(T0.timestamp(), [trade_to_array(t)]))
    row = tick_row(ticks[0], datetime(2026, 3, 3, 10, 0, 6), source)  # noqa: DTZ001 - naive KST
    assert (row.stock_code, row.venue, row.cum_volume, row.volume, row.price) == (
        "005930",
        "KRX",
        1234,
        -7,
        70_000,
    )
    assert row.trade_time == datetime(2026, 3, 3, 10, 0, 0)  # noqa: DTZ001 - naive KST, as stored
    assert row.trade_date == T0.date()
    assert row.change_rate == Decimal("-0.14")
    assert row.strength == Decimal("101.5")
    assert source == "live"
    assert books == []
    assert recv == T0.timestamp()


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT COUNT(*) FROM tick_data").scalar() or 0)


def _wait(cond: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_writer_keeps_the_batch_through_a_database_error_and_stores_each_tick_once(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    journal = Journal(tmp_path / "journal")
    writer = JournalWriter(
        journal,
        engine,
        aggregator=CandleAggregator(),
        flush_interval_s=0.02,
        backoff_initial_s=0.02,
        backoff_max_s=0.05,
    )
    writer.start()
    try:
        journal.append(encode_record(time.time(), [trade_to_array(_trade(c)) for c in (10, 20)]))
        _wait(lambda: _count(engine) == 2)
        with engine.begin() as conn:  # the database "goes away" for the writer
            conn.exec_driver_sql("ALTER TABLE tick_data RENAME TO tick_data_away")
        for c in range(30, 130, 10):
            journal.append(encode_record(time.time(), [trade_to_array(_trade(c, sec=1))]))
        _wait(lambda: writer.stats.db_errors >= 2)
        assert not writer.stats.db_ok
        assert journal.stats().backlog_bytes > 0  # the journal holds what the DB refused
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE tick_data_away RENAME TO tick_data")
        _wait(lambda: _count(engine) == 12 and journal.stats().backlog_bytes == 0)
        assert writer.stats.db_ok
    finally:
        writer.stop()
        journal.close()
    # a new writer over the same journal (a restart) replays nothing twice
    journal2 = Journal(tmp_path / "journal")
    journal2.append(encode_record(time.time(), [trade_to_array(_trade(c)) for c in (20, 130)]))
    w2 = JournalWriter(journal2, engine, flush_interval_s=0.02)
    w2.start()
    _wait(lambda: journal2.stats().backlog_bytes == 0)
    w2.stop()
    journal2.close()
    with engine.connect() as conn:
        cums = [r[0] for r in conn.exec_driver_sql("SELECT cum_volume FROM tick_data ORDER BY 1")]
    assert cums == [10, 20, *range(30, 140, 10)]


def test_writer_builds_candles_and_rebuilds_a_minute_from_stored_ticks(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    journal = Journal(tmp_path / "journal")
    agg = CandleAggregator()
    writer = JournalWriter(journal, engine, aggregator=agg, flush_interval_s=0.02)
    writer.start()
    try:
        journal.append(encode_record(time.time(), [trade_to_array(_trade(10, 10, 100, 1))]))
        journal.append(encode_record(time.time(), [trade_to_array(_trade(15, 5, 120, 2))]))
        # an out-of-order (backfilled) trade in the same minute
        journal.append(
            encode_record(time.time(), [trade_to_array(_trade(12, 2, 90, 1))], source="backfill")
        )
        _wait(lambda: _count(engine) == 3 and not agg.has_work)
    finally:
        writer.stop()
        journal.close()
    with engine.connect() as conn:
        bar = conn.exec_driver_sql(
            "SELECT open, high, low, close, volume, trade_count FROM candles"
        ).one()
    assert tuple(bar) == (100, 120, 90, 120, 17, 3)


def test_a_stop_is_prompt_with_a_long_backlog_and_loses_nothing(tmp_path: Path) -> None:
    """A drain that would take longer than the stop allows stops anyway (it used to run
    past the caller's timeout: ``writer_process_stop_timeout``); the rest stays in the
    journal and the next writer stores it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    journal = Journal(tmp_path / "j")
    for i in range(200):
        journal.append(encode_record(T0.timestamp(), [trade_to_array(_trade(i + 1))]))
    slow = JournalWriter(journal, engine, max_rows=1)  # one tick per transaction …
    real = slow._transaction

    def crawl(*a: object, **k: object) -> object:
        time.sleep(0.05)  # … and a slow database: the drain needs ~10 s
        return real(*a, **k)  # type: ignore[arg-type]

    slow._transaction = crawl  # type: ignore[assignment,method-assign]
    slow.start()
    slow.stop(drain=True, timeout=1.0)
    assert not slow.running  # stopped within its timeout, backlog or not
    assert journal.committed_position < journal.end_position
    again = JournalWriter(journal, engine)
    again.start()
    again.stop(drain=True, timeout=60.0)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM tick_data")).scalar() == 200
    engine.dispose()


def test_a_writer_started_again_after_a_stop_keeps_writing(tmp_path: Path) -> None:
    """``stop`` then ``start`` (what the hub's health test does to swap in a stuck cycle):
    the new thread must run, not exit on the old stop request."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    journal = Journal(tmp_path / "journal")
    writer = JournalWriter(journal, engine, flush_interval_s=0.02)
    writer.start()
    try:
        journal.append(encode_record(time.time(), [trade_to_array(_trade(10))]))
        _wait(lambda: _count(engine) == 1)
        writer.stop(drain=False)
        writer.start()
        journal.append(encode_record(time.time(), [trade_to_array(_trade(20))]))
        _wait(lambda: _count(engine) == 2)
        assert writer.running
    finally:
        writer.stop()
        journal.close()


def _book(sec: float) -> list[object]:
    t = T0.timestamp() + sec
    return ["005930", "KRX", T0.date().toordinal(), t, [70_100], [5], [70_000], [7], 5, 7, 0, 0]


def test_a_batch_is_bounded_by_its_books_too(tmp_path: Path) -> None:
    """A books-only backlog (the pre-open's quotes journaled while the database was
    down) is committed in batches of at most ``max_rows`` books, not all at once."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    journal = Journal(tmp_path / "j")
    for i in range(40):
        journal.append(encode_record(T0.timestamp() + i, [], [_book(i)]))  # type: ignore[list-item]
    writer = JournalWriter(journal, engine, max_rows=10)

    def books() -> int:
        with engine.connect() as conn:
            return int(
                conn.exec_driver_sql("SELECT COUNT(*) FROM orderbook_snapshots").scalar() or 0
            )

    writer.cycle(block=False)
    assert books() == 10
    while not writer.cycle(block=False):
        pass
    assert books() == 40
    journal.close()
    engine.dispose()
