"""Chart pages: stored bars folded to the interval, the forming bar from the day's ticks,
and history backfilled from Kiwoom (ka10080 minutes, ka10081 days) when the store runs out.

How a page is built (newest first, then reversed):

1. Intraday intervals fold the stored 1-minute bars (the hub writes them from the ticks
   it records) into buckets aligned on KST midnight (= on the 09:00 session start, see
   :mod:`gslts_backend.charts.aggregate`). On the first page (no ``before``) the minutes
   from the newest stored bar on are rebuilt from ``tick_data``, so the forming bar holds
   every trade committed so far, also those of the hub's next flush.
2. ``1d`` is the stored daily bars; the newest day that has 1-minute bars (the session
   being recorded) is folded from them instead, so today moves with the ticks. ``1w``
   folds the days by Monday-based week (only trading days have bars).
3. When the stored bars end before the page is full, the next older page of Kiwoom's
   history is fetched, stored (upsert, idempotent) and the fold goes on, so the next
   request is local. Only bars strictly older than the oldest stored bar are stored: a
   bar recorded from our own ticks is never replaced by Kiwoom's. The start of Kiwoom's
   history is remembered per stock (in memory), so paging onto it costs one call per
   process, not one per request.

Known limit: a hole in the middle of the stored minutes (the hub was down for a while) is
not backfilled; only the old end of the history is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Connection

from gslts_backend.charts import repository as repo
from gslts_backend.charts.aggregate import (
    MINUTES,
    OHLCV,
    DescendingFolder,
    as_date,
    as_int,
    bucket_of,
    ceil_bucket,
    chart_time,
    from_wall_seconds,
    monday_of,
    utc_now,
    wall_seconds,
)
from gslts_backend.services import Services
from gslts_common.errors import (
    AppError,
    BadGateway,
    NotFound,
    TooManyRequests,
    Unavailable,
)
from gslts_db import CandleRow
from gslts_kiwoom import APIError, KiwoomError, RateLimitError, TransportError, krx
from gslts_kiwoom.krx import KST

log = logging.getLogger(__name__)

#: stored bars read per round of a fold
CHUNK = 2000
#: Kiwoom pages fetched at most for one chart request (the rest on the next scroll)
MAX_BACKFILL_PAGES = 6
#: ka10080 labels a minute bar with its end (``cntr_tm`` 132000 = the 13:19 bar; the
#: simulator does so and PROTOCOL §4.4 hints it): its start is one minute earlier
MINUTE_LABEL_IS_END = True
#: Kiwoom's answer to a code it does not know (1902) or not on that venue (1903)
_UNKNOWN_STOCK = ("1902", "1903")
#: the remembered start of a stock's history when Kiwoom has none at all
NO_HISTORY = datetime(9999, 12, 31, tzinfo=KST)


@dataclass(frozen=True, slots=True)
class Bar:
    time: int | str
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(frozen=True, slots=True)
class Page:
    bars: list[Bar]  # oldest first
    next_before: int | str | None


def kiwoom_error(exc: KiwoomError, what: str) -> AppError:
    """The one error shape for a failed Kiwoom call (messages are already masked)."""
    if isinstance(exc, APIError) and exc.detail_code in _UNKNOWN_STOCK:
        return NotFound(
            "unknown stock code", field="code", detail_ko="존재하지 않는 종목코드입니다"
        )
    code = None
    if isinstance(exc, APIError):
        code = exc.detail_code or (str(exc.return_code) if exc.return_code is not None else None)
    if isinstance(exc, RateLimitError):
        return TooManyRequests(f"{what}: Kiwoom rate limit, try again", kiwoom_code=code)
    if isinstance(exc, TransportError):
        return Unavailable(f"{what}: Kiwoom unreachable ({type(exc).__name__})")
    if isinstance(exc, APIError):
        return BadGateway(f"{what}: Kiwoom refused: {exc.server_message}"[:300], kiwoom_code=code)
    return BadGateway(f"{what}: Kiwoom call failed ({type(exc).__name__})")


class ChartService:
    """Chart pages of one app (one per :class:`Services`)."""

    def __init__(self, svc: Services, today: Callable[[], date] | None = None) -> None:
        self.svc = svc
        self._today = today or (lambda: utc_now().astimezone(KST).date())
        self._lock = threading.Lock()
        #: (code, "1m"|"1d") → the oldest bar Kiwoom has (nothing older exists)
        self._history_start: dict[tuple[str, str], datetime] = {}
        #: (code, reference day) whose newest daily bars were fetched this process
        self._daily_fresh: set[tuple[str, date]] = set()

    # ------------------------------------------------------------------ entry point
    def page(self, code: str, interval: str, before: int | date | None, limit: int) -> Page:
        with self.svc.engine.connect() as conn:
            if repo.stock_status(conn, code) is False:
                raise NotFound(
                    "unknown stock code", field="code", detail_ko="존재하지 않는 종목코드입니다"
                )
            if interval in MINUTES:
                if isinstance(before, date):
                    raise TypeError("an intraday before is wall seconds")
                return self._intraday(conn, code, MINUTES[interval], before, limit)
            if isinstance(before, int):
                raise TypeError("a daily before is a date")
            return self._days(conn, code, weekly=interval == "1w", before=before, limit=limit)

    # ------------------------------------------------------------------ intraday
    def _forming(self, conn: Connection, code: str) -> tuple[list[OHLCV], datetime | None]:
        """The minutes from the newest stored one on, rebuilt from ``tick_data`` (newest
        first; the stored newest minute kept as stored when none of its trades are in
        ``tick_data``), and where the stored bars to use below them end (exclusive)."""
        newest = repo.newest_bar(conn, code, "1m")
        today = self._today()
        days: list[tuple[date, datetime]] = []
        if newest is not None:
            days.append((newest.astimezone(KST).date(), newest))
        if newest is None or newest.astimezone(KST).date() < today:
            days.append((today, repo.day_start(today)))
        minutes: dict[int, OHLCV] = {}
        for day, since in days:
            for t in repo.ticks_since(conn, code, day, since):
                m = bucket_of(wall_seconds(t.trade_time), 1)
                bar = minutes.get(m)
                if bar is None:
                    minutes[m] = OHLCV(m, t.price, t.price, t.price, t.price, t.qty)
                else:
                    bar.add_newer(t.price, t.price, t.price, t.qty)
        if newest is not None and wall_seconds(newest) not in minutes and minutes:
            kept = repo.bars_between(conn, code, "1m", newest, newest + timedelta(minutes=1))
            for r in kept:
                w = wall_seconds(r.start)
                minutes[w] = OHLCV(w, r.open, r.high, r.low, r.close, r.volume)
        bars = [minutes[k] for k in sorted(minutes, reverse=True)]
        if not bars:
            return [], None
        return bars, newest if newest is not None else from_wall_seconds(as_int(bars[-1].key))

    def _intraday(
        self, conn: Connection, code: str, n: int, before: int | None, limit: int
    ) -> Page:
        folder = DescendingFolder(limit)
        upper: datetime | None = None
        if before is None:
            forming, upper = self._forming(conn, code)
            for b in forming:
                folder.add(bucket_of(as_int(b.key), n), b.open, b.high, b.low, b.close, b.volume)
        else:
            upper = from_wall_seconds(ceil_bucket(before, n))
        pages = 0
        capped = False
        # a page of ``limit`` bars needs at most limit × n minutes (+1 to see there is more)
        chunk = min(CHUNK, limit * n + 1)
        while not folder.more:
            rows = repo.bars_desc(conn, code, "1m", upper, chunk)
            for r in rows:
                w = bucket_of(wall_seconds(r.start), n)
                if not folder.add(w, r.open, r.high, r.low, r.close, r.volume):
                    break
            if folder.more:
                break
            if rows:
                upper = rows[-1].start
            if len(rows) == chunk:
                chunk = CHUNK
                continue
            if pages == MAX_BACKFILL_PAGES:
                capped = True
                break
            pages += 1
            # backfill only next to the oldest stored bar, so the stored history has no hole
            edge = rows[-1].start if rows else repo.oldest_bar(conn, code, "1m")
            if not self._backfill_minutes(conn, code, edge):
                break
        return _finish(folder, capped, chart_time, before)

    def _backfill_minutes(self, conn: Connection, code: str, boundary: datetime | None) -> int:
        """Store Kiwoom's 1-minute bars older than ``boundary`` (one page); 0 at the start
        of its history."""
        key = (code, "1m")
        start = self._history_start.get(key)
        if start is not None and (boundary is None or boundary <= start):
            return 0
        today = self._today()
        base = None if boundary is None else min(boundary.astimezone(KST).date(), today)
        rows: list[CandleRow] = []
        for attempt in range(2):
            try:
                got = self.svc.kiwoom().get_minute_chart(code, 1, base, max_pages=1)
            except KiwoomError as exc:
                raise kiwoom_error(exc, "minute chart (ka10080)") from exc
            shift = timedelta(minutes=1 if MINUTE_LABEL_IS_END else 0)
            # a bar still forming (its minute not over) is left to the next request
            done = utc_now() - timedelta(minutes=1)
            rows = [
                CandleRow(
                    code, "1m", c.time - shift, c.open, c.high, c.low, c.close, c.volume, 0, 0
                )
                for c in got
                if (boundary is None or c.time - shift < boundary) and c.time - shift <= done
            ]
            log.info(
                "chart_backfill api=ka10080 code=%s base=%s got=%d stored=%d",
                code,
                base,
                len(got),
                len(rows),
            )
            if rows or not got or base is None or attempt:
                break
            base -= timedelta(days=1)  # the page was all newer than the boundary's minute
        if not rows:
            with self._lock:
                self._history_start[key] = boundary or NO_HISTORY
            return 0
        with self.svc.engine.begin() as wconn:
            repo.store(wconn, rows)
        conn.commit()  # a fresh snapshot for the reads that follow (REPEATABLE READ)
        return len(rows)

    # ------------------------------------------------------------------ days and weeks
    def _days(
        self, conn: Connection, code: str, *, weekly: bool, before: date | None, limit: int
    ) -> Page:
        folder = DescendingFolder(limit)
        first_day: dict[date, date] = {}  # week's Monday → its first trading day

        def add(day: date, o: int, h: int, lo: int, c: int, v: int) -> bool:
            key = monday_of(day) if weekly else day
            ok = folder.add(key, o, h, lo, c, v)
            if ok:
                first_day[key] = day  # days come newest first: the last one is the first
            return ok

        upper: date | None = None
        if before is not None:
            upper = monday_of(before) if weekly else before
        else:
            current = self._current_day(conn, code)
            if current is not None:
                day = as_date(current.key)
                add(day, current.open, current.high, current.low, current.close, current.volume)
                upper = day
            self._refresh_daily(conn, code, upper)
        pages = 0
        capped = False
        chunk = min(CHUNK, limit * (5 if weekly else 1) + 1)  # a week has 5 trading days
        while not folder.more:
            bound = None if upper is None else repo.day_start(upper)
            rows = repo.bars_desc(conn, code, "1d", bound, chunk)
            for r in rows:
                day = r.start.astimezone(KST).date()
                if not add(day, r.open, r.high, r.low, r.close, r.volume):
                    break
            if folder.more:
                break
            if rows:
                upper = rows[-1].start.astimezone(KST).date()
            if len(rows) == chunk:
                chunk = CHUNK
                continue
            if pages == MAX_BACKFILL_PAGES:
                capped = True
                break
            pages += 1
            oldest = rows[-1].start if rows else repo.oldest_bar(conn, code, "1d")
            edge = None if oldest is None else oldest.astimezone(KST).date()
            if not self._backfill_days(conn, code, edge, None):
                break
        retry = None if before is None else before.isoformat()
        if weekly:
            return _finish(folder, capped, lambda k: first_day[as_date(k)].isoformat(), retry)
        return _finish(folder, capped, chart_time, retry)

    def _current_day(self, conn: Connection, code: str) -> OHLCV | None:
        """The session being recorded (the newest day with 1-minute bars or ticks), folded
        from its stored minutes and the ticks since (as the intraday first page)."""
        forming, below = self._forming(conn, code)
        newest = from_wall_seconds(as_int(forming[0].key)) if forming else None
        if newest is None:
            newest = repo.newest_bar(conn, code, "1m")
        if newest is None:
            return None
        day = newest.astimezone(KST).date()
        start = repo.day_start(day)
        end = below if below is not None else repo.day_start(day + timedelta(days=1))
        bar: OHLCV | None = None
        parts = [
            (r.open, r.high, r.low, r.close, r.volume)
            for r in repo.bars_between(conn, code, "1m", start, end)
        ]
        parts += [
            (b.open, b.high, b.low, b.close, b.volume)
            for b in reversed(forming)
            if from_wall_seconds(as_int(b.key)).date() == day
        ]
        for o, h, lo, c, v in parts:
            if bar is None:
                bar = OHLCV(day, o, h, lo, c, v)
            else:
                bar.add_newer(h, lo, c, v)
        return bar

    def _refresh_daily(self, conn: Connection, code: str, current: date | None) -> None:
        """Fetch the newest daily bars once per process and reference day when the stored
        ones end before the previous trading day."""
        ref = current or self._today()
        with self._lock:
            if (code, ref) in self._daily_fresh:
                return
        newest = repo.newest_bar(conn, code, "1d")
        if newest is None or newest.astimezone(KST).date() < krx.previous_trading_day(ref):
            self._backfill_days(conn, code, None, current, refresh=True)
        with self._lock:
            self._daily_fresh.add((code, ref))

    def _backfill_days(
        self,
        conn: Connection,
        code: str,
        boundary: date | None,
        current: date | None,
        *,
        refresh: bool = False,
    ) -> int:
        """Store Kiwoom's daily bars before ``boundary`` (one page; newest when None),
        never the recorded day ``current`` or today (still forming)."""
        key = (code, "1d")
        start = self._history_start.get(key)
        if not refresh and start is not None and (boundary is None or boundary <= start.date()):
            return 0
        today = self._today()
        base = today if boundary is None else min(boundary - timedelta(days=1), today)
        try:
            got = self.svc.kiwoom().get_daily_chart(code, base, max_pages=1)
        except KiwoomError as exc:
            raise kiwoom_error(exc, "daily chart (ka10081)") from exc
        stop = min(d for d in (boundary, current, today) if d is not None)
        rows = [
            CandleRow(
                code,
                "1d",
                repo.day_start(c.date),
                c.open,
                c.high,
                c.low,
                c.close,
                c.volume,
                c.trading_value or 0,
                0,
            )
            for c in got
            if c.date < stop
        ]
        log.info(
            "chart_backfill api=ka10081 code=%s base=%s got=%d stored=%d",
            code,
            base,
            len(got),
            len(rows),
        )
        if not rows:
            if not refresh:
                with self._lock:
                    self._history_start[key] = (
                        NO_HISTORY if boundary is None else repo.day_start(boundary)
                    )
            return 0
        with self.svc.engine.begin() as wconn:
            repo.store(wconn, rows)
        conn.commit()
        return len(rows)


def _finish(
    folder: DescendingFolder,
    capped: bool,
    label: Callable[[int | date], int | str],
    before: int | str | None,
) -> Page:
    """The page, oldest first; ``next_before`` is the oldest bar's time when older
    history may exist (``before`` again when the backfill ran out of pages before it
    reached one bar: the next request goes on fetching)."""
    out = folder.out  # newest first
    more = folder.more
    if capped:
        more = True
        if len(out) > 1:
            out.pop()  # the fold stopped inside the oldest bucket: left whole to the next page
    bars = [Bar(label(b.key), b.open, b.high, b.low, b.close, b.volume) for b in reversed(out)]
    if not more:
        return Page(bars, None)
    return Page(bars, bars[0].time if bars else before)
