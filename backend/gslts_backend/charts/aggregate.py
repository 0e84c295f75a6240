"""Pure bar arithmetic of the charts: intervals, bucket alignment, folding bars and the
lightweight-charts time convention. No database, no Kiwoom.

Time convention (docs/backend.md "Charts"): lightweight-charts draws a ``UTCTimestamp`` on
a UTC axis, so an intraday bar's ``time`` is its **KST wall-clock start written as if it
were UTC** (``09:00 KST`` → the epoch second of ``09:00 UTC`` that day, i.e. the true epoch
second + 32,400). Daily and weekly bars use the business-day string ``YYYY-MM-DD`` (the KST
trading day; a week is labelled with its first trading day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from gslts_kiwoom.krx import KST

Interval = Literal["1m", "3m", "5m", "10m", "15m", "30m", "60m", "1d", "1w"]
INTERVALS: tuple[Interval, ...] = ("1m", "3m", "5m", "10m", "15m", "30m", "60m", "1d", "1w")
#: minutes per bar of the intraday intervals (each divides a day, so buckets aligned on
#: KST midnight are also aligned on the 09:00 session start: 540 is a multiple of each)
MINUTES: dict[str, int] = {"1m": 1, "3m": 3, "5m": 5, "10m": 10, "15m": 15, "30m": 30, "60m": 60}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the KST wall clock is read as UTC


@dataclass(slots=True)
class OHLCV:
    """One bar being folded; ``key`` is its bucket (wall seconds, or a date)."""

    key: int | date
    open: int
    high: int
    low: int
    close: int
    volume: int

    def add_older(self, open_: int, high: int, low: int, volume: int) -> None:
        """Fold in a bar that is older than everything folded so far."""
        self.open = open_
        if high > self.high:
            self.high = high
        if low < self.low:
            self.low = low
        self.volume += volume

    def add_newer(self, high: int, low: int, close: int, volume: int) -> None:
        """Fold in a bar that is newer than everything folded so far."""
        if high > self.high:
            self.high = high
        if low < self.low:
            self.low = low
        self.close = close
        self.volume += volume


def wall_seconds(dt: datetime) -> int:
    """The KST wall clock of ``dt`` as seconds since 1970-01-01 00:00 (the chart time)."""
    wall = dt.astimezone(KST) if dt.tzinfo else dt
    return int((wall.replace(tzinfo=UTC) - _EPOCH).total_seconds())


def from_wall_seconds(secs: int) -> datetime:
    """Inverse of :func:`wall_seconds`: an aware KST datetime."""
    return (_EPOCH + timedelta(seconds=secs)).replace(tzinfo=KST)


def as_int(key: int | date) -> int:
    if isinstance(key, date):
        raise TypeError("an intraday bucket key is an int")
    return key


def as_date(key: int | date) -> date:
    if not isinstance(key, date):
        raise TypeError("a daily bucket key is a date")
    return key


def bucket_of(secs: int, minutes: int) -> int:
    """Start (wall seconds) of the ``minutes``-bar holding wall second ``secs``."""
    size = minutes * 60
    return secs - secs % size


def ceil_bucket(secs: int, minutes: int) -> int:
    """The first bucket boundary at or after ``secs``."""
    size = minutes * 60
    return -(-secs // size) * size


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


class DescendingFolder:
    """Folds bars arriving newest first into at most ``limit`` coarser bars.

    ``add`` returns False once a bar of a ``limit + 1``-th bucket arrives: every bucket
    kept is then complete (all its parts came before it) and there is older history.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.out: list[OHLCV] = []  # newest first
        self.more = False

    def add(self, key: int | date, o: int, h: int, lo: int, c: int, v: int) -> bool:
        out = self.out
        if out and out[-1].key == key:
            out[-1].add_older(o, h, lo, v)
            return True
        if out and _less(out[-1].key, key):
            raise ValueError("bars must arrive newest first")
        if len(out) == self.limit:
            self.more = True
            return False
        out.append(OHLCV(key, o, h, lo, c, v))
        return True

    def oldest_first(self) -> list[OHLCV]:
        return self.out[::-1]


def _less(a: int | date, b: int | date) -> bool:
    return a < b  # type: ignore[operator]


def chart_time(key: int | date) -> int | str:
    """The lightweight-charts ``time`` of a bucket key."""
    if isinstance(key, date):
        return key.isoformat()
    return key


def utc_now() -> datetime:
    return datetime.now(UTC)
