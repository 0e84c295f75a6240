"""The journal writer in its own process: the socket thread and the writer stop sharing a GIL.

Measured (``make bench``, docs/performance.md): in one process the socket thread (receive,
decode, journal) and the writer thread (journal → LOAD DATA lines → MariaDB) hold the GIL
for ~12 and ~7 µs per tick, so the pair saturates one interpreter near 45k ticks/s while
the second core idles. The journal already decouples them — the writer never takes ticks
from memory, it tails the journal files — so the writer can simply run in a child process
with its own interpreter: :class:`WriterProcess` starts a :class:`~gslts_hub.writer.JournalWriter`
there on the same journal directory (opened as a reader, see :class:`~gslts_hub.journal.Journal`)
and the same database URL, and mirrors what the hub reads of it:

* child → parent over a pipe, every ``stats_interval_s``: :class:`~gslts_hub.writer.WriterStats`
  counters, new flush-time and commit-latency samples, the committed journal position (so
  the parent's backlog figures stay current) and candle counters; plus closed candle rows
  (published on the parent's bus) and database up/down transitions, as they happen;
* parent → child: ``wake`` (flush now) and ``stop`` (with or without draining).

Nothing about durability changes: the checkpoint is still written by the only committer,
after its transaction, and a crash of either process replays from it. The child exits
when the parent goes away (pipe EOF, or its parent PID changes), so a ``kill -9`` of the
hub cannot leave a writer behind that races the next hub's.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import fields
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from gslts_hub.journal import Journal
from gslts_hub.memory import HeapTrimmer
from gslts_hub.writer import WriterStats

log = logging.getLogger(__name__)

_DEQUES = ("flush_seconds", "commit_latency")
_SCALARS = tuple(f.name for f in fields(WriterStats) if f.name not in _DEQUES)


class WriterProcess:
    """A :class:`~gslts_hub.writer.JournalWriter` in a child process, same interface as the
    thread version where the hub uses it (``start``, ``stop``, ``notify``, ``running``,
    ``stats``, ``flush_lag_s``, ``candle_counts``).

    Args:
        journal: the hub's journal (the parent appends; the child reads and commits).
        database_url: the tick database (the child makes its own engine).
        flush_interval_s, max_rows: as for :class:`~gslts_hub.writer.JournalWriter`.
        on_candles: called (on a pump thread) with the candle rows a commit closed.
        on_db_state: called with ``(ok, error)`` when the database goes away or comes back.
        stats_interval_s: how often the child reports its counters.
        clock: epoch seconds (the hub's clock: a tick's receive time is on it).
    """

    def __init__(
        self,
        journal: Journal,
        database_url: str,
        *,
        flush_interval_s: float = 0.5,
        max_rows: int = 10_000,
        on_candles: Callable[[list[Any]], None] | None = None,
        on_db_state: Callable[[bool, str | None], None] | None = None,
        stats_interval_s: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self._clock = clock
        self._url = database_url
        self._opts = {
            "flush_interval_s": flush_interval_s,
            "max_rows": max_rows,
            "stats_interval_s": stats_interval_s,
            "log_level": logging.getLogger().getEffectiveLevel(),
        }
        self.on_candles = on_candles
        self.on_db_state = on_db_state
        self.stats = WriterStats()
        #: the child's peak resident memory (KiB, ``getrusage``), for benchmarks and ops
        self.peak_rss_kib = 0
        self._candles = (0, 0)
        self._proc: Any = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._pump: threading.Thread | None = None
        self._done = threading.Event()
        self._ready = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._proc is not None:
            return
        self._done.clear()
        self._ready.clear()
        ctx = mp.get_context("spawn")  # never fork a process that has threads and sockets
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_child_main,
            args=(str(self.journal.directory), self._url, self._opts, child, os.getpid()),
            name="hub-writer",
            daemon=True,
        )
        self._proc.start()
        child.close()  # the child's end lives in the child only: its death → EOF here
        self._conn = parent
        self._pump = threading.Thread(target=self._pump_loop, name="hub-writer-pump", daemon=True)
        self._pump.start()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until the child runs its writer (it reported once); False on timeout or if
        it died. Start-up costs a second or two (a fresh interpreter importing SQLAlchemy)."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self._done.is_set() or time.monotonic() >= deadline:
                return False
        return True

    def notify(self) -> None:
        """Ask the writer to flush now."""
        self._send(("wake",))

    def stop(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop the child; with ``drain`` it first commits what the journal holds (skipped
        while the database is down: the journal keeps it for the next start)."""
        if self._proc is None:
            return
        self._send(("stop", drain))
        self._proc.join(timeout)
        if self._proc.is_alive():
            log.error("writer_process_stop_timeout s=%.0f; terminating it", timeout)
            self._proc.terminate()
            self._proc.join(5)
        if self._pump is not None:
            self._pump.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = None

    @property
    def pid(self) -> int | None:
        """The child's process id (None when not started)."""
        return None if self._proc is None else int(self._proc.pid)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.is_alive() and not self._done.is_set()

    def flush_lag_s(self) -> float:
        """Age of the oldest tick read from the journal but not yet committed (0 = none)."""
        oldest = self.stats.oldest_pending_recv
        return 0.0 if oldest is None else max(0.0, self._clock() - oldest)

    def candle_counts(self) -> tuple[int, int]:
        """``(rebuilds, closed)`` of the child's candle aggregator."""
        return self._candles

    # ------------------------------------------------------------------ parent side
    def _send(self, msg: tuple[Any, ...]) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            with self._send_lock:
                conn.send(msg)
        except (OSError, ValueError):  # child gone: ``running`` says so
            log.debug("writer_process_send_failed", exc_info=True)

    def _pump_loop(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                msg = conn.recv()
                try:
                    self._handle(msg)
                except Exception:  # a failing callback must not stop the mirror
                    log.exception("writer_process_message_failed kind=%s", msg[0])
        except (EOFError, OSError):
            pass  # the child exited (stop, or it died: see below)
        finally:
            self._done.set()
            proc = self._proc
            if proc is not None:
                proc.join(2)  # reap it, so its exit code is known
                if proc.exitcode not in (None, 0):
                    log.error("writer_process_died exitcode=%s", proc.exitcode)

    def _handle(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "stats":
            self._apply_stats(msg[1])
            self._ready.set()
        elif kind == "candles":
            if self.on_candles is not None:
                self.on_candles(msg[1])
        elif kind == "db" and self.on_db_state is not None:
            self.on_db_state(msg[1], msg[2])

    def _apply_stats(self, snap: dict[str, Any]) -> None:
        st = self.stats
        for name in _SCALARS:
            setattr(st, name, snap[name])
        for name in _DEQUES:
            getattr(st, name).extend(snap[name])
        self._candles = snap["candles"]
        self.peak_rss_kib = snap["peak_rss_kib"]
        self.journal.note_committed(snap["committed"])


# ---------------------------------------------------------------------- child side
def memory_kib(field: str = "VmHWM") -> int:
    """This process's memory from ``/proc/self/status``, KiB (0 off Linux): ``VmHWM`` =
    peak resident (per address space; not ``getrusage``, whose maximum a spawned child
    inherits from its parent at ``exec``), ``VmRSS`` = resident now."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _child_main(
    journal_dir: str, url: str, opts: dict[str, Any], conn: Connection, parent_pid: int
) -> None:
    from gslts_common.logging import configure_logging

    configure_logging(opts["log_level"])
    from gslts_db import make_engine
    from gslts_hub.candles import CandleAggregator
    from gslts_hub.writer import JournalWriter

    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock:
            conn.send(msg)

    journal = Journal(Path(journal_dir), reader=True)
    engine = make_engine(url)
    agg = CandleAggregator()
    writer = JournalWriter(
        journal,
        engine,
        aggregator=agg,
        flush_interval_s=opts["flush_interval_s"],
        max_rows=opts["max_rows"],
        on_candles=lambda rows: send(("candles", rows)),
        on_db_state=lambda ok, err: send(("db", ok, err)),
    )
    for name in _DEQUES:
        # unbounded here: every report drains them into the parent's bounded deques
        setattr(writer.stats, name, deque())

    def report() -> None:
        st = writer.stats
        snap: dict[str, Any] = {name: getattr(st, name) for name in _SCALARS}
        for name in _DEQUES:
            dq: deque[float] = getattr(st, name)
            snap[name] = [dq.popleft() for _ in range(len(dq))]
        snap["candles"] = (agg.rebuilds, agg.closed)
        snap["committed"] = journal.committed_position
        snap["peak_rss_kib"] = memory_kib()
        send(("stats", snap))

    writer.start()
    interval = opts["stats_interval_s"]
    parent_gone = False
    trimmer = HeapTrimmer()  # a burst's freed memory back to the system (gslts_hub.memory)
    try:
        while True:
            if conn.poll(interval):
                try:
                    msg = conn.recv()
                except EOFError:
                    parent_gone = True
                    break
                if msg[0] == "wake":
                    writer.notify()
                elif msg[0] == "stop":
                    writer.stop(drain=bool(msg[1]))
                    break
            if os.getppid() != parent_pid:
                parent_gone = True
                break
            report()
            trimmer.maybe_trim()
    finally:
        if parent_gone:
            # the hub died: stop at once (a new hub starts its own writer from the checkpoint)
            writer.stop(drain=False, timeout=5)
        else:
            with contextlib.suppress(OSError, ValueError):  # parent gone meanwhile
                report()
        engine.dispose()
