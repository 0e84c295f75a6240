"""The database writer: tails the journal from its checkpoint and commits in batches.

One code path for everything (see :mod:`gslts_hub.journal`): normal flow, a database outage
(the writer retries the *same* batch with capped backoff, forever; the socket thread keeps
appending to the journal, so memory stays bounded by one batch) and crash recovery (a new
writer simply starts at the checkpoint). A batch is at most ``max_rows`` ticks or
``flush_interval_s`` old; ticks, sampled books and 1-minute candles of a batch go in one
transaction, then the checkpoint moves past it. A crash between the commit and the
checkpoint replays the batch, which the natural keys turn into no-ops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from gslts_db import (
    OrderbookRow,
    TickRow,
    count_day_ticks,
    fetch_ticks,
    insert_orderbook_snapshots,
    insert_ticks,
    upsert_candles,
)
from gslts_hub.candles import Bar, CandleAggregator, bar_from_ticks
from gslts_hub.journal import Journal
from gslts_hub.rows import (
    T_DATE,
    TickArray,
    book_row,
    decode_record,
    naive_kst,
    tick_lines,
    tick_rows,
)

log = logging.getLogger(__name__)

#: a stop with ``drain`` commits the backlog for at most this share of its timeout
DRAIN_SHARE = 0.6


@dataclass
class WriterStats:
    """Counters the status page and /metrics read (written by the writer thread only)."""

    ticks_read: int = 0
    ticks_written: int = 0  # new rows (duplicates are not counted)
    books_written: int = 0
    candles_written: int = 0
    batches: int = 0
    db_errors: int = 0
    db_ok: bool = True
    last_error: str | None = None
    last_commit_at: float | None = None
    #: receive time (epoch) of the oldest record read but not committed; None = caught up
    oldest_pending_recv: float | None = None
    #: rows stored for KST day ``day`` (a date ordinal): counted by this writer once a day
    #: and kept exact by adding each commit's new rows (only this writer stores ticks)
    day: int | None = None
    day_count: int | None = None
    flush_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    #: receipt → committed latency samples (seconds) of recent batches
    commit_latency: deque[float] = field(default_factory=lambda: deque(maxlen=20_000))


class JournalWriter:
    """Background thread moving journal records into the database.

    Args:
        journal: the hub's journal (this writer is its only reader/committer).
        engine: SQLAlchemy engine of the tick database.
        aggregator: 1-minute candles fed from committed ticks (None = no candles).
        flush_interval_s: commit at least this often while records arrive.
        max_rows: commit as soon as this many ticks are waiting.
        backoff_max_s: cap of the retry backoff after a database error.
        on_commit: called after each commit with the committed ticks.
        on_candles: called with the candle rows closed by a commit.
        on_db_state: called with ``(ok, error)`` when the database goes away or comes back.
    """

    def __init__(
        self,
        journal: Journal,
        engine: sa.Engine,
        *,
        aggregator: CandleAggregator | None = None,
        flush_interval_s: float = 0.5,
        max_rows: int = 10_000,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
        on_commit: Callable[[list[TickRow]], None] | None = None,
        on_candles: Callable[[list[Any]], None] | None = None,
        on_db_state: Callable[[bool, str | None], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.engine = engine
        self.aggregator = aggregator
        self.flush_interval_s = flush_interval_s
        self.max_rows = max_rows
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.on_commit = on_commit
        self.on_candles = on_candles
        self.on_db_state = on_db_state
        self.clock = clock
        self.stats = WriterStats()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._drain = False
        self._drain_until = 0.0
        self._thread: threading.Thread | None = None
        self._pos = journal.committed_position

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()  # started again after a stop: the new thread runs
        self._thread = threading.Thread(target=self._run, name="hub-writer", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """True at once (the thread writer needs no start-up; the process one does)."""
        return self.running

    def notify(self) -> None:
        """Wake the writer early (e.g. a large backlog appeared)."""
        self._wake.set()

    def stop(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop the thread; with ``drain`` it first commits what the journal holds, for at
        most ``drain_share`` of ``timeout`` (a long backlog, or the database down, stays in
        the journal for the next start: a stop is prompt and loses nothing)."""
        self._drain = drain
        self._drain_until = time.monotonic() + timeout * DRAIN_SHARE
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():  # else ``running`` keeps saying so
                self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def candle_counts(self) -> tuple[int, int]:
        """``(rebuilds, closed)`` of the candle aggregator."""
        agg = self.aggregator
        return (0, 0) if agg is None else (agg.rebuilds, agg.closed)

    def flush_lag_s(self) -> float:
        """Age of the oldest tick read from the journal but not yet committed (0 = none)."""
        oldest = self.stats.oldest_pending_recv
        if oldest is None:
            return 0.0
        return max(0.0, self.clock() - oldest)

    # ------------------------------------------------------------------ loop
    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()
            try:
                done = self.cycle(block=not stopping)
            except Exception:  # never die: log, wait, try again
                log.exception("writer_cycle_failed")
                done = False
                self._stop.wait(1.0)
            if stopping and (not self._drain or done or not self.stats.db_ok):
                return
            if stopping and time.monotonic() >= self._drain_until:
                left = self.journal.end_position - self._pos
                log.warning(
                    "writer_stop_before_caught_up journal_bytes_left=%d (replayed at the next"
                    " start)",
                    left,
                )
                return

    def cycle(self, *, block: bool = True) -> bool:
        """Read one batch, commit it (retrying while the DB is down); True when caught up."""
        # tick arrays stay as read; TickRows are only built where needed (SQLite, the INSERT
        # fallback, ``on_commit``): on MariaDB the arrays become LOAD DATA lines directly
        records: list[tuple[float, str, list[TickArray]]] = []
        n_ticks = 0
        books: list[OrderbookRow] = []
        recv_times: list[float] = []
        end = self._pos
        deadline = time.monotonic() + (self.flush_interval_s if block else 0.0)
        caught_up = False
        agg_add = self.aggregator.add_arrays if self.aggregator is not None else None
        max_rows = self.max_rows
        while True:
            n_before = n_ticks + len(books)
            for pos, payload in self.journal.read(end, max_records=2000):
                recv, source, tarr, barr = decode_record(payload)
                if tarr:
                    records.append((recv, source, tarr))
                    n_ticks += len(tarr)
                    if agg_add is not None:
                        agg_add(tarr)  # straight from the arrays, no datetime per tick
                    recv_times.append(recv)
                    if self.stats.oldest_pending_recv is None:
                        self.stats.oldest_pending_recv = recv
                if barr:
                    recv_dt = naive_kst(recv)
                    books.extend(book_row(a, recv_dt) for a in barr)
                end = pos
                if n_ticks >= max_rows or len(books) >= max_rows:
                    break
            # a batch is bounded by its ticks and by its books (a books-only backlog: the
            # pre-open's quotes journaled while the database was down)
            if n_ticks >= max_rows or len(books) >= max_rows:
                break
            if n_ticks + len(books) == n_before:
                caught_up = end >= self.journal.end_position
            if time.monotonic() >= deadline or (self._stop.is_set() and caught_up):
                break
            self._wake.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            self._wake.clear()
        self.stats.ticks_read += n_ticks
        if not records and self.stats.day != self._today():
            self._count_day()  # a new day (or the first cycle): what is stored today
        agg = self.aggregator
        closed = agg.close_due(self.clock()) if agg is not None else []
        if end == self._pos and not (agg is not None and agg.has_work):
            return caught_up
        ticks = list(tick_rows(records)) if self.on_commit is not None else None
        self._commit(records, ticks, books, end)
        self._pos = end
        self.stats.oldest_pending_recv = None
        now = self.clock()
        self.stats.commit_latency.extend(now - r for r in recv_times)
        if self.on_commit is not None and ticks:
            self.on_commit(ticks)
        if self.on_candles is not None and closed:
            self.on_candles(closed)
        return caught_up and end >= self.journal.end_position

    def _commit(
        self,
        records: list[tuple[float, str, list[TickArray]]],
        ticks: list[TickRow] | None,
        books: list[OrderbookRow],
        end: int,
    ) -> None:
        backoff = self.backoff_initial_s
        n_ticks = sum(len(r[2]) for r in records)
        while True:
            t0 = time.perf_counter()
            try:
                rebuilt = self._transaction(records, ticks, books)
            except Exception as exc:
                st = self.stats
                st.db_errors += 1
                was_ok, st.db_ok = st.db_ok, False
                st.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                if was_ok and self.on_db_state is not None:
                    self.on_db_state(False, st.last_error)
                if st.db_errors <= 5 or st.db_errors % 50 == 0:
                    log.warning(
                        "writer_db_error rows=%d retry_in_s=%.1f error=%s",
                        n_ticks,
                        backoff,
                        st.last_error,
                    )
                if self._stop.is_set() and self._drain:
                    # shutting down with the DB away: the journal keeps the batch
                    raise _GiveUp from exc
                self._stop.wait(backoff)
                if self._stop.is_set() and not self._drain:
                    raise _GiveUp from exc
                backoff = min(self.backoff_max_s, backoff * 2)
                continue
            elapsed = time.perf_counter() - t0
            self.journal.commit(end)
            st = self.stats
            if not st.db_ok:
                log.info("writer_db_recovered after_errors=%d", st.db_errors)
                st.db_ok = True
                if self.on_db_state is not None:
                    self.on_db_state(True, None)
            st.batches += 1
            st.last_commit_at = self.clock()
            st.flush_seconds.append(elapsed)
            if self.aggregator is not None:
                self.aggregator.settle(rebuilt, self.clock())
            if n_ticks:
                log.debug("tick_batch_flushed rows=%d ms=%d", n_ticks, int(elapsed * 1000))
            return

    def _today(self) -> int:
        return (naive_kst(self.clock()).date()).toordinal()

    def _count_day(self) -> None:
        day = self._today()
        try:
            with self.engine.connect() as conn:
                n = count_day_ticks(conn, date.fromordinal(day))
        except sa.exc.SQLAlchemyError:
            return  # the database is away: counted on the next cycle or commit
        self.stats.day, self.stats.day_count = day, n

    def _transaction(
        self,
        records: list[tuple[float, str, list[TickArray]]],
        ticks: list[TickRow] | None,
        books: list[OrderbookRow],
    ) -> dict[tuple[str, int], Bar | None]:
        rebuilt: dict[tuple[str, int], Bar | None] = {}
        with self.engine.begin() as conn:
            new = 0
            if records:
                new = insert_ticks(
                    conn,
                    ticks if ticks is not None else tick_rows(records),
                    tsv=lambda: tick_lines(records),
                )
            today = self._today()
            if new and self.stats.day_count is not None and self.stats.day == today:
                if any(r[2][0][T_DATE] != today or r[2][-1][T_DATE] != today for r in records):
                    day_count = count_day_ticks(conn, date.fromordinal(today))  # rare: midnight
                else:
                    day_count = self.stats.day_count + new
            elif self.stats.day != today or self.stats.day_count is None:
                day_count = count_day_ticks(conn, date.fromordinal(today))
            else:
                day_count = self.stats.day_count
            nb = insert_orderbook_snapshots(conn, books) if books else 0
            agg = self.aggregator
            rows: list[Any] = []
            if agg is not None and agg.has_work:
                keys, rows = agg.plan()
                for code, start in keys:
                    s = naive_kst(start)
                    stored = fetch_ticks(conn, code, s, naive_kst(start + 60))
                    bar = bar_from_ticks(code, start, stored)
                    rebuilt[(code, start)] = bar
                    if bar is not None:
                        rows.append(bar.row())
                if rows:
                    upsert_candles(conn, rows, mode="replace")
        self.stats.ticks_written += new
        self.stats.day, self.stats.day_count = today, day_count
        self.stats.books_written += nb
        self.stats.candles_written += len(rows)
        return rebuilt


class _GiveUp(Exception):
    """Internal: stop retrying (shutdown); the batch stays in the journal."""
