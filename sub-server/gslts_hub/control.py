"""The control loop: once a second, the schedule and the hub's periodic jobs.

One :meth:`ControlLoop.step` (the ``hub-control`` thread calls it every second; tests call
it on an injected clock): a tick-rate sample, a retry of a failing journal, the
writer-stall mark, expired interest leases, the database (schema and watchlist while it
was away at start; the day partitions), then the schedule — connect in collection hours,
stop and flush outside them (:mod:`gslts_hub.schedule`), re-issue the token before the
open — then the gap jobs (forward walks for silent stocks, followed gaps, due retries),
the held-back books, the counters that mean trouble turned into events, a heap trim
after a burst (:mod:`gslts_hub.memory`), and the top-N universe refresh (ka10032) with
its history row.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from gslts_hub.collector import OWNER_TOP, OWNER_WATCH
from gslts_hub.memory import HeapTrimmer
from gslts_hub.stocks import StockState
from gslts_kiwoom import KiwoomError
from gslts_kiwoom.realtime import KST

if TYPE_CHECKING:
    from gslts_hub.hub import Hub

log = logging.getLogger(__name__)

#: a database unreachable at start is tried again this often (s)
DB_RETRY_S = 5.0
#: … and said so at most this often (s)
DB_REPORT_S = 60.0


class ControlLoop:
    """The schedule and the periodic jobs of one hub (see the module docstring).

    Args:
        hub: the hub it drives.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        #: schema/partitions/watchlist done (False while the database is down at start)
        self.db_ready = False
        self._db_init_reported = 0.0
        self._db_init_at = 0.0
        self._partitions_day: date | None = None
        self._token_day: date | None = None
        self._last_universe = 0.0
        #: counters already reported as events (malformed input, REST rate limiting, holes)
        self._reported: dict[str, int] = {}
        #: freed heap back to the system after a burst (see :mod:`gslts_hub.memory`)
        self._trimmer = HeapTrimmer()

    def run(self, stop: threading.Event) -> None:
        """The thread's loop until ``stop``: a failing step is logged, the next one runs."""
        while not stop.is_set():
            try:
                self.step()
            except Exception:
                log.exception("hub_control_step_failed")
            stop.wait(1.0)

    def step(self) -> None:
        """One tick of the schedule."""
        hub = self.hub
        collector = hub.collector
        now_epoch = hub.clock()
        now = datetime.fromtimestamp(now_epoch, KST)
        hub.status_view.sample_rate(now_epoch)
        hub.spool.retry()  # a quiet feed still journals what waits, once it can
        hub.status_view.writer_stall_s()
        hub.interest.expire(now_epoch)  # leases end on time, in hours or not
        if not self.db_ready and now_epoch - self._db_init_at >= DB_RETRY_S:
            self._db_init_at = now_epoch
            self.db_ready = self.init_database()
        elif self._partitions_day != now.date():
            self.ensure_partitions()
        if not hub.schedule.should_collect(now):
            if collector.ws is not None:
                hub.event("schedule", "outside collection hours: stopping")
                collector.stop()
                self.end_session()
            return
        if collector.ws is None:
            hub.event("schedule", "collection hours: connecting")
            collector.start()
        if hub.schedule.token_refresh_due(now, self._token_day):
            self._token_day = now.date()
            hub.event("token", "re-issuing the token before the open")
            hub.get_token(True)
            collector.relogin()  # re-LOGIN with the fresh token
        ready_since = collector.ready_at if collector.ws_state == "ready" else None
        hub.gaps.queue_forward_walks(now_epoch, ready_since)
        hub.gaps.flush_following(now_epoch)
        hub.gaps.queue_retries(now_epoch)
        hub.books.flush(now_epoch)
        self.report_counters()
        self._trimmer.maybe_trim()
        if now_epoch - self._last_universe >= hub.settings.hub_universe_refresh_s:
            self._last_universe = now_epoch
            self.refresh_universe()

    # ------------------------------------------------------------------ database
    def init_database(self) -> bool:
        """Schema, partitions and the watchlist; False (and an event) while the database
        cannot be reached."""
        hub = self.hub
        try:
            hub.repo.migrate()
            self.ensure_partitions()
            known = set(hub.watchlist)
            hub.load_watchlist()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            now = hub.clock()
            if now - self._db_init_reported >= DB_REPORT_S:  # not every attempt
                self._db_init_reported = now
                hub.event(
                    "db",
                    f"database unreachable at start ({type(exc).__name__}): collecting into "
                    "the journal; it is stored when the database is back",
                )
            return False
        added = sorted(hub.watchlist - known)
        if added:  # the watchlist was unknown while the DB was away (no-op without socket)
            hub.collector.subscribe(added, OWNER_WATCH)
        if self._db_init_reported:
            hub.event("db", "database reachable: schema checked, watchlist loaded")
        return True

    def ensure_partitions(self) -> None:
        """Today's and the coming days' partitions (once a day; retried on failure)."""
        today = datetime.fromtimestamp(self.hub.clock(), KST).date()
        try:
            self.hub.repo.ensure_partitions(today)
            self._partitions_day = today
        except sa.exc.SQLAlchemyError as exc:
            log.warning("ensure_partitions_failed error=%s", type(exc).__name__)

    # ------------------------------------------------------------------ jobs
    def report_counters(self) -> None:
        """An event when a counter that means trouble grew (checked every second, so a
        burst gives one event, not one per frame)."""
        hub = self.hub
        malformed = hub.status_view.malformed_counts()
        rest = hub.status_view.rest_stats()
        now = {
            "malformed": sum(malformed.values()),
            "rate_limited": int(rest["rate_limited"]),
            "rest_errors": int(rest["errors"]),
            "stream_gaps": hub.gaps.stream_gaps,
        }
        for key, value in now.items():
            before = self._reported.get(key, 0)
            self._reported[key] = value
            grew = value - before if value >= before else value  # a new socket counts anew
            if grew <= 0:
                continue
            if key == "malformed":
                top = ", ".join(f"{k}={v}" for k, v in sorted(malformed.items())[:5])
                hub.event("ws", f"{grew} malformed frames/items dropped ({top})")
            elif key == "rate_limited":
                hub.event(
                    "rest", f"Kiwoom REST rate limited {grew} times (429/1700): retrying later"
                )
            elif key == "rest_errors":
                hub.event("rest", f"{grew} Kiwoom REST calls failed: {rest['last_error']}")
            else:
                hub.event(
                    "ws",
                    f"{grew} holes in the live stream (cumulative volume jumped): "
                    "filling from ka10079",
                )

    def end_session(self) -> None:
        """After the scheduled stop: flush, and forget the session's gap anchors.

        The stop is deliberate, not a gap: without this, the disconnect would leave every
        stock waiting for a backfill that tomorrow's first tick (another day's cumulative
        volume) or the forward walk would try against today's last trade.
        """
        hub = self.hub
        hub.gaps.end_session()
        hub.collector.end_session()
        caught_up = hub.flush(timeout=30.0)
        backlog = hub.journal.stats().backlog_bytes
        if caught_up:
            received = hub.ingest.ticks_received
            hub.event("schedule", f"stopped; all {received} received ticks flushed")
        else:
            hub.event("schedule", f"stopped; {backlog} journal bytes not yet in the database")

    def refresh_universe(self) -> None:
        """Top-N by trading value (ka10032, 000 = KOSPI+KOSDAQ, stex_tp 3) with hysteresis."""
        hub = self.hub
        try:
            ranking = hub.client.top_trading_value(
                "000", exchange="ALL", limit=hub.settings.hub_universe_exit_rank
            )
        except KiwoomError as exc:
            hub.event("universe", f"ranking failed: {type(exc).__name__}")
            return
        for r in ranking:
            hub.stocks.setdefault(r.code, StockState(r.code)).name = r.name
        change = hub.selector.update([r.code for r in ranking])
        hub.ranks = change.ranks
        if change.added:
            hub.collector.subscribe(sorted(change.added), OWNER_TOP)
        if change.removed:
            hub.collector.unsubscribe(sorted(change.removed), OWNER_TOP)
        if change.added or change.removed:
            hub.event("universe", f"+{len(change.added)} -{len(change.removed)}")
        self.record_universe()

    def record_universe(self) -> None:
        """Today's universe history: the top-N members and the watchlist."""
        hub = self.hub
        now = datetime.fromtimestamp(hub.clock(), KST)
        try:
            hub.repo.record_universe(
                now.date(), now, hub.selector.members, hub.ranks, hub.watchlist
            )
        except sa.exc.SQLAlchemyError as exc:
            log.warning("universe_history_write_failed error=%s", type(exc).__name__)
