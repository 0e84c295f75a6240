"""The gap tracker: where each stock's stored history has a hole, until a walk fills it.

A gap opens when ticks stop reaching the journal — a disconnect or a suspended journal
(:meth:`GapTracker.mark_all`), a restart (the previous process's last kept trade, seeded
when the stock is subscribed: :meth:`GapTracker.seed`), or a hole in the live stream (a
trade whose cumulative volume jumps: :meth:`GapTracker.stream_hole`). Its life:

1. **await first** — the gap's start (the last kept trade) waits for the stock's first
   live KRX trade (:attr:`GapTracker.await_first`);
2. **following** — that trade came: the walk waits for :data:`FOLLOW_TRADES` more live
   trades, or :data:`FOLLOW_WAIT_S` (:attr:`GapTracker.following`), which pin the anchor's
   row among chart rows with the same (second, price, qty);
3. **queued** — handed to the backfill worker (:attr:`GapTracker.queue`, one waiting walk
   per stock: :mod:`gslts_hub.gap_queue`); a stock that stays silent after the reconnect
   is queued for a forward walk instead (:meth:`GapTracker.queue_forward_walks`);
4. **retried** — a walk that failed is queued again later, a few times
   (:meth:`GapTracker.retry`, :meth:`GapTracker.queue_retries`).

From the moment it opens until its walk is done a gap is also **pending on disk**
(:class:`~gslts_hub.pending_gaps.PendingGaps`): a restart, even ``kill -9``, walks it again.

Threads: the socket thread pops :attr:`~GapTracker.await_first` and adds to
:attr:`~GapTracker.following` (:mod:`gslts_hub.ingest` holds both dicts: they are never
rebound), the control loop queues forward walks, followed gaps and retries, the backfill
worker takes from the queue. Every time comes from the injected clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from gslts_hub.backfill import LiveAnchor, StoredAnchor
from gslts_hub.gap_queue import Gap, GapQueue
from gslts_hub.journal import Journal
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
    decode_record,
)
from gslts_hub.stocks import StockState
from gslts_kiwoom.realtime import KST, Trade

log = logging.getLogger(__name__)

#: a gap's backward walk waits for this many live trades after the first one, or this long
FOLLOW_TRADES = 5
FOLLOW_WAIT_S = 1.0
#: a failed gap walk is tried again after BACKFILL_RETRY_S × attempt, this many times
BACKFILL_ATTEMPTS = 3
BACKFILL_RETRY_S = 10.0

#: a gap whose first live trade came: (last stored, first live, [(time, price, qty)…] of
#: the live trades after it, since when (epoch s))
Following = tuple[StoredAnchor, LiveAnchor, list[tuple[datetime, int, int]], float]


class GapTracker:
    """Each stock's open gap, from its start to the walk that fills it.

    Args:
        stocks: the per-stock live state (shared with the socket thread).
        pending: the open gaps on disk.
        enabled: ``HUB_BACKFILL``: False = gaps are neither seeded nor kept on disk.
        forward_after_s: a stock silent this long after the (re)connect is walked forward
            (0 = never).
        clock: epoch seconds (the hub's clock).
        event: ``(kind, message)`` for the monitoring page.
    """

    def __init__(
        self,
        stocks: dict[str, StockState],
        pending: PendingGaps,
        *,
        enabled: bool,
        forward_after_s: float,
        clock: Callable[[], float],
        event: Callable[[str, str], None],
    ) -> None:
        self.stocks = stocks
        self.pending = pending
        self.enabled = enabled
        self.forward_after_s = forward_after_s
        self._clock = clock
        self._event = event
        #: stocks whose stored history has a gap: last stored trade, since when (epoch s)
        self.await_first: dict[str, tuple[StoredAnchor, float]] = {}
        #: gaps whose first live trade came, collecting the live trades that follow it
        self.following: dict[str, Following] = {}
        #: where each stock's history ended when the previous process stopped (at start)
        self.restart_anchors: dict[str, StoredAnchor] = {}
        #: gaps to walk: (code, last stored trade, first live trade or None = forward)
        self.queue = GapQueue()
        #: holes found in the live stream (a forward jump of the cumulative volume)
        self.stream_gaps = 0
        #: failed walks waiting for another attempt: (due epoch, attempt, gap)
        self._retry: list[tuple[float, int, Gap]] = []
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ start
    def restart(self, stored: dict[str, StoredAnchor], journal: Journal) -> None:
        """Where each stock's history ended when the previous process stopped: the later
        of ``stored`` (the database's last KRX trade of today) and the journal backlog
        (received, not yet written; the writer replays it concurrently), and before both
        a gap that process left open on disk. Called once at start, before any live tick
        exists, so the anchor can neither be a tick of this process (which would hide the
        gap) nor miss the backlog (which would lengthen the ka10079 walk)."""
        today = datetime.fromtimestamp(self._clock(), KST).date()
        anchors = dict(stored)
        for code, a in self._backlog_anchors(journal, today).items():
            cur = anchors.get(code)
            if cur is None or a.cum_volume > cur.cum_volume:
                anchors[code] = a
        self.restart_anchors = self._merge_pending(anchors, today)

    def _backlog_anchors(self, journal: Journal, today: date) -> dict[str, StoredAnchor]:
        """Each stock's journaled KRX trade of ``today`` with the largest cumulative volume,
        among the records the writer has not committed yet."""
        ordinal = today.toordinal()
        pos = journal.committed_position
        end = journal.end_position
        backlog = end - pos
        if backlog > 64 * 1024 * 1024:
            mb = backlog / 2**20
            self._event("start", f"reading {mb:.0f} MB of journal backlog for gap anchors")
        best: dict[str, list[Any]] = {}  # code → its journaled tick array with the largest cum
        next_report = time.monotonic() + 5.0
        while pos < end:
            start = pos
            for after, payload in journal.read(start, max_records=10_000):
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
        return {
            code: StoredAnchor(
                datetime.fromtimestamp(a[T_TIME], KST),
                int(a[T_PRICE]),
                abs(int(a[T_VOLUME])),
                int(a[T_CUM]),
                int(a[T_CUM_VALUE]),
            )
            for code, a in best.items()
        }

    def _merge_pending(
        self, anchors: dict[str, StoredAnchor], today: date
    ) -> dict[str, StoredAnchor]:
        """A gap the previous process opened and never filled starts *before* the newest
        stored trade (live trades after it were stored): its anchor wins, so the restart's
        walk covers the old gap too (trades stored in between are no-ops by the key)."""
        older = 0
        for code, a in self.pending.for_day(today).items():
            cur = anchors.get(code)
            if cur is None or a.cum_volume < cur.cum_volume:
                anchors[code] = a
                older += 1
        if older:
            self._event("backfill", f"{older} gaps left open by the previous process: refilling")
        return anchors

    # ------------------------------------------------------------------ opening gaps
    def seed(self, codes: Iterable[str]) -> list[str]:
        """Before a stock is subscribed after a restart: its stored history ends where the
        old process died; make that the gap start, so its first live tick queues a walk
        (ka10079). Returns the codes seeded (call *before* REG: the first live frame can
        arrive while the subscribe still waits for its ack)."""
        if not self.enabled:
            return []
        now = self._clock()
        today = datetime.fromtimestamp(now, KST).date()
        seeded: list[str] = []
        opened: dict[str, StoredAnchor] = {}
        for code in codes:
            stored = self.restart_anchors.pop(code, None)
            if (
                stored is None
                or stored.time.date() != today  # a later day starts from cum 0: no gap
                or self.stocks[code].last_cum is not None  # this process already has it
                or code in self.await_first
            ):
                continue
            self.await_first[code] = (stored, now)
            seeded.append(code)
            opened[code] = stored
            log.info(
                "backfill_anchor_seeded code=%s cum=%d time=%s",
                code,
                stored.cum_volume,
                stored.time.isoformat(),
            )
        self._open(opened)
        return seeded

    def unseed(self, codes: Iterable[str]) -> None:
        """The subscribe of seeded ``codes`` failed (nothing was registered): keep their
        anchors for a later attempt."""
        for c in codes:
            pending = self.await_first.pop(c, None)
            if pending is not None:
                self.restart_anchors.setdefault(c, pending[0])

    def mark_all(self, now: float) -> None:
        """Ticks stop reaching the journal (a disconnect, a suspended journal): each
        stock's gap starts at its last kept trade, and its next live trade (or the forward
        walk) fills it from ka10079."""
        self.flush_following(now, all_=True)
        opened: dict[str, StoredAnchor] = {}
        for st in list(self.stocks.values()):
            if (
                st.last_cum is not None
                and st.last_trade_time is not None
                and st.code not in self.await_first
            ):
                stored = StoredAnchor(
                    st.last_trade_time,
                    st.last_krx_price,
                    st.last_qty,
                    st.last_cum,
                    st.last_cum_value,
                )
                self.await_first[st.code] = (stored, now)
                opened[st.code] = stored
        self._open(opened)

    def stream_hole(
        self, st: StockState, last_cum: int, last_time: datetime, t: Trade, qty: int, now: float
    ) -> tuple[StoredAnchor, float]:
        """``t`` (of quantity ``qty``) came after a hole in ``st``'s live stream (its
        cumulative volume jumped past ``last_cum``, of the trade at ``last_time``): a gap
        from that trade. Returns it as an awaited first trade would be (the socket thread
        follows it)."""
        stored = StoredAnchor(
            last_time, st.last_krx_price, st.last_qty, last_cum, st.last_cum_value
        )
        self.stream_gaps += 1
        self._open({t.code: stored})
        log.info(
            "stream_gap code=%s after_cum=%d live_cum=%d missing_shares=%d",
            t.code,
            last_cum,
            t.cum_volume,
            t.cum_volume - qty - last_cum,
        )
        return stored, now

    def _open(self, anchors: dict[str, StoredAnchor]) -> None:
        if anchors and self.enabled:
            self.pending.open_many(anchors)

    # ------------------------------------------------------------------ to the walk
    def follow(self, code: str, stored: StoredAnchor, anchor: LiveAnchor, now: float) -> None:
        """The gap's first live trade came: collect the live trades after it."""
        self.following[code] = (stored, anchor, [], now)

    def release(self, code: str) -> None:
        """Hand a gap whose first live trade (and the ones that followed) is known to the
        backfill worker (once: whoever pops it queues it)."""
        entry = self.following.pop(code, None)
        if entry is not None:
            stored, anchor, after, _since = entry
            self.queue.put((code, stored, replace(anchor, after=tuple(after))))

    def flush_following(self, now: float, *, all_: bool = False) -> None:
        """Gaps still collecting following trades for :data:`FOLLOW_WAIT_S` (or all of
        them): go with what came."""
        for code, entry in list(self.following.items()):
            if all_ or now - entry[3] >= FOLLOW_WAIT_S:
                self.release(code)

    def queue_forward_walks(self, now: float, ready_since: float | None) -> None:
        """Gaps of stocks that stayed silent ``forward_after_s`` after the (re)connect (the
        socket ready since ``ready_since``; None = not ready) are filled forward from the
        last stored trade: their next live tick may never come today. Whoever pops a stock
        first (this or its live tick) fills it."""
        after = self.forward_after_s
        if after <= 0 or ready_since is None or now - ready_since < after:
            return
        for code, (_, since) in list(self.await_first.items()):
            if now - since >= after:
                pending = self.await_first.pop(code, None)
                if pending is not None:
                    self.queue.put((code, pending[0], None))

    def retry(self, gap: Gap) -> None:
        """A walk that failed (REST refused, rate limited, …) is tried again later, a few
        times; after that the gap stays open on disk and the next start walks it."""
        code, stored, _live = gap
        key = f"{code}:{stored.cum_volume}"
        attempt = self._attempts.get(key, 0) + 1
        if attempt > BACKFILL_ATTEMPTS:
            self._attempts.pop(key, None)
            self._event(
                "backfill",
                f"{code}: gap after cum {stored.cum_volume} not filled after "
                f"{BACKFILL_ATTEMPTS} attempts; kept open for the next start",
            )
            return
        self._attempts[key] = attempt
        with self._lock:
            self._retry.append((self._clock() + BACKFILL_RETRY_S * attempt, attempt, gap))

    def queue_retries(self, now: float) -> None:
        """Queue the failed walks whose next attempt is due."""
        with self._lock:
            due = [r for r in self._retry if r[0] <= now]
            self._retry = [r for r in self._retry if r[0] > now]
        for _, _, gap in due:
            self.queue.put(gap)

    def done(self, code: str, stored: StoredAnchor, upto: int | None = None) -> None:
        """The walk of the gap after ``stored`` up to the cumulative volume ``upto`` is
        done (stored in the journal, nothing was missing, or flagged: walking again gives
        the same): it and every gap it covered are no longer open on disk, and its failed
        attempts are forgotten. A gap opened while it ran (from ``upto`` on) stays open."""
        self.pending.close(code, stored, upto)
        self._attempts.pop(f"{code}:{stored.cum_volume}", None)

    def end_session(self) -> None:
        """The scheduled stop is deliberate, not a gap: forget the session's awaited gaps
        (tomorrow's first tick is another day's cumulative volume)."""
        self.await_first.clear()
