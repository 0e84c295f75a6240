"""The backfill thread: walks each queued gap through ka10079 and journals what it finds.

It takes gaps from the tracker's queue (:class:`~gslts_hub.gaps.GapTracker`), one walk at a
time: backward from the gap's first live trade (:func:`~gslts_hub.backfill.reconstruct_gap`)
or, for a stock that stayed silent, forward from its last stored trade
(:func:`~gslts_hub.backfill.walk_forward`). The trades found go through the journal spool
like live ones (so they survive a crash and reach the database through the writer) and
onto the bus once. A walk that fails is handed back to the tracker for a retry; a walk that
is done closes its gap on disk. While the journal cannot take records the worker waits.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from gslts_common.bus import InProcessBus, tick_batches
from gslts_hub.backfill import (
    GapResult,
    LiveAnchor,
    StoredAnchor,
    fetch_tick_chart,
    reconstruct_gap,
    walk_forward,
)
from gslts_hub.errors import HubError
from gslts_hub.gaps import GapTracker
from gslts_hub.repository import HubRepository
from gslts_hub.rows import encode_record
from gslts_hub.spool import JournalSpool
from gslts_kiwoom import KiwoomClient, KiwoomError
from gslts_kiwoom.realtime import KST

log = logging.getLogger(__name__)

#: a gap fill is journaled in records of at most this many trades
BACKFILL_RECORD_TRADES = 2000


@dataclass
class BackfillStats:
    """What the walks did (``/api/status`` ``backfill``, ``/metrics``)."""

    gaps: int = 0
    gaps_flagged: int = 0
    ticks: int = 0
    errors: int = 0
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=50))


class BackfillWorker:
    """Fills the tracker's gaps from ka10079 into the journal.

    Args:
        gaps: the gap tracker (its queue, retries and gaps on disk).
        client: the Kiwoom REST client (made on first use: a callable).
        repo: the stored trades of a second (a walk's check).
        spool: the journal's front (the walk's trades are journaled like live ones).
        bus: every stored trade is published once.
        enabled: ``HUB_BACKFILL`` (False: queued gaps are dropped unwalked).
        clock: epoch seconds (the hub's clock).
        event: ``(kind, message)`` for the monitoring page.
    """

    def __init__(
        self,
        gaps: GapTracker,
        *,
        client: Callable[[], KiwoomClient],
        repo: HubRepository,
        spool: JournalSpool,
        bus: InProcessBus,
        enabled: bool,
        clock: Callable[[], float],
        event: Callable[[str, str], None],
    ) -> None:
        self.gaps = gaps
        self._client = client
        self._repo = repo
        self._spool = spool
        self._bus = bus
        self.enabled = enabled
        self._clock = clock
        self._event = event
        self.stats = BackfillStats()

    def run(self, stop: threading.Event) -> None:
        """The thread's loop until ``stop``: one event per burst of walks (a reconnect),
        not one per stock."""
        done = filled = flagged = failed = 0
        q = self.gaps.queue
        while not stop.is_set():
            try:
                code, stored, live = q.get(timeout=0.5)
            except queue.Empty:
                if done:
                    self._event(
                        "backfill",
                        f"{done} stocks checked: {filled} trades filled, "
                        f"{flagged} gaps flagged, {failed} failed",
                    )
                    done = filled = flagged = failed = 0
                continue
            if not self.enabled:
                continue
            if self._spool.state != "ok":  # the journal cannot take it yet: wait
                q.put((code, stored, live))
                stop.wait(1.0)
                continue
            done += 1
            before = self.stats.gaps_flagged
            try:
                if live is None:
                    added, upto = self._forward(code, stored)
                else:
                    added = self.walk_gap(code, stored.cum_volume, stored.time, live, stored=stored)
                    upto = live.cum_volume  # the walk ends at the gap's first live trade
                filled += added
            except Exception as exc:
                failed += 1
                self.stats.errors += 1
                log.warning("backfill_failed code=%s error=%s", code, type(exc).__name__)
                self.gaps.retry((code, stored, live))
            else:
                # stored in the journal (or nothing was missing): the gap is closed; a
                # flagged walk is closed too (recorded as such; walking again gives the same)
                self.gaps.done(code, stored, upto)
            flagged += self.stats.gaps_flagged - before

    def walk_gap(
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
        rows = fetch_tick_chart(
            self._client(), code, last_time, until=anchor.time, keep_newer=len(anchor.after)
        )
        same = None if stored is None else self._repo.stored_second(code, stored)
        res = reconstruct_gap(rows, anchor, last_cum, stored=stored, same_second=same)
        self.store(code, anchor.time.date(), res)
        return len(res.ticks)

    def walk_forward(self, code: str, last: StoredAnchor) -> int:
        """Fill one silent stock's gap walking forward from its last stored trade (ka10079,
        checked against ka10001's cumulative volume); returns trades added."""
        return self._forward(code, last)[0]

    def _forward(self, code: str, last: StoredAnchor) -> tuple[int, int | None]:
        """:meth:`walk_forward`, and the cumulative volume it stored up to (a gap from a
        trade before that is covered; None: only the gap after ``last``)."""
        client = self._client()
        close_cum: int | None = None
        try:
            close_cum = int(client.get_quote(code).volume)  # before the chart: ≤ its end
        except KiwoomError as exc:
            log.info("backfill_forward_no_quote code=%s error=%s", code, type(exc).__name__)
        if close_cum == last.cum_volume:
            return 0, None  # it has not traded since
        rows = fetch_tick_chart(client, code, last.time)
        res = walk_forward(
            rows, last, same_second=self._repo.stored_second(code, last), close_cum=close_cum
        )
        self.store(code, last.time.date(), res)
        return len(res.ticks), max((t.cum_volume for t in res.ticks), default=None)

    def store(self, code: str, day: date, res: GapResult) -> None:
        """Journal a walk's trades (source ``backfill``), publish them, count the walk;
        raises :class:`~gslts_hub.errors.HubError` when the journal refused them."""
        b = self.stats
        b.gaps += 1
        if not res.consistent:
            b.gaps_flagged += 1
            log.warning("backfill_gap_flagged code=%s %s", code, res.detail)
        now = self._clock()
        ordinal = day.toordinal()
        # records (and bus messages) of a bounded size, built one at a time: a long walk
        # (a flood's hole: 100k+ trades) as one record, or all its rows built at once, was
        # a peak of ~100 MB in the hub (and the writer) that the heap kept afterwards
        for i in range(0, len(res.ticks), BACKFILL_RECORD_TRADES):
            chunk = [
                [code, "KRX", ordinal, t.cum_volume, t.time.timestamp(), t.price, t.qty,
                 t.cum_value, None, None, None, None, None]
                for t in res.ticks[i : i + BACKFILL_RECORD_TRADES]
            ]  # fmt: skip
            if not self._spool.append(encode_record(now, chunk, source="backfill")):
                raise HubError("journal suspended: the gap fill was not kept")
            b.ticks += len(chunk)
            for c, event in tick_batches(chunk, "backfill").items():
                self._bus.publish_ticks(c, event)  # every stored trade reaches the bus once
        b.recent.append(
            {
                "code": code,
                "ticks": len(res.ticks),
                "consistent": res.consistent,
                "detail": res.detail,
                "time": datetime.fromtimestamp(now, KST).isoformat(),
            }
        )
        log.info(
            "backfill_gap code=%s ticks=%d consistent=%s", code, len(res.ticks), res.consistent
        )
