"""The tick hub: one upstream Kiwoom WebSocket → journal → database, bus and status.

Threads (each owns its state; shared counters are plain ints, read racily for status):

* **socket** (``KiwoomWebSocket``'s thread) calls :meth:`Hub.on_events` with each batch of
  decoded events (the frames of one socket read): trades and sampled books become **one**
  journal record per batch (``journal.append`` = one ``write(2)``; after it returns the
  ticks survive a crash of the hub), then per-stock state and the bus are updated. Nothing
  slow happens there.
* **writer** (:class:`~gslts_hub.writer.JournalWriter`) tails the journal into the DB and
  maintains 1-minute candles — in a child process on MySQL/MariaDB
  (:mod:`gslts_hub.writer_proc`, its own GIL), a thread on SQLite.
* **control** (this module) runs the schedule: connect/stop by the KRX calendar, universe
  refresh, daily partitions, token refresh, and gap backfill after reconnects.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from gslts_common.bus import InProcessBus, RedisBus, make_bus, tick_batch, tick_batches
from gslts_common.errors import AppError, NotFound
from gslts_common.kiwoom_client import make_kiwoom_client
from gslts_db import (
    StockMaster,
    UniverseEntry,
    ensure_partitions,
    insert_ignore,
    is_mysql,
    make_engine,
    upgrade,
)
from gslts_hub.backfill import (
    GapResult,
    LiveAnchor,
    StoredAnchor,
    fetch_tick_chart,
    reconstruct_gap,
    walk_forward,
)
from gslts_hub.candles import CandleAggregator
from gslts_hub.gap_queue import GapQueue
from gslts_hub.interest import InterestManager, LeaseTable
from gslts_hub.journal import FileOps, Journal, JournalStats
from gslts_hub.memory import HeapTrimmer
from gslts_hub.pending_gaps import PendingGaps
from gslts_hub.rows import (
    T_CODE,
    T_CUM,
    T_CUM_VALUE,
    T_DATE,
    T_PRICE,
    T_TIME,
    T_VENUE,
    T_VOLUME,
    book_to_array,
    decode_record,
    encode_record,
    iso_time,
    trade_to_array,
)
from gslts_hub.schedule import Schedule
from gslts_hub.settings import HubSettings
from gslts_hub.spool import JournalSpool, State
from gslts_hub.universe import TopSelector
from gslts_hub.vi import VI_TYPE, ViTracker
from gslts_hub.watchlist import WatchlistStore, WatchlistUnavailable
from gslts_hub.writer import JournalWriter
from gslts_hub.writer_proc import WriterProcess, memory_kib
from gslts_kiwoom import (
    FallbackRateLimiter,
    FallbackTokenCache,
    InputError,
    KiwoomClient,
    KiwoomError,
)
from gslts_kiwoom._ws import KiwoomWebSocket, WsConfig
from gslts_kiwoom.krx import is_stock_code
from gslts_kiwoom.realtime import (
    KST,
    BalanceEvent,
    OrderBook,
    OrderEvent,
    RawRealtime,
    RealtimeDecoder,
    Trade,
    ViEvent,
)

log = logging.getLogger(__name__)

MARKET_TYPES = ("0B", "0D")
#: a gap's backward walk waits for this many live trades after the first one, or this long
FOLLOW_TRADES = 5
FOLLOW_WAIT_S = 1.0
#: a failed gap walk is tried again after BACKFILL_RETRY_S × attempt, this many times
BACKFILL_ATTEMPTS = 3
BACKFILL_RETRY_S = 10.0
#: a gap fill is journaled in records of at most this many trades
BACKFILL_RECORD_TRADES = 2000
#: 0D books come undecoded (WsConfig.defer_types): a batch keeps only each stock's latest
#: book (a snapshot supersedes the ones before it), so under load most are never decoded
WS_DEFER_TYPES = frozenset({"0D"})
ACCOUNT_TYPES = ("00", "04")
OWNER_TOP = "top"
OWNER_WATCH = "watchlist"
#: stocks leased through the interest API (gslts_hub.interest)
OWNER_INTEREST = "interest"


class HubError(AppError):
    """Base of the hub's own errors (mapped by :mod:`gslts_common.errors`)."""


class UnknownStock(NotFound, HubError):
    """The code is not a listed stock (404)."""


@dataclass(slots=True)
class StockState:
    """Per-stock live state (written by the socket thread)."""

    code: str
    name: str = ""
    last_price: int | None = None
    ticks_today: int = 0
    last_tick_at: float | None = None  # receive time, epoch s
    last_cum: int | None = None  # KRX cumulative volume of the last live trade
    last_trade_time: datetime | None = None
    last_krx_price: int = 0  # … and its price, quantity, cumulative value (forward walk)
    last_qty: int = 0
    last_cum_value: int = 0
    day: date | None = None


@dataclass
class BackfillStats:
    gaps: int = 0
    gaps_flagged: int = 0
    ticks: int = 0
    errors: int = 0
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=50))


class Hub:
    """Owns the journal, writer, bus, REST/WS clients and the collection schedule.

    Args:
        settings: hub settings.
        engine: tick database engine (default: from ``settings``).
        client: Kiwoom REST client (default: from ``settings``).
        connect: False = no WebSocket/schedule (API-only, used by tests and tools).
        clock: epoch seconds (tests inject one).
        journal_ops: the journal's system calls (tests inject disk faults).
    """

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
        self.clock = clock
        self.started_at = clock()
        self.engine = engine or make_engine(settings.resolved_database_url())
        self._owns_engine = engine is None
        self._connect = connect
        self.schedule = Schedule(settings.schedule_mode())
        self.bus: InProcessBus = make_bus(settings.redis_url, settings.hub_bus_prefix)
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
        #: trades received while collection was suspended (not journaled: a gap, backfilled)
        self.ticks_refused = 0
        #: (committed journal position, when it last moved): the writer-stall check
        self._commit_mark = (self.journal.committed_position, clock())
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
        self.ws: KiwoomWebSocket | None = None
        self.ws_state = "stopped"
        self.selector = TopSelector(
            settings.hub_universe_size,
            settings.hub_universe_exit_rank,
            settings.hub_universe_exit_refreshes,
        )
        self.stocks: dict[str, StockState] = {}
        self.ranks: dict[str, int] = {}
        self.watchlist: set[str] = set()
        #: stocks other services lease (PUT /api/interest/{code}): subscribed under their
        #: own owner tag, so the top 50 and the watchlist never release them (nor they those)
        self.interest = InterestManager(
            LeaseTable(
                max_codes=settings.hub_interest_max_codes,
                max_per_asker=settings.hub_interest_max_per_asker,
                max_ttl_s=settings.hub_interest_max_ttl_s,
                clock=clock,
            ),
            subscribe=lambda codes: self._subscribe(codes, OWNER_INTEREST),
            unsubscribe=lambda codes: self._unsubscribe(codes, OWNER_INTEREST),
            held_elsewhere=lambda: self.selector.members | self.watchlist,
        )
        self.ticks_received = 0
        self.books_received = 0
        self.books_journaled = 0
        self.order_events = 0
        #: per stock (wire item, or (code, venue)): when its book was last stored / published,
        #: and its newest book not yet published (rate-limited; see _books)
        self._book_last: dict[Any, float] = {}
        self._book_pub: dict[Any, float] = {}
        self._book_pending: dict[Any, OrderBook | RawRealtime] = {}
        self._book_flush_at = 0.0
        self._book_lock = threading.Lock()
        #: decodes the deferred 0D books a batch keeps (WS_DEFER_TYPES)
        self._book_decoder = RealtimeDecoder()
        self._rate: deque[tuple[float, int]] = deque(maxlen=120)
        self.events: deque[dict[str, Any]] = deque(maxlen=200)
        #: per-stock VI (1h VI발동/해제): a stock in VI is silent by design
        self.vi = ViTracker(grace_s=settings.hub_stale_after_s)
        #: True when the server refused 1h for every stock (item ""): 1h goes per stock
        self._vi_per_stock = False
        self.backfill = BackfillStats()
        self._backfill_q: queue.Queue[tuple[str, int, datetime] | None] = queue.Queue()
        #: stocks whose stored history has a gap: last stored trade, since when (epoch s)
        self._await_first: dict[str, tuple[StoredAnchor, float]] = {}
        #: where each stock's history ended when the previous process stopped (read at start)
        self._restart_anchors: dict[str, StoredAnchor] = {}
        #: gaps not yet filled, on disk beside the journal: a restart (even kill -9) before
        #: their walk does not forget them (see :mod:`gslts_hub.pending_gaps`)
        self.pending_gaps = PendingGaps(settings.journal_dir())
        #: holes found in the live stream (a forward jump of the cumulative volume)
        self.stream_gaps = 0
        #: failed gap walks waiting for another attempt: (due epoch, attempt, queue item)
        self._retry: list[tuple[float, int, tuple[str, StoredAnchor, LiveAnchor | None]]] = []
        self._backfill_attempts: dict[str, int] = {}
        #: counters already reported as events (malformed input, REST rate limiting, holes)
        self._reported: dict[str, int] = {}
        #: freed heap back to the system after a burst (see :mod:`gslts_hub.memory`)
        self._trimmer = HeapTrimmer()
        #: gaps to fill: (code, last stored trade, first live trade or None = walk forward)
        #: (a stock's new gap merges into its waiting one: see :mod:`gslts_hub.gap_queue`)
        self._anchors = GapQueue()
        #: gaps whose first live trade came, collecting the live trades that follow it:
        #: code → (last stored, first live, [(time, price, qty)…], since)
        self._following: dict[
            str, tuple[StoredAnchor, LiveAnchor, list[tuple[datetime, int, int]], float]
        ] = {}
        self._was_ready = False
        self._ready_at = 0.0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.RLock()
        #: schema/partitions/watchlist done (False while the database is down at start)
        self._db_ready = False
        self._db_init_reported = 0.0
        self._db_init_at = 0.0
        self._db_size: tuple[float, int | None] = (0.0, None)
        self._partitions_day: date | None = None
        self._token_day: date | None = None
        self._last_universe = 0.0
        self.collecting = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Migrate, make partitions, replay the journal backlog (writer), then connect.

        A database that is down at start does not stop the hub: it collects into the
        journal, health says the database is unreachable, and the control loop migrates,
        loads the watchlist and lets the writer catch up once the database answers.
        """
        self._db_ready = self._init_database()
        if self.settings.hub_backfill:
            self._restart_anchors = self._merge_pending_gaps(self._load_restart_anchors())
        self.writer.start()  # resumes at the checkpoint: the crash replay is just this
        if not self.writer.wait_ready(60.0):
            log.error("writer_not_ready: ticks are journaled, the database lags until it runs")
        if self._connect:
            self._spawn(self._control_loop, "hub-control")
            self._spawn(self._backfill_loop, "hub-backfill")
        self.event("start", f"hub started (schedule={self.schedule.mode})")

    def _init_database(self) -> bool:
        """Schema, partitions and the watchlist; False (and an event) while the database
        cannot be reached."""
        try:
            upgrade(self.engine)
            self._ensure_partitions()
            known = set(self.watchlist)
            self._load_watchlist()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            now = self.clock()
            if now - self._db_init_reported >= 60.0:  # once a minute, not every attempt
                self._db_init_reported = now
                self.event(
                    "db",
                    f"database unreachable at start ({type(exc).__name__}): collecting into "
                    "the journal; it is stored when the database is back",
                )
            return False
        added = sorted(self.watchlist - known)
        if added and self.ws is not None:  # the watchlist was unknown while the DB was away
            self._subscribe(added, OWNER_WATCH)
        if self._db_init_reported:
            self.event("db", "database reachable: schema checked, watchlist loaded")
        return True

    def _spawn(self, fn: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=fn, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def close(self) -> None:
        """Stop collecting, drain the writer (while the DB is reachable), close everything."""
        self._stop.set()
        self._backfill_q.put(None)
        self._stop_ws()
        for t in self._threads:
            t.join(timeout=10)
        self.writer.stop(drain=True)
        self.journal.close()
        self.bus.close()
        if self._client is not None and self._owns_client:
            self._client.close()
        if self._owns_engine:
            self.engine.dispose()

    def event(self, kind: str, message: str) -> None:
        """Remember an event for the monitoring page (and log it)."""
        self.events.append(
            {
                "time": datetime.fromtimestamp(self.clock(), KST).isoformat(),
                "kind": kind,
                "message": message,
            }
        )
        log.info("hub_event kind=%s %s", kind, message)

    # ------------------------------------------------------------------ Kiwoom clients
    @property
    def client(self) -> KiwoomClient:
        """The REST client, from the one factory the backend and the CLI use too: with
        ``REDIS_URL`` they share one token and one per-api-id request budget (Kiwoom
        counts both per app key)."""
        if self._client is None:
            self._client = make_kiwoom_client(self.settings)
        return self._client

    def get_token(self, force_new: bool) -> str:
        """The WebSocket's token provider (shared with REST): re-issued when refused."""
        return self.client.token(force_new=force_new)

    def _start_ws(self) -> None:
        if self.ws is not None:
            return
        s = self.settings
        cfg = WsConfig(
            watchdog_s=s.hub_ws_watchdog_s,
            max_items_per_group=s.hub_ws_max_items_per_group,
            max_groups=s.hub_ws_max_groups,
            backoff_max_s=5.0,
            defer_types=WS_DEFER_TYPES,
        )
        self.ws = KiwoomWebSocket(
            s.kiwoom_config().ws_url,
            self.get_token,
            cfg,
            on_events=self.on_events,
            on_error=lambda e: self.event("ws_error", type(e).__name__),
            on_state=self._on_ws_state,
            name="hub-ws",
        )
        self.ws.start()
        self.collecting = True
        with contextlib.suppress(Exception):
            self.ws.subscribe([""], ACCOUNT_TYPES, owner="hub")
        if self.watchlist:
            self._subscribe(sorted(self.watchlist), OWNER_WATCH)
        if self.selector.members:
            # back after a scheduled stop: registrations died with the old socket, and the
            # next ranking only reports changes to the membership
            self._subscribe(sorted(self.selector.members), OWNER_TOP)
        if leased := self.interest.codes():  # leases granted while the socket was down
            self._subscribe(leased, OWNER_INTEREST)
        self._subscribe_vi()

    def _market_types(self) -> tuple[str, ...]:
        return (*MARKET_TYPES, VI_TYPE) if self._vi_per_stock else MARKET_TYPES

    def _subscribe_vi(self) -> None:
        """1h VI발동/해제 for every stock (item ``""``, PROTOCOL §5.6); when the server
        refuses that, 1h is registered per collected stock alongside 0B/0D instead."""
        ws = self.ws
        if ws is None or self._vi_per_stock:
            return
        ws.wait_ready(5.0)  # registered live, so a refusal reaches us (not only the log)
        try:
            ws.subscribe([""], (VI_TYPE,), owner="hub")
            return
        except Exception as exc:
            self.event("vi", f"VI for all stocks refused ({exc}); registering per stock")
        self._vi_per_stock = True
        for owner, codes in (
            (OWNER_WATCH, self.watchlist),
            (OWNER_TOP, self.selector.members),
            (OWNER_INTEREST, frozenset(self.interest.codes())),
        ):
            if codes:
                with contextlib.suppress(Exception):
                    ws.subscribe(sorted(codes), (VI_TYPE,), owner=owner)

    def _stop_ws(self) -> None:
        ws, self.ws = self.ws, None
        self.collecting = False
        if ws is not None:
            ws.close()

    def _subscribe(self, codes: Iterable[str], owner: str) -> list[str]:
        """Subscribe 0B+0D; returns codes refused (registration caps) — logged, not raised."""
        ws = self.ws
        failed: list[str] = []
        codes = list(codes)
        if ws is None or not codes:
            return failed
        for c in codes:
            self.stocks.setdefault(c, StockState(c))
        # Seed *before* REG: the first live frame can arrive while subscribe() still waits
        # for the ack, and that tick must be the one that closes the restart gap.
        seeded = self._seed_anchors(codes)
        try:
            ws.subscribe(codes, self._market_types(), owner=owner)
        except Exception as exc:
            self.event("subscribe_failed", f"{len(codes)} stocks: {exc}")
            failed = codes
            for c in seeded:  # nothing was registered: keep the anchor for a later attempt
                pending = self._await_first.pop(c, None)
                if pending is not None:
                    self._restart_anchors.setdefault(c, pending[0])
        return failed

    def _seed_anchors(self, codes: list[str]) -> list[str]:
        """After a restart the stored history of a stock ends where the old process died:
        make that the gap start, so its first live tick triggers a backfill (ka10079).
        Returns the codes seeded."""
        if not self.settings.hub_backfill:
            return []
        now = self.clock()
        today = datetime.fromtimestamp(now, KST).date()
        seeded: list[str] = []
        opened: dict[str, StoredAnchor] = {}
        for code in codes:
            stored = self._restart_anchors.pop(code, None)
            if (
                stored is None
                or stored.time.date() != today  # a later day starts from cum 0: no gap
                or self.stocks[code].last_cum is not None  # this process already has it
                or code in self._await_first
            ):
                continue
            self._await_first[code] = (stored, now)
            seeded.append(code)
            opened[code] = stored
            log.info(
                "backfill_anchor_seeded code=%s cum=%d time=%s",
                code,
                stored.cum_volume,
                stored.time.isoformat(),
            )
        self._open_gaps(opened)
        return seeded

    def _load_restart_anchors(self) -> dict[str, StoredAnchor]:
        """Each stock's last KRX trade of today that the previous process kept: the
        latest of the database and the journal backlog (received, not yet written; the
        writer replays it concurrently). Read once at start, before any live tick exists,
        so the anchor can neither be a tick of this process (which would hide the gap) nor
        miss the backlog (which would lengthen the ka10079 walk)."""
        from gslts_db import TickData

        today = datetime.fromtimestamp(self.clock(), KST).date()
        t = TickData.__table__.c
        anchors: dict[str, StoredAnchor] = {}
        rows: Sequence[Any] = []
        try:
            with self.engine.connect() as conn:
                last = (
                    sa.select(t.stock_code, sa.func.max(t.cum_volume).label("cum"))
                    .where(t.trade_date == today, t.venue == "KRX")
                    .group_by(t.stock_code)
                    .subquery()
                )
                on = sa.and_(t.stock_code == last.c.stock_code, t.cum_volume == last.c.cum)
                rows = conn.execute(
                    sa.select(
                        t.stock_code, t.cum_volume, t.trade_time, t.price, t.volume, t.cum_value
                    )
                    .select_from(TickData.__table__.join(last, on))
                    .where(t.trade_date == today, t.venue == "KRX")
                ).all()
        except sa.exc.SQLAlchemyError as exc:
            # the journal backlog still gives the anchors of what it holds
            self.event(
                "backfill",
                f"stored history unreadable ({type(exc).__name__}): restart gaps from the "
                "journal backlog only",
            )
        for r in rows:
            anchors[r.stock_code] = StoredAnchor(
                r.trade_time.replace(tzinfo=KST),
                int(r.price),
                abs(int(r.volume)),
                int(r.cum_volume),
                int(r.cum_value),
            )
        ordinal = today.toordinal()
        pos = self.journal.committed_position
        end = self.journal.end_position
        backlog = end - pos
        if backlog > 64 * 1024 * 1024:
            mb = backlog / 2**20
            self.event("start", f"reading {mb:.0f} MB of journal backlog for gap anchors")
        best: dict[str, list[Any]] = {}  # code → its journaled tick array with the largest cum
        next_report = time.monotonic() + 5.0
        while pos < end:
            start = pos
            for after, payload in self.journal.read(start, max_records=10_000):
                pos = after
                for a in decode_record(payload)[2]:
                    if a[T_VENUE] != "KRX" or a[T_DATE] != ordinal:
                        continue
                    cur = best.get(a[T_CODE])
                    if cur is None or a[T_CUM] > cur[T_CUM]:
                        best[a[T_CODE]] = a
            if pos == start:
                break  # nothing readable past here (torn tail)
            if time.monotonic() >= next_report:  # a long backlog: say how far it got
                next_report += 5.0
                done = (pos - (end - backlog)) / backlog
                log.info("restart_anchors_progress %.0f%% of %d journal bytes", done * 100, backlog)
        for code, a in best.items():
            stored = anchors.get(code)
            if stored is None or a[T_CUM] > stored.cum_volume:
                anchors[code] = StoredAnchor(
                    datetime.fromtimestamp(a[T_TIME], KST),
                    int(a[T_PRICE]),
                    abs(int(a[T_VOLUME])),
                    int(a[T_CUM]),
                    int(a[T_CUM_VALUE]),
                )
        return anchors

    def _merge_pending_gaps(self, anchors: dict[str, StoredAnchor]) -> dict[str, StoredAnchor]:
        """A gap the previous process opened and never filled starts *before* the newest
        stored trade (live trades after it were stored): its anchor wins, so the restart's
        walk covers the old gap too (trades stored in between are no-ops by the key)."""
        today = datetime.fromtimestamp(self.clock(), KST).date()
        older = 0
        for code, a in self.pending_gaps.for_day(today).items():
            cur = anchors.get(code)
            if cur is None or a.cum_volume < cur.cum_volume:
                anchors[code] = a
                older += 1
        if older:
            self.event("backfill", f"{older} gaps left open by the previous process: refilling")
        return anchors

    def _open_gaps(self, anchors: dict[str, StoredAnchor]) -> None:
        if anchors and self.settings.hub_backfill:
            self.pending_gaps.open_many(anchors)

    def _unsubscribe(self, codes: Iterable[str], owner: str) -> None:
        ws = self.ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.unsubscribe(list(codes), self._market_types(), owner=owner)

    def collected_codes(self) -> list[str]:
        ws = self.ws
        if ws is None:
            return sorted(self.selector.members | self.watchlist | set(self.interest.codes()))
        return sorted({item for (typ, item) in ws.subscriptions() if typ == "0B" and item})

    # ------------------------------------------------------------------ socket thread
    def on_events(self, events: list[Any]) -> None:
        """Each batch of decoded events (socket thread): journal first, then state and bus.

        Books are conflated: a batch keeps each stock's (and venue's) latest 0D, which is
        published at most every ``hub_book_publish_s`` and stored at most every
        ``hub_book_sample_s`` per stock (see :meth:`_books`). A book is a full snapshot, so
        a consumer always gets the newest one, and under load most books are never decoded.
        """
        now = self.clock()
        ticks: list[list[Any]] = []
        books: list[list[Any]] = []
        trades: list[Trade] = []
        # the batch's trades (and their arrays) per stock, in order: state, bus message and
        # quote are then per stock per batch, not per trade
        by_code: dict[str, tuple[list[Trade], list[Any]]] = {}
        latest_book: dict[Any, OrderBook | RawRealtime] = {}
        n_books = 0
        for ev in events:
            tp = type(ev)
            if tp is Trade:
                arr = trade_to_array(ev)
                ticks.append(arr)
                trades.append(ev)
                g = by_code.get(ev.code)
                if g is None:
                    by_code[ev.code] = ([ev], [arr])
                else:
                    g[0].append(ev)
                    g[1].append(arr)
            elif tp is RawRealtime:
                if ev.type == "0D":
                    latest_book[ev.item] = ev
                    n_books += 1
            elif tp is OrderBook:
                latest_book[(ev.code, ev.venue)] = ev
                n_books += 1
            elif tp is OrderEvent or tp is BalanceEvent:
                self.order_events += 1
                self.bus.publish_order_event(_order_event(ev))
            elif tp is ViEvent:
                msg = self.vi.apply(ev, now)
                if msg is not None:
                    self.event("vi", msg)
        if latest_book:
            self.books_received += n_books
            books = self._books(latest_book, now)
        elif self._book_pending and now >= self._book_flush_at:
            self.flush_books(now)  # held-back books whose turn came
        if ticks or books:
            if not self.spool.append(encode_record(now, ticks, books)):
                # suspended (journal unwritable, memory bound reached): these trades are a
                # gap, filled from ka10079 once the journal works; state stays at the last
                # kept trade, so the gap starts there
                self.ticks_refused += len(trades)
                return
            self.books_journaled += len(books)
        if not trades:
            return
        self.ticks_received += len(trades)
        day = trades[0].trade_date
        if self._await_first or self._following or not all(t.trade_date == day for t in trades):
            # a pending gap wants each stock's *first* live KRX trade, and a frame spanning
            # two days resets a count mid-frame: the per-trade walk handles both (rare)
            self._apply_trades(trades, now)
        else:
            self._apply_groups(by_code, day, now)
        # the bus gets every trade: one message per stock per batch (all its trades, as
        # arrays) and the stock's latest quote; non-blocking (RedisBus queues, drops when
        # full), and one message per stock rather than per trade keeps Redis off the hot path
        bus = self.bus
        publish = bus.publish_ticks
        set_quote = bus.set_quote
        for code, (ts, arrs) in by_code.items():
            publish(code, tick_batch(code, arrs))
            t = ts[-1]
            set_quote(
                code,
                {
                    "code": code,
                    "venue": str(t.venue),
                    "price": t.price,
                    "volume": t.volume,
                    "cum_volume": t.cum_volume,
                    "cum_value": t.cum_value,
                    "time": iso_time(t.time),
                },
            )

    def _books(self, latest: dict[Any, OrderBook | RawRealtime], now: float) -> list[list[Any]]:
        """Each stock's latest book of a batch: published on the bus at most every
        ``hub_book_publish_s`` per stock (the newer ones wait, the last is published by
        :meth:`flush_books`), stored at most every ``hub_book_sample_s``; decoded (when
        deferred) only when it is one or the other. Returns the journal book arrays."""
        sample = self.settings.hub_book_sample_s
        every = self.settings.hub_book_publish_s
        stored: list[list[Any]] = []
        with self._book_lock:
            pub, last_stored, pending = self._book_pub, self._book_last, self._book_pending
            for key, ev in latest.items():
                publish = now >= pub.get(key, 0.0) + every
                store = now >= last_stored.get(key, 0.0) + sample
                if not (publish or store):
                    pending[key] = ev  # superseded by a newer one, or published later
                    continue
                b = self._decode_book(ev)
                if b is None:
                    continue
                if store:
                    last_stored[key] = now
                    stored.append(book_to_array(b))
                if publish:
                    pub[key] = now
                    pending.pop(key, None)
                    self.bus.publish_book(b.code, _book_event(b))
                else:
                    pending[key] = b
            if pending and now >= self._book_flush_at:
                self._flush_books_locked(now)
        return stored

    def flush_books(self, now: float | None = None) -> None:
        """Publish the books held back by the per-stock rate once their turn has come
        (called per batch, and by the control loop for when the feed goes quiet)."""
        with self._book_lock:
            self._flush_books_locked(self.clock() if now is None else now)

    def _flush_books_locked(self, now: float) -> None:
        every = self.settings.hub_book_publish_s
        self._book_flush_at = now + min(every, 0.05)
        pub, pending = self._book_pub, self._book_pending
        for key in [k for k in pending if now >= pub.get(k, 0.0) + every]:
            b = self._decode_book(pending.pop(key))
            pub[key] = now
            if b is not None:
                self.bus.publish_book(b.code, _book_event(b))

    def _decode_book(self, ev: OrderBook | RawRealtime) -> OrderBook | None:
        if isinstance(ev, OrderBook):
            return ev
        dec = self._book_decoder
        dec.set_clock(self.clock())  # the receive time, as the socket would (cheap per second)
        b = dec.decode(ev)
        return b if isinstance(b, OrderBook) else None  # malformed: counted by the decoder

    def _apply_groups(
        self, by_code: dict[str, tuple[list[Trade], list[Any]]], day: date, now: float
    ) -> None:
        """Per-stock state from one batch's trades grouped per stock, all dated ``day``
        and with no gap pending: the same end state as :meth:`_apply_trades`, which takes
        over a stock whose trades show a hole in its stream."""
        stocks = self.stocks
        check = self.settings.hub_stream_gap_check
        for code, (ts, _) in by_code.items():
            st = stocks.get(code)
            if st is None:
                st = stocks[code] = StockState(code)
            last_cum = st.last_cum if st.day == day else None
            if check and _has_hole(ts, last_cum):
                self._apply_trades(ts, now)
                continue
            if st.day != day:
                st.day, st.ticks_today = day, 0
            st.ticks_today += len(ts)
            st.last_price = ts[-1].price
            st.last_tick_at = now
            for t in reversed(ts):  # the newest KRX trade (usually the very last one)
                if t.venue == "KRX":
                    if last_cum is not None and t.cum_volume < last_cum:
                        break  # a resent older trade: the state stays at the newest
                    st.last_cum = t.cum_volume
                    st.last_trade_time = t.time
                    st.last_krx_price = t.price
                    st.last_qty = t.volume if t.volume >= 0 else -t.volume
                    st.last_cum_value = t.cum_value
                    break

    def _apply_trades(self, trades: list[Trade], now: float) -> None:
        """Per-stock state, trade by trade; a pending gap's first live KRX trade queues
        its backfill (ka10079), and so does a trade after a hole in the stream (its
        cumulative volume jumped: the trades between never came)."""
        stocks = self.stocks
        check = self.settings.hub_stream_gap_check
        for t in trades:
            st = stocks.get(t.code)
            if st is None:
                st = stocks[t.code] = StockState(t.code)
            new_day = st.day != t.trade_date
            if new_day:
                st.day, st.ticks_today = t.trade_date, 0
            st.ticks_today += 1
            st.last_price = t.price
            st.last_tick_at = now
            if str(t.venue) != "KRX":
                continue
            qty = t.volume if t.volume >= 0 else -t.volume
            last_cum = None if new_day else st.last_cum
            hole = check and last_cum is not None and t.cum_volume - qty > last_cum
            following = self._following.get(t.code) if self._following else None
            if following is not None:
                if hole:  # the walk goes with the trades that came before the hole
                    self._queue_gap(t.code)
                else:
                    following[2].append((t.time, t.price, qty))
                    if len(following[2]) >= FOLLOW_TRADES:
                        self._queue_gap(t.code)
            pending = self._await_first.pop(t.code, None) if self._await_first else None
            if pending is None and hole and last_cum is not None and st.last_trade_time:
                stored = StoredAnchor(
                    st.last_trade_time, st.last_krx_price, st.last_qty, last_cum, st.last_cum_value
                )
                pending = (stored, now)
                self.stream_gaps += 1
                self._open_gaps({t.code: stored})
                log.info(
                    "stream_gap code=%s after_cum=%d live_cum=%d missing_shares=%d",
                    t.code,
                    last_cum,
                    t.cum_volume,
                    t.cum_volume - qty - last_cum,
                )
            if pending is not None:
                anchor = LiveAnchor(t.time, t.price, qty, t.cum_volume, t.cum_value)
                # the walk waits for the next few live trades (or FOLLOW_WAIT_S): they
                # pin the anchor's row among rows with the same (second, price, qty)
                self._following[t.code] = (pending[0], anchor, [], now)
            if last_cum is None or t.cum_volume >= last_cum:  # a resent older trade: not newer
                st.last_cum = t.cum_volume
                st.last_trade_time = t.time
                st.last_krx_price = t.price
                st.last_qty = qty
                st.last_cum_value = t.cum_value

    def _queue_gap(self, code: str) -> None:
        """Hand a gap whose first live trade (and the ones that followed) is known to the
        backfill thread (once: whoever pops it queues it)."""
        entry = self._following.pop(code, None)
        if entry is not None:
            stored, anchor, after, _since = entry
            self._anchors.put((code, stored, replace(anchor, after=tuple(after))))

    def _queue_followed_gaps(self, now_epoch: float, *, all_: bool = False) -> None:
        """Gaps still collecting following trades for ``FOLLOW_WAIT_S``: go with what came."""
        for code, entry in list(self._following.items()):
            if all_ or now_epoch - entry[3] >= FOLLOW_WAIT_S:
                self._queue_gap(code)

    def _mark_gaps(self, now: float) -> None:
        """Ticks stop reaching the journal (a disconnect, a suspended journal): each
        stock's gap starts at its last kept trade, and its next live trade (or the forward
        walk) fills it from ka10079."""
        self._queue_followed_gaps(now, all_=True)
        opened: dict[str, StoredAnchor] = {}
        for st in list(self.stocks.values()):
            if (
                st.last_cum is not None
                and st.last_trade_time is not None
                and st.code not in self._await_first
            ):
                stored = StoredAnchor(
                    st.last_trade_time,
                    st.last_krx_price,
                    st.last_qty,
                    st.last_cum,
                    st.last_cum_value,
                )
                self._await_first[st.code] = (stored, now)
                opened[st.code] = stored
        self._open_gaps(opened)

    def _on_journal_state(self, state: State, message: str) -> None:
        if state == "suspended":
            self._mark_gaps(self.clock())
        self.event("journal", message)

    def _on_ws_state(self, state: str) -> None:
        self.ws_state = state
        if state == "disconnected" and self._was_ready:
            self._mark_gaps(self.clock())
            self.event("ws", "disconnected")
        elif state == "ready":
            if self._was_ready:
                self.event("ws", f"reconnected; backfilling {len(self._await_first)} stocks")
            self._was_ready = True
            self._ready_at = self.clock()

    def _on_db_state(self, ok: bool, error: str | None) -> None:
        if ok:
            backlog = self.journal.stats().backlog_bytes
            self.event("db", f"database back; catching up ({backlog} journal bytes)")
        else:
            self.event("db", f"database unreachable, collecting into the journal: {error}")

    def _on_candles_closed(self, rows: list[Any]) -> None:
        for r in rows:
            self.bus.publish_candle(
                r.stock_code,
                {
                    "code": r.stock_code,
                    "interval": r.bar_interval,
                    "start": r.start_time.replace(tzinfo=KST).isoformat(),
                    "open": r.open,
                    "high": r.high,
                    "low": r.low,
                    "close": r.close,
                    "volume": r.volume,
                    "closed": True,
                },
            )

    # ------------------------------------------------------------------ control thread
    def _control_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.control_step()
            except Exception:
                log.exception("hub_control_step_failed")
            self._stop.wait(1.0)

    def control_step(self) -> None:
        """One tick of the schedule (also callable from tests)."""
        now_epoch = self.clock()
        now = datetime.fromtimestamp(now_epoch, KST)
        self._rate.append((now_epoch, self.ticks_received))
        self.spool.retry()  # a quiet feed still journals what waits, once it can
        self.writer_stall_s()
        self.interest.expire(now_epoch)  # leases end on time, in hours or not
        if not self._db_ready and now_epoch - self._db_init_at >= 5.0:
            self._db_init_at = now_epoch
            self._db_ready = self._init_database()
        elif self._partitions_day != now.date():
            self._ensure_partitions()
        if not self.schedule.should_collect(now):
            if self.ws is not None:
                self.event("schedule", "outside collection hours: stopping")
                self._stop_ws()
                self._end_session()
            return
        if self.ws is None:
            self.event("schedule", "collection hours: connecting")
            self._start_ws()
        if self.schedule.token_refresh_due(now, self._token_day):
            self._token_day = now.date()
            self.event("token", "re-issuing the token before the open")
            self.get_token(True)
            if self.ws is not None:
                self.ws._abort_socket()  # re-LOGIN with the fresh token
        self._queue_forward_walks(now_epoch)
        self._queue_followed_gaps(now_epoch)
        self._queue_retries(now_epoch)
        self.flush_books(now_epoch)
        self._report_counters()
        self._trimmer.maybe_trim()
        if now_epoch - self._last_universe >= self.settings.hub_universe_refresh_s:
            self._last_universe = now_epoch
            self.refresh_universe()

    def malformed_counts(self) -> dict[str, int]:
        """Input dropped as malformed, by reason: frames and items of this connection's
        decoder, and the deferred books decoded here."""
        out: dict[str, int] = dict(self._book_decoder.malformed)
        ws = self.ws
        if ws is not None:
            for k, v in ws.stats.malformed.items():
                out[k] = out.get(k, 0) + v
        return out

    def rest_stats(self) -> dict[str, Any]:
        """The Kiwoom REST client's calls, rate-limited answers and errors."""
        st = getattr(self._client, "stats", None)  # None: no client made yet
        if st is None:
            return {"calls": 0, "rate_limited": 0, "errors": 0, "last_error": None}
        return {
            "calls": st.calls,
            "rate_limited": st.rate_limited,
            "errors": st.errors,
            "last_error": st.last_error,
        }

    def _report_counters(self) -> None:
        """An event when a counter that means trouble grew (checked every second, so a
        burst gives one event, not one per frame)."""
        malformed = self.malformed_counts()
        rest = self.rest_stats()
        now = {
            "malformed": sum(malformed.values()),
            "rate_limited": int(rest["rate_limited"]),
            "rest_errors": int(rest["errors"]),
            "stream_gaps": self.stream_gaps,
        }
        for key, value in now.items():
            before = self._reported.get(key, 0)
            self._reported[key] = value
            grew = value - before if value >= before else value  # a new socket counts anew
            if grew <= 0:
                continue
            if key == "malformed":
                top = ", ".join(f"{k}={v}" for k, v in sorted(malformed.items())[:5])
                self.event("ws", f"{grew} malformed frames/items dropped ({top})")
            elif key == "rate_limited":
                self.event(
                    "rest", f"Kiwoom REST rate limited {grew} times (429/1700): retrying later"
                )
            elif key == "rest_errors":
                self.event("rest", f"{grew} Kiwoom REST calls failed: {rest['last_error']}")
            else:
                self.event(
                    "ws",
                    f"{grew} holes in the live stream (cumulative volume jumped): "
                    "filling from ka10079",
                )

    def _end_session(self) -> None:
        """After the scheduled stop: flush, and forget the session's gap anchors.

        The stop is deliberate, not a gap: without this, the disconnect would leave every
        stock waiting for a backfill that tomorrow's first tick (another day's cumulative
        volume) or the forward walk would try against today's last trade.
        """
        self._await_first.clear()
        self._was_ready = False
        caught_up = self.flush(timeout=30.0)
        backlog = self.journal.stats().backlog_bytes
        if caught_up:
            self.event("schedule", f"stopped; all {self.ticks_received} received ticks flushed")
        else:
            self.event("schedule", f"stopped; {backlog} journal bytes not yet in the database")

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

    def refresh_universe(self) -> None:
        """Top-N by trading value (ka10032, 000 = KOSPI+KOSDAQ, stex_tp 3) with hysteresis."""
        try:
            ranking = self.client.top_trading_value(
                "000", exchange="ALL", limit=self.settings.hub_universe_exit_rank
            )
        except KiwoomError as exc:
            self.event("universe", f"ranking failed: {type(exc).__name__}")
            return
        for r in ranking:
            self.stocks.setdefault(r.code, StockState(r.code)).name = r.name
        change = self.selector.update([r.code for r in ranking])
        self.ranks = change.ranks
        if change.added:
            self._subscribe(sorted(change.added), OWNER_TOP)
        if change.removed:
            self._unsubscribe(sorted(change.removed), OWNER_TOP)
        if change.added or change.removed:
            self.event("universe", f"+{len(change.added)} -{len(change.removed)}")
        self._record_universe()

    def _record_universe(self) -> None:
        now = datetime.fromtimestamp(self.clock(), KST)
        today = now.date()
        rows = [
            {
                "trade_date": today,
                "stock_code": c,
                "reason": "top50",
                "rank_no": self.ranks.get(c),
                "added_at": now,
            }
            for c in self.selector.members
        ] + [
            {
                "trade_date": today,
                "stock_code": c,
                "reason": "watchlist",
                "rank_no": None,
                "added_at": now,
            }
            for c in self.watchlist
        ]
        if rows:
            try:
                with self.engine.begin() as conn:
                    insert_ignore(conn, UniverseEntry.__table__, rows)  # type: ignore[arg-type]
            except sa.exc.SQLAlchemyError as exc:
                log.warning("universe_history_write_failed error=%s", type(exc).__name__)

    def _ensure_partitions(self) -> None:
        today = datetime.fromtimestamp(self.clock(), KST).date()
        try:
            ensure_partitions(self.engine, 14, today)
            self._partitions_day = today
        except sa.exc.SQLAlchemyError as exc:
            log.warning("ensure_partitions_failed error=%s", type(exc).__name__)

    # ------------------------------------------------------------------ backfill
    def _backfill_loop(self) -> None:
        done = filled = flagged = failed = 0
        while not self._stop.is_set():
            try:
                code, stored, live = self._anchors.get(timeout=0.5)
            except queue.Empty:
                if done:  # one event per burst of gaps (a reconnect), not one per stock
                    self.event(
                        "backfill",
                        f"{done} stocks checked: {filled} trades filled, "
                        f"{flagged} gaps flagged, {failed} failed",
                    )
                    done = filled = flagged = failed = 0
                continue
            if not self.settings.hub_backfill:
                continue
            if self.spool.state != "ok":  # the journal cannot take it yet: wait
                self._anchors.put((code, stored, live))
                self._stop.wait(1.0)
                continue
            done += 1
            before = self.backfill.gaps_flagged
            try:
                if live is None:
                    filled += self.backfill_forward(code, stored)
                else:
                    filled += self.backfill_gap(
                        code, stored.cum_volume, stored.time, live, stored=stored
                    )
            except Exception as exc:
                failed += 1
                self.backfill.errors += 1
                log.warning("backfill_failed code=%s error=%s", code, type(exc).__name__)
                self._retry_walk((code, stored, live))
            else:
                # stored in the journal (or nothing was missing): the gap is closed; a
                # flagged walk is closed too (recorded as such; walking again gives the same)
                self.pending_gaps.close(code, stored)
                self._backfill_attempts.pop(f"{code}:{stored.cum_volume}", None)
            flagged += self.backfill.gaps_flagged - before

    def _retry_walk(self, item: tuple[str, StoredAnchor, LiveAnchor | None]) -> None:
        """A walk that failed (REST refused, rate limited, …) is tried again later, a few
        times; after that the gap stays open on disk and the next start walks it."""
        key = f"{item[0]}:{item[1].cum_volume}"
        attempt = self._backfill_attempts.get(key, 0) + 1
        if attempt > BACKFILL_ATTEMPTS:
            self._backfill_attempts.pop(key, None)
            self.event(
                "backfill",
                f"{item[0]}: gap after cum {item[1].cum_volume} not filled after "
                f"{BACKFILL_ATTEMPTS} attempts; kept open for the next start",
            )
            return
        self._backfill_attempts[key] = attempt
        with self._lock:
            self._retry.append((self.clock() + BACKFILL_RETRY_S * attempt, attempt, item))

    def _queue_retries(self, now_epoch: float) -> None:
        with self._lock:
            due = [r for r in self._retry if r[0] <= now_epoch]
            self._retry = [r for r in self._retry if r[0] > now_epoch]
        for _, _, item in due:
            self._anchors.put(item)

    def backfill_gap(
        self,
        code: str,
        last_cum: int,
        last_time: datetime,
        anchor: LiveAnchor,
        *,
        stored: StoredAnchor | None = None,
    ) -> int:
        """Fill one stock's gap from ka10079 into the journal; returns trades added.

        With ``stored`` (the last stored trade) the walk must land on that very trade and
        the stored trades of its second, which tells a busy stock's repeated (second,
        price, quantity) rows apart (see :mod:`gslts_hub.backfill`)."""
        log.info(
            "backfill_gap_anchors code=%s stored_cum=%d live_cum=%d live_qty=%d",
            code,
            last_cum,
            anchor.cum_volume,
            anchor.qty,
        )
        if anchor.cum_volume - anchor.qty == last_cum:
            return 0  # nothing was missed
        rows = fetch_tick_chart(self.client, code, last_time)
        same = None if stored is None else self._stored_second(code, stored)
        res = reconstruct_gap(rows, anchor, last_cum, stored=stored, same_second=same)
        self._store_gap(code, anchor.time.date(), res)
        return len(res.ticks)

    def _queue_forward_walks(self, now_epoch: float) -> None:
        """Gaps of stocks that stayed silent ``hub_backfill_forward_after_s`` after the
        (re)connect are filled forward from the last stored trade: their next live tick may
        never come today. Whoever pops a stock first (this or its live tick) fills it."""
        after = self.settings.hub_backfill_forward_after_s
        if after <= 0 or self.ws_state != "ready" or now_epoch - self._ready_at < after:
            return
        for code, (_, since) in list(self._await_first.items()):
            if now_epoch - since >= after:
                pending = self._await_first.pop(code, None)
                if pending is not None:
                    self._anchors.put((code, pending[0], None))

    def backfill_forward(self, code: str, last: StoredAnchor) -> int:
        """Fill one silent stock's gap walking forward from its last stored trade (ka10079,
        checked against ka10001's cumulative volume); returns trades added."""
        close_cum: int | None = None
        try:
            close_cum = int(self.client.get_quote(code).volume)  # before the chart: ≤ its end
        except KiwoomError as exc:
            log.info("backfill_forward_no_quote code=%s error=%s", code, type(exc).__name__)
        if close_cum == last.cum_volume:
            return 0  # it has not traded since
        rows = fetch_tick_chart(self.client, code, last.time)
        res = walk_forward(
            rows, last, same_second=self._stored_second(code, last), close_cum=close_cum
        )
        self._store_gap(code, last.time.date(), res)
        return len(res.ticks)

    def _stored_second(self, code: str, last: StoredAnchor) -> list[tuple[int, int]] | None:
        """(price, qty) of the stored trades in ``last``'s second, oldest first."""
        from gslts_db import TickData

        t = TickData.__table__.c
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(t.price, t.volume)
                    .where(
                        t.stock_code == code,
                        t.trade_date == last.time.date(),
                        t.venue == "KRX",
                        t.cum_volume <= last.cum_volume,
                        t.trade_time >= last.time.replace(microsecond=0),
                    )
                    .order_by(t.cum_volume)
                ).all()
        except sa.exc.SQLAlchemyError:
            return None  # unchecked: the current-volume check still applies
        out = [(int(p), abs(int(v))) for p, v in rows]
        # the writer may not have stored the anchor itself yet: then the check is moot
        return out if out and out[-1] == (last.price, last.qty) else None

    def _store_gap(self, code: str, day: date, res: GapResult) -> None:
        b = self.backfill
        b.gaps += 1
        if not res.consistent:
            b.gaps_flagged += 1
            log.warning("backfill_gap_flagged code=%s %s", code, res.detail)
        if res.ticks:
            ordinal = day.toordinal()
            arrays = [
                [
                    code,
                    "KRX",
                    ordinal,
                    t.cum_volume,
                    t.time.timestamp(),
                    t.price,
                    t.qty,
                    t.cum_value,
                    None,
                    None,
                    None,
                    None,
                    None,
                ]
                for t in res.ticks
            ]
            # records of a bounded size: a long walk (a flood's hole) would otherwise be one
            # record of tens of thousands of trades, a memory peak in both processes
            for i in range(0, len(arrays), BACKFILL_RECORD_TRADES):
                chunk = arrays[i : i + BACKFILL_RECORD_TRADES]
                if not self.spool.append(encode_record(self.clock(), chunk, source="backfill")):
                    raise HubError("journal suspended: the gap fill was not kept")
            b.ticks += len(arrays)
            for c, event in tick_batches(arrays, "backfill").items():
                self.bus.publish_ticks(c, event)  # every stored trade reaches the bus once
        b.recent.append(
            {
                "code": code,
                "ticks": len(res.ticks),
                "consistent": res.consistent,
                "detail": res.detail,
                "time": datetime.fromtimestamp(self.clock(), KST).isoformat(),
            }
        )
        log.info(
            "backfill_gap code=%s ticks=%d consistent=%s", code, len(res.ticks), res.consistent
        )

    # ------------------------------------------------------------------ watchlist
    def _load_watchlist(self) -> None:
        """Read the watchlist (at start). Writes go through :class:`WatchlistStore`;
        ``self.watchlist`` is replaced, never mutated, so readers on other threads always
        iterate a complete set."""
        self._watch = WatchlistStore(self.engine)
        self.watchlist = self._watch.codes()

    def list_watchlist(self) -> list[dict[str, Any]]:
        return [
            {
                "stock_code": e.stock_code,
                "name": self.stock_name(e.stock_code),
                "note": e.note,
                "added_at": e.added_at.isoformat(),
            }
            for e in self._watch.entries()
        ]

    def stock_name(self, code: str) -> str:
        st = self.stocks.get(code)
        if st is not None and st.name:
            return st.name
        with self.engine.connect() as conn:
            name = conn.execute(
                sa.select(StockMaster.name).where(StockMaster.stock_code == code)
            ).scalar()
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
        with self._watch.lock:  # the table, the set and the subscription change together
            entry, created = self._watch.add(code, note, datetime.fromtimestamp(self.clock(), KST))
            new_here = code not in self.watchlist
            if new_here:
                self.watchlist = self.watchlist | {code}
                self._subscribe([code], OWNER_WATCH)
        if new_here:
            self._record_universe()
        item = {
            "stock_code": code,
            "name": name,
            "note": entry.note,
            "added_at": entry.added_at.isoformat(),
        }
        return item, created

    def remove_watchlist(self, code: str) -> bool:
        with self._watch.lock:
            removed = self._watch.remove(code)
            if code in self.watchlist:
                self.watchlist = self.watchlist - {code}
                self._unsubscribe([code], OWNER_WATCH)
        return removed

    def is_known(self, code: str) -> bool:
        """In the stock master, collected now, or with stored ticks."""
        if code in self.stocks or code in self.watchlist:
            return True
        with self.engine.connect() as conn:
            from gslts_db import TickData

            if conn.execute(
                sa.select(StockMaster.stock_code).where(StockMaster.stock_code == code)
            ).first():
                return True
            return (
                conn.execute(
                    sa.select(TickData.stock_code).where(TickData.stock_code == code).limit(1)
                ).first()
                is not None
            )

    # ------------------------------------------------------------------ status
    def writer_stall_s(self) -> float:
        """How long the journal backlog has not moved (0 = it moves, or there is none).
        The control loop calls this every second, so the mark follows the writer."""
        now = self.clock()
        committed = self.journal.committed_position
        mark, since = self._commit_mark
        if committed != mark or self.journal.end_position <= committed:
            self._commit_mark = (committed, now)
            return 0.0
        return max(0.0, now - since)

    def health_reasons(self) -> list[str]:
        """Why the hub is not doing its job right now (empty = healthy); each reason
        names the part that fails, for ``/api/health`` and the monitoring page."""
        reasons: list[str] = []
        sp = self.spool.status()
        if sp.state == "suspended":
            reasons.append(
                f"journal unwritable ({sp.last_error}): collection suspended, "
                f"{self.ticks_refused} trades refused so far (backfilled when it recovers)"
            )
        elif sp.state == "failing":
            reasons.append(
                f"journal unwritable ({sp.last_error}): {sp.waiting_bytes / 2**20:.1f} of "
                f"{sp.max_bytes / 2**20:.0f} MB kept in memory"
            )
        redis = self.redis_status()
        if redis["configured"] and not redis["ok"]:
            reasons.append(
                f"redis unreachable ({redis['last_error']}): live data not published "
                f"({self.bus.dropped} bus messages dropped); collecting and storing go on, "
                "the Kiwoom token and rate limit are kept locally"
            )
        db_ok = self.db_reachable()
        if not db_ok:
            reasons.append("database unreachable (collecting into the journal)")
        if not self.writer.running:
            reasons.append("writer not running")
        elif db_ok and self.writer.stats.db_ok:
            stall = self.writer_stall_s()
            if stall >= self.settings.hub_writer_stall_s:
                backlog = self.journal.stats().backlog_bytes
                reasons.append(
                    f"writer stalled: {backlog} journal bytes not moving for {stall:.0f} s"
                )
        if self.collecting and self.ws_state != "ready":
            reasons.append(f"websocket {self.ws_state}")
        if not self.collecting and self.schedule.mode == "always" and self._connect:
            reasons.append("not collecting")
        return reasons

    def redis_status(self) -> dict[str, Any]:
        """Whether Redis (bus, shared token, shared rate limit) is in use or bypassed."""
        parts: dict[str, tuple[bool, str | None]] = {}
        bus = self.bus
        if isinstance(bus, RedisBus):
            parts["bus"] = (bus.ok, bus.last_error)
        client = self._client
        if client is not None:
            for name, obj in (("token", client.token_cache), ("rate", client.rate_limiter)):
                if isinstance(obj, FallbackTokenCache | FallbackRateLimiter):
                    parts[name] = (obj.ok, obj.last_error)
        errors = [err for ok, err in parts.values() if not ok and err]
        return {
            "configured": bool(self.settings.redis_url),
            "ok": all(ok for ok, _ in parts.values()),
            "bus_ok": parts.get("bus", (True, None))[0],
            "token_cache_ok": parts.get("token", (True, None))[0],
            "rate_limiter_ok": parts.get("rate", (True, None))[0],
            "last_error": errors[0] if errors else None,
            "bus_dropped": bus.dropped,
        }

    def _journal_status(self, js: JournalStats) -> dict[str, Any]:
        sp = self.spool.status()
        return {
            "state": sp.state,
            "last_error": sp.last_error,
            "since": None if sp.since is None else _iso(sp.since),
            "waiting_records": sp.waiting_records,
            "waiting_bytes": sp.waiting_bytes,
            "max_waiting_bytes": sp.max_bytes,
            "append_failures": sp.append_failures,
            "refused_records": sp.refused_records,
            "write_errors": js.write_errors,
            "fsync_errors": js.fsync_errors,
            "skipped_bytes": js.skipped_bytes,
            "segments": js.segments,
            "writer_stall_s": round(self.writer_stall_s(), 1),
        }

    def _writer_status(self) -> dict[str, Any]:
        """Where the writer runs, whether it runs, and the memory of both processes."""
        w = self.writer
        out: dict[str, Any] = {
            "mode": "thread",
            "running": w.running,
            "pid": None,
            "batches": w.stats.batches,
            "hub_peak_rss_mb": round(memory_kib() / 1024, 1),  # VmHWM
            "writer_peak_rss_mb": None,
        }
        if isinstance(w, WriterProcess):
            out.update(
                mode="process", pid=w.pid, writer_peak_rss_mb=round(w.peak_rss_kib / 1024, 1)
            )
        return out

    def ticks_per_s(self) -> float:
        r = self._rate
        if len(r) < 2:
            return 0.0
        t0, n0 = r[max(0, len(r) - 11)]
        t1, n1 = r[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def tick_count_today(self, today: date) -> int | None:
        """Trades stored for ``today`` (KST): kept exact by the writer, which counts the
        day once and adds each commit's new rows; None until it could count (database
        away since start)."""
        w = self.writer.stats
        if w.day == today.toordinal():
            return w.day_count
        return 0 if w.day is not None and w.day > today.toordinal() else None

    def db_size_bytes(self) -> int | None:
        at, size = self._db_size
        if self.clock() - at < 10:
            return size
        try:
            if is_mysql(self.engine):
                with self.engine.connect() as conn:
                    size = int(
                        conn.exec_driver_sql(
                            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
                            "information_schema.tables WHERE table_schema = DATABASE()"
                        ).scalar()
                        or 0
                    )
            else:
                db = self.engine.url.database
                import os

                size = os.path.getsize(db) if db and os.path.exists(db) else None
        except Exception:
            size = None
        self._db_size = (self.clock(), size)
        return size

    def db_reachable(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    def stock_health(self, st: StockState, now_epoch: float, expected: bool) -> str:
        """``vi`` (in a volatility interruption: silence expected), ``no_data``, ``ok``
        (a tick within ``hub_stale_after_s``), else ``stale`` when ticks are expected now
        (continuous session, socket ready) or ``quiet``."""
        if self.vi.active(st.code, now_epoch):
            return "vi"
        if st.last_tick_at is None:
            return "no_data"
        age = now_epoch - st.last_tick_at
        if age <= self.settings.hub_stale_after_s:
            return "ok"
        return "stale" if expected else "quiet"

    def status(self) -> dict[str, Any]:
        now_epoch = self.clock()
        now = datetime.fromtimestamp(now_epoch, KST)
        expected = self.schedule.ticks_expected(now) and self.ws_state == "ready"
        codes = self.collected_codes()
        stocks = []
        for code in codes:
            st = self.stocks.get(code) or StockState(code)
            age = None if st.last_tick_at is None else round(now_epoch - st.last_tick_at, 3)
            stocks.append(
                {
                    "code": code,
                    "name": st.name,
                    "last_price": st.last_price,
                    "ticks_today": st.ticks_today,
                    "last_tick_age_s": age,
                    "health": self.stock_health(st, now_epoch, expected),
                    "vi": None if (vi := self.vi.get(code)) is None else vi.as_dict(),
                    "rank": self.ranks.get(code),
                    "watchlist": code in self.watchlist,
                    "interest": self.interest.holds(code),
                }
            )
        js = self.journal.stats()
        ws = self.ws
        token_exp = None
        if self._client is not None:
            token_exp = self._client.token_expires_at()
        wstats = ws.stats if ws is not None else None
        w = self.writer.stats
        uptime_s = now_epoch - self.started_at
        db_size = self.db_size_bytes()
        reasons = self.health_reasons()
        return {
            "uptime": human_duration(uptime_s),
            "uptime_s": round(uptime_s, 1),
            "health": {"ok": not reasons, "reasons": reasons},
            "collecting": self.collecting,
            "schedule": self.schedule.mode,
            "market_phase": self.schedule.phase(now),
            "ws_state": self.ws_state,
            "tick_count_today": self.tick_count_today(now.date()),
            "ticks_received": self.ticks_received,
            "ticks_written": w.ticks_written,
            "ticks_per_s": round(self.ticks_per_s(), 1),
            "db_ok": w.db_ok,
            "db_last_error": w.last_error,
            "db_size": None if db_size is None else human_bytes(db_size),
            "db_size_bytes": db_size,
            "journal_backlog_bytes": js.backlog_bytes,
            "journal": self._journal_status(js),
            "ticks_refused": self.ticks_refused,
            "flush_lag_s": round(self.writer.flush_lag_s(), 3),
            "writer": self._writer_status(),
            "reconnects": wstats.reconnects if wstats else 0,
            "watchdog_timeouts": wstats.watchdog_timeouts if wstats else 0,
            "dropped_items": dict(wstats.dropped_items) if wstats else {},
            "bus_dropped": self.bus.dropped,
            "malformed": self.malformed_counts(),
            "rest": self.rest_stats(),
            "stream_gaps": self.stream_gaps,
            "pending_gaps": len(self.pending_gaps),
            "redis": self.redis_status(),
            "backfill": {
                "gaps": self.backfill.gaps,
                "gaps_flagged": self.backfill.gaps_flagged,
                "ticks": self.backfill.ticks,
                "errors": self.backfill.errors,
                "waiting": len(self._anchors),
                "merged": self._anchors.merged,
                "recent": list(self.backfill.recent)[-10:],
            },
            "candles": dict(zip(("rebuilds", "closed"), self.writer.candle_counts(), strict=True)),
            "token_expires_at": token_exp.isoformat() if token_exp else None,
            "token_seconds_left": (
                None if token_exp is None else max(0, int((token_exp - now).total_seconds()))
            ),
            "collecting_count": len(codes),
            "collecting_stocks": codes,
            "stocks": stocks,
            "watchlist": sorted(self.watchlist),
            "interest": self.interest.snapshot(),
            "events": list(self.events)[-100:],
        }


def _has_hole(trades: list[Trade], last_cum: int | None) -> bool:
    """Whether a stock's KRX trades (in order) skip volume after ``last_cum`` (None: the
    first one starts the count): each trade's cumulative volume must be the previous
    one's plus its own quantity."""
    for t in trades:
        if t.venue == "KRX":
            c = t.cum_volume
            if last_cum is None:
                last_cum = c
                continue
            v = t.volume
            if c - (v if v >= 0 else -v) > last_cum:
                return True
            if c > last_cum:
                last_cum = c
    return False


def _writer_in_process(mode: str, engine: sa.Engine, clock: Callable[[], float]) -> bool:
    """``HUB_WRITER_PROCESS``: ``on``/``off``, or ``auto`` = a child process on MySQL/MariaDB
    (the production path, where the writer's CPU matters) with the real clock; a thread on
    SQLite (one file, no gain) and under an injected test clock (the child has its own)."""
    if mode in ("on", "off"):
        return mode == "on"
    return engine.url.get_backend_name() in ("mysql", "mariadb") and clock is time.time


def human_duration(seconds: float) -> str:
    """``"2시간 3분"`` / ``"5분 12초"`` / ``"40초"`` (the plan's ``uptime`` field)."""
    s = max(0, int(seconds))
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    if h:
        return f"{h}시간 {m}분"
    return f"{m}분 {sec}초" if m else f"{sec}초"


def human_bytes(n: int) -> str:
    """``"1.2 GB"`` (the plan's ``db_size`` field; 1024-based, like ``du -h``)."""
    x = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if x < 1024:
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return f"{x:.1f} TB"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, KST).isoformat()


def _book_event(b: OrderBook) -> dict[str, Any]:
    return {
        "code": b.code,
        "venue": str(b.venue),
        "time": b.time.isoformat(),
        "asks": b.asks,
        "bids": b.bids,
        "total_ask": b.total_ask,
        "total_bid": b.total_bid,
    }


def _order_event(ev: OrderEvent | BalanceEvent) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(ev)
    d["kind"] = "order" if isinstance(ev, OrderEvent) else "balance"
    for k, v in list(d.items()):
        if isinstance(v, datetime):
            d[k] = v.isoformat()
        elif not isinstance(v, (str, int, type(None))):
            d[k] = str(v)
    return d
