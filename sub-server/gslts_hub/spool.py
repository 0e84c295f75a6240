"""What the hub does when the journal cannot be written: keep, retry, and say so.

The journal is where a received tick becomes safe; when an append fails (disk full, I/O
error: :class:`~gslts_hub.journal.JournalWriteError`) the record must neither vanish nor
stop the socket thread. :class:`JournalSpool` sits in front of the journal:

* **ok** — records go straight to the journal.
* **failing** — an append failed: this record and every later one (order kept) wait in
  memory, up to ``max_bytes``; each new record, and the control loop every second, first
  retries the oldest waiting one (at most every ``retry_s``).
* **suspended** — the memory bound is reached: further records are **refused** (the
  caller counts them and treats the time as a gap, which ka10079 backfills once the
  journal works again). Nothing is ever dropped without being counted.

When the retry succeeds every waiting record is journaled in order and the state is ok
again. Each state change is reported once (``on_state``), never one line per batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gslts_hub.journal import Journal, JournalWriteError

log = logging.getLogger(__name__)

State = Literal["ok", "failing", "suspended"]


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    """The journal's health as ``/api/status`` shows it."""

    state: State
    last_error: str | None
    since: float | None  # epoch s of the failure that left "ok"
    waiting_records: int
    waiting_bytes: int
    max_bytes: int
    append_failures: int
    refused_records: int


class JournalSpool:
    """Appends to ``journal``, keeping records in bounded memory while it fails.

    Thread-safe: the socket thread, the backfill thread and the control loop append.

    Args:
        journal: the hub's journal.
        max_bytes: memory bound of the records waiting for the journal.
        retry_s: at most one retry of the journal per this many seconds while failing.
        on_state: called ``(state, message)`` on every state change (under the spool's
            lock: it must not append).
        clock: epoch seconds (the hub's clock; injectable for tests).
    """

    def __init__(
        self,
        journal: Journal,
        *,
        max_bytes: int,
        retry_s: float = 0.5,
        on_state: Callable[[State, str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.max_bytes = max_bytes
        self.retry_s = retry_s
        self.on_state = on_state
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting: deque[bytes] = deque()
        self._waiting_bytes = 0
        self._state: State = "ok"
        self._since: float | None = None
        self._last_error: str | None = None
        self._retry_at = 0.0
        self.append_failures = 0
        self.refused_records = 0

    @property
    def state(self) -> State:
        return self._state

    def append(self, record: bytes) -> bool:
        """Journal ``record`` (or keep it until the journal works): False = refused, the
        memory bound is reached and the record was *not* kept."""
        with self._lock:
            if self._waiting:
                self._retry_locked(force=False)
            if not self._waiting:
                try:
                    self.journal.append(record)
                    return True
                except JournalWriteError as exc:
                    self._failed_locked(exc)
            # once suspended, everything is refused until what waits is journaled: a record
            # let in between refused ones would end the gap they make too early
            if self._state == "suspended" or self._waiting_bytes + len(record) > self.max_bytes:
                self.refused_records += 1
                self._set_locked(
                    "suspended",
                    f"journal unwritable and {self._waiting_bytes / 2**20:.0f} MB kept in "
                    f"memory: collection suspended ({self._last_error})",
                )
                return False
            self._waiting.append(record)
            self._waiting_bytes += len(record)
            return True

    def retry(self) -> None:
        """Journal what waits, if the journal works again (the control loop's call)."""
        with self._lock:
            if self._waiting:
                self._retry_locked(force=False)

    def status(self) -> SpoolStatus:
        with self._lock:
            return SpoolStatus(
                state=self._state,
                last_error=self._last_error,
                since=self._since,
                waiting_records=len(self._waiting),
                waiting_bytes=self._waiting_bytes,
                max_bytes=self.max_bytes,
                append_failures=self.append_failures,
                refused_records=self.refused_records,
            )

    # ------------------------------------------------------------------ internals
    def _retry_locked(self, *, force: bool) -> None:
        now = self._clock()
        if not force and now < self._retry_at:
            return
        waiting = self._waiting
        try:
            while waiting:
                rec = waiting[0]
                self.journal.append(rec)
                waiting.popleft()
                self._waiting_bytes -= len(rec)
        except JournalWriteError as exc:
            self._failed_locked(exc)
            return
        self._set_locked("ok", "journal writable again: every kept record is journaled")

    def _failed_locked(self, exc: JournalWriteError) -> None:
        self.append_failures += 1
        self._last_error = str(exc)
        self._retry_at = self._clock() + self.retry_s
        if self._state == "ok":
            self._since = self._clock()
            self._set_locked("failing", f"journal append failed, keeping ticks in memory: {exc}")

    def _set_locked(self, state: State, message: str) -> None:
        if state == self._state:
            return
        self._state = state
        if state == "ok":
            self._since = None
        level = logging.INFO if state == "ok" else logging.ERROR
        log.log(level, "journal_state %s: %s", state, message)
        if self.on_state is not None:
            self.on_state(state, message)
