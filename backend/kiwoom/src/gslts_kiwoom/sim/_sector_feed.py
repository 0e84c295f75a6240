"""The simulator's US sector feed and the matching Korean daily history (the sector link).

One :func:`~gslts_kiwoom.sim.sector_world.make_world` world per simulator, built on first
use over the synthetic daily history (``history_days`` KRX sessions before the start day)
and the NYSE sessions from just before it to a year after the start day:

* ``GET /_sim/us-daily?symbol=&start=&end=`` serves the world's US bars (the linked ETFs
  plus the market factors EWY and SPY) of the sessions that have closed by the
  simulator's clock;
* the synthetic history of every linked stock (ka10081 일봉, ka10080 minutes drawn from
  it, ka10001's 250-day high/low) follows the world's Korean returns, rescaled to end at
  the stock's snapshot close and rounded to the tick grid, so the relation the world
  plants (``SimConfig.sector_world``: ``planted``, ``none`` or ``reversed``) is in what a
  client backfills with ka10081. The live days of a run are the market model's own.

The link pairs come from ``SimConfig.sector_links`` (``gslts sim`` passes the backend's
default map); without links nothing changes.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gslts_kiwoom import krx
from gslts_kiwoom.models import Bar
from gslts_kiwoom.sim.sector_world import MARKET_SYMBOLS, BarTuple, WorldKind, make_world

_NY = ZoneInfo("America/New_York")
#: NYSE sessions generated after the start day
US_DAYS_AHEAD = 400


def nyse_sessions(start: date, end: date) -> list[date]:
    """NYSE sessions (XNYS of ``exchange_calendars``; weekdays outside its range)."""
    import exchange_calendars  # slow import: only when the feed is used

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal: Any = exchange_calendars.get_calendar("XNYS")
    first, last = cal.first_session.date(), cal.last_session.date()
    out: list[date] = []
    if start < first:
        out += _weekdays(start, min(end, first - timedelta(days=1)))
    lo, hi = max(start, first), min(end, last)
    if lo <= hi:
        out += [ts.date() for ts in cal.sessions_in_range(lo.isoformat(), hi.isoformat())]
    if end > last:
        out += _weekdays(max(start, last + timedelta(days=1)), end)
    return out


def _weekdays(start: date, end: date) -> list[date]:
    out: list[date] = []
    d = start
    while d <= end:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def us_close_utc(day: date) -> datetime:
    """16:00 New York on ``day`` (early closes ignored: they close earlier, never later)."""
    return datetime.combine(day, time(16, 0), _NY).astimezone(UTC)


class SectorFeed:
    """The world of one simulator (thread-safe, built once)."""

    def __init__(
        self,
        kind: WorldKind,
        links: tuple[tuple[str, str], ...],
        seed: int,
        kr_days: Callable[[], list[date]],
        start_day: date,
    ) -> None:
        self.kind = kind
        self.links = links
        self.seed = seed
        self.kr_days = kr_days
        self.start_day = start_day
        self.codes = frozenset(kr for _, kr in links)
        self.symbols = tuple(dict.fromkeys([*MARKET_SYMBOLS, *(us for us, _ in links)]))
        self._lock = threading.Lock()
        self._world: tuple[dict[str, list[BarTuple]], dict[str, list[BarTuple]]] | None = None

    def world(self) -> tuple[dict[str, list[BarTuple]], dict[str, list[BarTuple]]]:
        with self._lock:
            if self._world is None:
                kr_days = self.kr_days()
                first = kr_days[0] if kr_days else self.start_day
                start = first - timedelta(days=10)
                end = self.start_day + timedelta(days=US_DAYS_AHEAD)
                self._world = make_world(
                    self.kind,
                    self.links,
                    start,
                    end,
                    seed=self.seed,
                    us_days=nyse_sessions(start, end),
                    kr_days=kr_days,
                )
            return self._world

    def us_bars(self, symbol: str, start: date, end: date, now: datetime) -> list[BarTuple]:
        """The world's bars of ``symbol`` in ``[start, end]`` whose session closed by
        ``now``."""
        us, _ = self.world()
        return [b for b in us.get(symbol, []) if start <= b[0] <= end and us_close_utc(b[0]) <= now]

    def kr_history(self, code: str, volume: int, base_price: int) -> list[Bar] | None:
        """The synthetic history of a linked stock: the world's bars scaled to end at
        ``base_price`` (the snapshot close), on the tick grid; None for other stocks."""
        if code not in self.codes:
            return None
        _, kr = self.world()
        rows = kr.get(code)
        if not rows:
            return None
        scale = base_price / rows[-1][4]
        bars: list[Bar] = []
        prev = max(1, krx.round_to_tick(max(1, round(rows[0][1] * scale))))
        for i, (day, o, h, lo, c, v) in enumerate(rows):
            lower, upper = krx.price_limits(prev)
            op = min(max(krx.round_to_tick(max(1, round(o * scale))), lower), upper)
            close = (
                base_price if i == len(rows) - 1 else krx.round_to_tick(max(1, round(c * scale)))
            )
            close = min(max(close, lower), upper)
            hi = min(max(krx.round_to_tick(round(h * scale), "up"), op, close), upper)
            low = max(min(krx.round_to_tick(max(1, round(lo * scale)), "down"), op, close), lower)
            vol = max(1, int(volume * v / 5e5))
            bars.append(
                Bar(
                    start=datetime(day.year, day.month, day.day, tzinfo=krx.KST),
                    open=op,
                    high=hi,
                    low=low,
                    close=close,
                    volume=vol,
                    value=vol * (op + close + hi + low) // 4,
                    base_price=prev,
                )
            )
            prev = close
        return bars
