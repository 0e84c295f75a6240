"""The watchlist table: the stocks a user asked the hub to collect besides the top 50.

Writes are safe under concurrency. In one process they are serialized by
:attr:`WatchlistStore.lock` (the hub holds it around the write *and* its in-memory set and
subscription change, so the three never disagree). Between processes (two hubs, or the
backend, on one database) MySQL/MariaDB can still answer a deadlock (1213) or a lock-wait
timeout (1205) — e.g. ``INSERT IGNORE`` and ``DELETE`` of one key — and SQLite "database
is locked": such a write is retried from the start with a jittered backoff, and after
:data:`ATTEMPTS` tries it fails with :class:`WatchlistUnavailable` (a 503, never a 500).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa

from gslts_common.errors import Unavailable
from gslts_db import WatchlistItem
from gslts_kiwoom.krx import STOCK_CODE_PATTERN

log = logging.getLogger(__name__)

#: the KRX stock code as an OpenAPI pattern (one definition, in the library)
CODE_PATTERN = STOCK_CODE_PATTERN
ATTEMPTS = 6
BACKOFF_S = 0.02
#: MySQL/MariaDB errors after which the whole transaction may simply be run again
_RETRY_ERRNOS = frozenset({1213, 1205})  # ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT

_T = TypeVar("_T")

#: one row, so a plain statement (errors arrive wrapped as ``sa.exc.DBAPIError``): a
#: duplicate key is skipped, not an error
_INSERT = (
    sa.insert(WatchlistItem)
    .values(stock_code=sa.bindparam("stock_code"), note=sa.bindparam("note"), sort_order=0,
            added_at=sa.bindparam("added_at"))
    .prefix_with("IGNORE", dialect="mysql")
    .prefix_with("IGNORE", dialect="mariadb")
    .prefix_with("OR IGNORE", dialect="sqlite")
)  # fmt: skip


class WatchlistUnavailable(Unavailable):
    """The watchlist could not be changed now (database contention, Kiwoom unreachable);
    the request may be repeated (503 with ``Retry-After``)."""


@dataclass(frozen=True, slots=True)
class WatchEntry:
    """One stored row: what the API answers is always what the table holds."""

    stock_code: str
    note: str | None
    added_at: datetime


def _retryable(exc: sa.exc.DBAPIError) -> bool:
    args = getattr(exc.orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0] in _RETRY_ERRNOS
    return "database is locked" in str(exc.orig)


class WatchlistStore:
    """Reads and writes of the ``watchlist`` table.

    Args:
        engine: the hub's database engine.
        attempts: tries of one write before :class:`WatchlistUnavailable`.
        backoff_s: first retry delay; doubles per try, jittered ±50 %.
        sleep: injectable for tests.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        attempts: int = ATTEMPTS,
        backoff_s: float = BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._sleep = sleep
        #: serializes this process's writes (re-entrant: hold it around a write and the
        #: in-memory change that follows it)
        self.lock = threading.RLock()
        self.retries = 0

    # ------------------------------------------------------------------ reads
    def codes(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(WatchlistItem.stock_code)).scalars())

    def entries(self) -> list[WatchEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    WatchlistItem.stock_code, WatchlistItem.note, WatchlistItem.added_at
                ).order_by(WatchlistItem.sort_order, WatchlistItem.stock_code)
            ).all()
        return [WatchEntry(c, n, a) for c, n, a in rows]

    # ------------------------------------------------------------------ writes
    def add(self, code: str, note: str | None, now: datetime) -> tuple[WatchEntry, bool]:
        """Put ``code`` on the list unless it is there; returns the stored entry (the
        existing note and time for a duplicate) and whether this call created it."""

        def once() -> tuple[WatchEntry, bool]:
            with self.engine.begin() as conn:
                n = conn.execute(_INSERT, {"stock_code": code, "note": note, "added_at": now})
                # same transaction: on MySQL the ignored insert holds a shared lock on the
                # existing row, so it cannot vanish before it is read
                row = conn.execute(
                    sa.select(WatchlistItem.note, WatchlistItem.added_at).where(
                        WatchlistItem.stock_code == code
                    )
                ).one()
            return WatchEntry(code, row.note, row.added_at), n.rowcount == 1

        return self._write(once)

    def remove(self, code: str) -> bool:
        """Take ``code`` off the list; False when it was not on it."""

        def once() -> bool:
            with self.engine.begin() as conn:
                res = conn.execute(sa.delete(WatchlistItem).where(WatchlistItem.stock_code == code))
            return bool(res.rowcount)

        return self._write(once)

    def _write(self, once: Callable[[], _T]) -> _T:
        with self.lock:
            for attempt in range(1, self.attempts + 1):
                try:
                    return once()
                except sa.exc.OperationalError as exc:
                    if not _retryable(exc):
                        raise
                    reason = _reason(exc)
                    if attempt == self.attempts:
                        log.warning("watchlist_write_failed attempts=%d error=%s", attempt, reason)
                        raise WatchlistUnavailable(
                            f"the watchlist is busy ({reason}); try again"
                        ) from exc
                    self.retries += 1
                    # jitter only spreads competing writers apart: no secrecy needed
                    delay = self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random())  # noqa: S311
                    log.info("watchlist_write_retry attempt=%d error=%s", attempt, reason)
                    self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def _reason(exc: sa.exc.DBAPIError) -> str:
    args = getattr(exc.orig, "args", ())
    if args and isinstance(args[0], int):
        return {1213: "deadlock", 1205: "lock wait timeout"}.get(args[0], str(args[0]))
    return "database locked"
