"""The tick hub: the composition of its parts, and the API the app and the CLI use.

:class:`Hub` builds the parts (each with one job, see the package map in
:mod:`gslts_hub`), wires them to each other and to one clock, starts and stops their
threads, and answers for the watchlist and the stock codes it is asked about. It holds no
logic of its own besides that: ingest is :mod:`gslts_hub.ingest`, the socket
:mod:`gslts_hub.collector`, gaps :mod:`gslts_hub.gaps`, and so on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gslts_common.bus import InProcessBus, make_bus
from gslts_common.kiwoom_client import make_kiwoom_client
from gslts_db import make_engine
from gslts_hub.backfill import LiveAnchor, StoredAnchor
from gslts_hub.backfill_worker import BackfillStats, BackfillWorker
from gslts_hub.books import BookThrottle
from gslts_hub.candles import CandleAggregator
from gslts_hub.collector import OWNER_INTEREST, OWNER_TOP, OWNER_WATCH, Collector
from gslts_hub.control import ControlLoop
from gslts_hub.errors import UnknownStock
from gslts_hub.gaps import GapTracker
from gslts_hub.ingest import Ingest
from gslts_hub.interest import InterestManager, LeaseTable
from gslts_hub.journal import FileOps, Journal
from gslts_hub.payloads import candle_event
from gslts_hub.pending_gaps import PendingGaps
from gslts_hub.repository import HubRepository
from gslts_hub.schedule import Schedule
from gslts_hub.settings import HubSettings
from gslts_hub.spool import JournalSpool, State
from gslts_hub.status import HubStatus
from gslts_hub.stocks import StockState
from gslts_hub.universe import TopSelector
from gslts_hub.vi import ViTracker
from gslts_hub.watchlist import WatchlistStore, WatchlistUnavailable
from gslts_hub.writer import JournalWriter
from gslts_hub.writer_proc import WriterProcess
from gslts_kiwoom import InputError, KiwoomClient, KiwoomError, KiwoomWebSocket
from gslts_kiwoom.krx import is_stock_code
from gslts_kiwoom.realtime import KST

log = logging.getLogger(__name__)


class Hub:
    """Owns the journal, writer, bus, REST/WS clients and the collection schedule.

    Args:
        settings: hub settings.
        engine: tick database engine (default: from ``settings``).
        client: Kiwoom REST client (default: from ``settings``).
        connect: False = no WebSocket/schedule (API-only, used by tests and tools).
        clock: epoch seconds: the one clock of every part (tests inject one).
        journal_ops: the journal's system calls (tests inject disk faults).
    """

    #: each batch of decoded events (socket thread): :meth:`gslts_hub.ingest.Ingest.
    #: on_events` itself, bound (no call in between on the hot path)
    on_events: Callable[[list[Any]], None]

    def __init__(
        self,
        settings: HubSettings,
        *,
        engine: sa.Engine | None = None,
        client: KiwoomClient | None = None,
        connect: bool = True,
        clock: Callable[[], float] = time.time,
        journal_ops: FileOps | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.started_at = clock()
        self.engine = engine or make_engine(settings.resolved_database_url())
        self._owns_engine = engine is None
        #: False: API only (no socket, no control loop, no backfill thread)
        self.connects = connect
        self.repo = HubRepository(self.engine)
        self.schedule = Schedule(settings.schedule_mode())
        self.bus: InProcessBus = make_bus(settings.redis_url, settings.hub_bus_prefix)
        self.events: deque[dict[str, Any]] = deque(maxlen=200)
        self.journal = Journal(
            settings.journal_dir(), fsync_interval_s=settings.hub_journal_fsync_s, ops=journal_ops
        )
        #: every append goes through the spool: a failing journal keeps records in memory
        #: (bounded), then refuses them loudly (see :mod:`gslts_hub.spool`)
        self.spool = JournalSpool(
            self.journal,
            max_bytes=int(settings.hub_journal_spool_mb * 2**20),
            on_state=self._on_journal_state,
            clock=clock,
        )
        self.writer: JournalWriter | WriterProcess
        if _writer_in_process(settings.hub_writer_process, self.engine, clock):
            self.writer = WriterProcess(
                self.journal,
                self.engine.url.render_as_string(hide_password=False),
                flush_interval_s=settings.hub_flush_interval_s,
                max_rows=settings.hub_flush_max_rows,
                on_candles=self._on_candles_closed,
                on_db_state=self._on_db_state,
                clock=clock,
            )
        else:
            self.writer = JournalWriter(
                self.journal,
                self.engine,
                aggregator=CandleAggregator(),
                flush_interval_s=settings.hub_flush_interval_s,
                max_rows=settings.hub_flush_max_rows,
                on_candles=self._on_candles_closed,
                on_db_state=self._on_db_state,
                clock=clock,
            )
        self._client = client
        self._owns_client = client is None

        # who is collected: the top N, the watchlist, and the stocks other services lease
        self.selector = TopSelector(
            settings.hub_universe_size,
            settings.hub_universe_exit_rank,
            settings.hub_universe_exit_refreshes,
        )
        self.ranks: dict[str, int] = {}
        #: replaced, never mutated, so readers on other threads iterate a complete set
        self.watchlist: set[str] = set()
        self.watch_store = WatchlistStore(self.engine)
        #: leased stocks are subscribed under their own owner tag, so the top 50 and the
        #: watchlist never release them (nor they those)
        self.interest = InterestManager(
            LeaseTable(
                max_codes=settings.hub_interest_max_codes,
                max_per_asker=settings.hub_interest_max_per_asker,
                max_ttl_s=settings.hub_interest_max_ttl_s,
                clock=clock,
            ),
            subscribe=lambda codes: self.collector.subscribe(codes, OWNER_INTEREST),
            unsubscribe=lambda codes: self.collector.unsubscribe(codes, OWNER_INTEREST),
            held_elsewhere=lambda: self.selector.members | self.watchlist,
        )

        # the live path: socket → ingest (journal, state, bus), books, gaps, VI
        self.stocks: dict[str, StockState] = {}
        #: per-stock VI (1h VI발동/해제): a stock in VI is silent by design
        self.vi = ViTracker(grace_s=settings.hub_stale_after_s)
        #: gaps not yet filled, on disk beside the journal: a restart (even kill -9) before
        #: their walk does not forget them (see :mod:`gslts_hub.pending_gaps`)
        self.pending_gaps = PendingGaps(settings.journal_dir())
        self.gaps = GapTracker(
            self.stocks,
            self.pending_gaps,
            enabled=settings.hub_backfill,
            forward_after_s=settings.hub_backfill_forward_after_s,
            clock=clock,
            event=self.event,
        )
        self.books = BookThrottle(
            self.bus.publish_book,
            publish_s=settings.hub_book_publish_s,
            sample_s=settings.hub_book_sample_s,
            clock=clock,
        )
        self.ingest = Ingest(
            stocks=self.stocks,
            spool=self.spool,
            bus=self.bus,
            books=self.books,
            gaps=self.gaps,
            vi=self.vi,
            stream_gap_check=settings.hub_stream_gap_check,
            clock=clock,
            event=self.event,
        )
        self.on_events = self.ingest.on_events
        self.collector = Collector(
            settings,
            get_token=self.get_token,
            on_events=self.ingest.on_events,
            gaps=self.gaps,
            stocks=self.stocks,
            owned=self._owned,
            clock=clock,
            event=self.event,
        )
        self.backfill_worker = BackfillWorker(
            self.gaps,
            client=lambda: self.client,
            repo=self.repo,
            spool=self.spool,
            bus=self.bus,
            enabled=settings.hub_backfill,
            clock=clock,
            event=self.event,
        )
        #: what the walks did (``/api/status`` ``backfill``, ``/metrics``)
        self.backfill: BackfillStats = self.backfill_worker.stats
        self.control = ControlLoop(self)
        self.status_view = HubStatus(self)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def clock(self) -> Callable[[], float]:
        """Epoch seconds: the clock every part was built with (inject it at construction:
        it cannot be swapped later)."""
        return self._clock

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Migrate, make partitions, replay the journal backlog (writer), then connect.

        A database that is down at start does not stop the hub: it collects into the
        journal, health says the database is unreachable, and the control loop migrates,
        loads the watchlist and lets the writer catch up once the database answers.
        """
        self.control.db_ready = self.control.init_database()
        if self.settings.hub_backfill:
            self.gaps.restart(self._stored_anchors(), self.journal)
        self.writer.start()  # resumes at the checkpoint: the crash replay is just this
        if not self.writer.wait_ready(60.0):
            log.error("writer_not_ready: ticks are journaled, the database lags until it runs")
        if self.connects:
            self._spawn(lambda: self.control.run(self._stop), "hub-control")
            self._spawn(lambda: self.backfill_worker.run(self._stop), "hub-backfill")
        self.event("start", f"hub started (schedule={self.schedule.mode})")

    def _stored_anchors(self) -> dict[str, StoredAnchor]:
        """Each stock's last stored KRX trade of today (the database part of the restart
        anchors; the journal backlog still gives those of what it holds)."""
        today = datetime.fromtimestamp(self._clock(), KST).date()
        try:
            return self.repo.last_krx_trades(today)
        except sa.exc.SQLAlchemyError as exc:
            self.event(
                "backfill",
                f"stored history unreadable ({type(exc).__name__}): restart gaps from the "
                "journal backlog only",
            )
            return {}

    def _spawn(self, fn: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=fn, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def close(self) -> None:
        """Stop collecting, drain the writer (while the DB is reachable), close everything."""
        self._stop.set()
        self.collector.stop()
        for t in self._threads:
            t.join(timeout=10)
        self.writer.stop(drain=True)
        self.journal.close()
        self.bus.close()
        if self._client is not None and self._owns_client:
            self._client.close()
        if self._owns_engine:
            self.engine.dispose()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the writer has committed everything journaled so far (fsyncs the
        journal first); False on timeout (e.g. the database is down: the journal keeps it)."""
        self.journal.sync()
        deadline = time.monotonic() + timeout
        while (
            self.journal.stats().backlog_bytes > 0
            or self.writer.stats.oldest_pending_recv is not None
        ):
            if time.monotonic() >= deadline or not self.writer.running:
                return False
            self.writer.notify()
            time.sleep(0.02)
        return True

    def event(self, kind: str, message: str) -> None:
        """Remember an event for the monitoring page (and log it)."""
        self.events.append(
            {
                "time": datetime.fromtimestamp(self._clock(), KST).isoformat(),
                "kind": kind,
                "message": message,
            }
        )
        log.info("hub_event kind=%s %s", kind, message)

    def _owned(self) -> Sequence[tuple[str, Collection[str]]]:
        """Every owner's stocks, in the order a new socket registers them."""
        return (
            (OWNER_WATCH, self.watchlist),
            (OWNER_TOP, self.selector.members),
            (OWNER_INTEREST, self.interest.codes()),
        )

    def _on_journal_state(self, state: State, message: str) -> None:
        if state == "suspended":
            self.gaps.mark_all(self._clock())
        self.event("journal", message)

    def _on_db_state(self, ok: bool, error: str | None) -> None:
        if ok:
            backlog = self.journal.stats().backlog_bytes
            self.event("db", f"database back; catching up ({backlog} journal bytes)")
        else:
            self.event("db", f"database unreachable, collecting into the journal: {error}")

    def _on_candles_closed(self, rows: list[Any]) -> None:
        for r in rows:
            self.bus.publish_candle(r.stock_code, candle_event(r))

    # ------------------------------------------------------------------ Kiwoom clients
    @property
    def client(self) -> KiwoomClient:
        """The REST client, from the one factory the backend and the CLI use too: with
        ``REDIS_URL`` they share one token and one per-api-id request budget (Kiwoom
        counts both per app key)."""
        if self._client is None:
            self._client = make_kiwoom_client(self.settings)
        return self._client

    @property
    def existing_client(self) -> KiwoomClient | None:
        """The REST client if one was made (status reads it without making one)."""
        return self._client

    def get_token(self, force_new: bool) -> str:
        """The WebSocket's token provider (shared with REST): re-issued when refused."""
        return self.client.token(force_new=force_new)

    # ------------------------------------------------------------------ the parts' state
    @property
    def ws(self) -> KiwoomWebSocket | None:
        """The WebSocket while collecting (:attr:`Collector.ws`), else None."""
        return self.collector.ws

    @property
    def ws_state(self) -> str:
        return self.collector.ws_state

    @property
    def collecting(self) -> bool:
        return self.collector.collecting

    @property
    def ticks_received(self) -> int:
        return self.ingest.ticks_received

    @property
    def ticks_refused(self) -> int:
        """Trades received while collection was suspended (a gap, backfilled)."""
        return self.ingest.ticks_refused

    @property
    def books_received(self) -> int:
        return self.ingest.books_received

    @property
    def books_journaled(self) -> int:
        return self.ingest.books_journaled

    @property
    def stream_gaps(self) -> int:
        """Holes found in the live stream (a forward jump of the cumulative volume)."""
        return self.gaps.stream_gaps

    def collected_codes(self) -> list[str]:
        return self.collector.collected_codes()

    def control_step(self) -> None:
        """One tick of the schedule (:meth:`ControlLoop.step`; also callable from tests)."""
        self.control.step()

    def flush_books(self, now: float | None = None) -> None:
        """Publish the books held back by the per-stock rate whose turn has come."""
        self.books.flush(now)

    def refresh_universe(self) -> None:
        """Top-N by trading value (ka10032) with hysteresis (:meth:`ControlLoop.
        refresh_universe`)."""
        self.control.refresh_universe()

    def backfill_gap(
        self,
        code: str,
        last_cum: int,
        last_time: datetime,
        anchor: LiveAnchor,
        *,
        stored: StoredAnchor | None = None,
    ) -> int:
        """Fill one stock's gap from ka10079 (:meth:`BackfillWorker.walk_gap`)."""
        return self.backfill_worker.walk_gap(code, last_cum, last_time, anchor, stored=stored)

    def backfill_forward(self, code: str, last: StoredAnchor) -> int:
        """Fill one silent stock's gap forward (:meth:`BackfillWorker.walk_forward`)."""
        return self.backfill_worker.walk_forward(code, last)

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        """The ``/api/status`` snapshot (:meth:`HubStatus.snapshot`)."""
        return self.status_view.snapshot()

    def health_reasons(self) -> list[str]:
        """Why the hub is not doing its job now; empty = healthy (``/api/health``)."""
        return self.status_view.health_reasons()

    # ------------------------------------------------------------------ watchlist
    def load_watchlist(self) -> None:
        """Read the watchlist (at start, and when the database comes back). Writes go
        through :attr:`watch_store`; :attr:`watchlist` is replaced, never mutated."""
        self.watchlist = self.watch_store.codes()

    def list_watchlist(self) -> list[dict[str, Any]]:
        return [
            {
                "stock_code": e.stock_code,
                "name": self.stock_name(e.stock_code),
                "note": e.note,
                "added_at": e.added_at.isoformat(),
            }
            for e in self.watch_store.entries()
        ]

    def stock_name(self, code: str) -> str:
        """The stock's name: known live, else from the stock master ("" if not there)."""
        st = self.stocks.get(code)
        if st is not None and st.name:
            return st.name
        name = self.repo.stock_name(code)
        if name:
            self.stocks.setdefault(code, StockState(code)).name = name
        return name or ""

    def validate_code(self, code: str) -> str:
        """The stock's name; raises :class:`UnknownStock` when it is not listed.

        Checks the stock master, then asks Kiwoom (ka10001 주식기본정보요청) — which is
        the simulator's list in sim mode. Kiwoom unreachable or refusing for another
        reason (keys, rate) is :class:`WatchlistUnavailable`, not "unknown".
        """
        if not is_stock_code(code):  # the API checks too; this guards every other caller
            raise UnknownStock(f"{code[:20]!r} is not a stock code")
        name = self.stock_name(code)
        if name:
            return name
        try:
            quote = self.client.get_quote(code)
        except InputError as exc:  # [1902] 존재하지 않는 종목코드
            raise UnknownStock(f"{code} is not a listed stock") from exc
        except KiwoomError as exc:
            raise WatchlistUnavailable(
                f"could not check {code} with Kiwoom ({type(exc).__name__}); try again"
            ) from exc
        name = getattr(quote, "name", "") or code
        self.stocks.setdefault(code, StockState(code)).name = name
        return name

    def add_watchlist(self, code: str, note: str | None = None) -> tuple[dict[str, Any], bool]:
        """Put a listed stock on the watchlist and collect it; returns the stored entry
        and whether it was added now (False: it was already there, with its own note)."""
        name = self.validate_code(code)
        store = self.watch_store
        with store.lock:  # the table, the set and the subscription change together
            entry, created = store.add(code, note, datetime.fromtimestamp(self._clock(), KST))
            new_here = code not in self.watchlist
            if new_here:
                self.watchlist = self.watchlist | {code}
                self.collector.subscribe([code], OWNER_WATCH)
        if new_here:
            self.control.record_universe()
        item = {
            "stock_code": code,
            "name": name,
            "note": entry.note,
            "added_at": entry.added_at.isoformat(),
        }
        return item, created

    def remove_watchlist(self, code: str) -> bool:
        with self.watch_store.lock:
            removed = self.watch_store.remove(code)
            if code in self.watchlist:
                self.watchlist = self.watchlist - {code}
                self.collector.unsubscribe([code], OWNER_WATCH)
        return removed

    def is_known(self, code: str) -> bool:
        """In the stock master, collected now, or with stored ticks."""
        if code in self.stocks or code in self.watchlist:
            return True
        return self.repo.is_known(code)


def _writer_in_process(mode: str, engine: sa.Engine, clock: Callable[[], float]) -> bool:
    """``HUB_WRITER_PROCESS``: ``on``/``off``, or ``auto`` = a child process on MySQL/MariaDB
    (the production path, where the writer's CPU matters) with the real clock; a thread on
    SQLite (one file, no gain) and under an injected test clock (the child has its own)."""
    if mode in ("on", "off"):
        return mode == "on"
    return engine.url.get_backend_name() in ("mysql", "mariadb") and clock is time.time
