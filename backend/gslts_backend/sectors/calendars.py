"""Exchange calendars for the sector model: when the US closed, when the KRX opens.

Two calendars, both from ``exchange_calendars`` (``XNYS`` for the US sessions including
the 13:00 ET early closes, ``XKRX`` for the Korean sessions including the 10:00 opens on
the first trading day of the year and on 수능 day), built once per process for
2010-01-01 … 2030-12-31 (the first build takes a few seconds: pandas). Where that data is
known to be short, a small table here completes it:

* 수능 late opens after 2020: ``exchange_calendars`` 4.13 has them up to 2020-12-03 and
  none since; :data:`KRX_LATE_OPENS_EXTRA` adds 2021-11-18 … 2026-11-19 (open 10:00,
  close 16:30, as in the calendar's own 수능 days).
* Election days the library does not know yet (it has the past ones):
  :data:`KRX_HOLIDAYS_EXTRA` (2026-06-03 제9회 전국동시지방선거; later ones as the election law
  fixes them — check when they are announced).

Outside 2010–2030 both calendars fall back to "every weekday, regular hours" (as
:mod:`gslts_kiwoom.krx` does), which is wrong on holidays: the model is not meant for
those years.

**Timing rule.** The recommendation for Korean session ``D`` may use what was known at
:data:`CUTOFF` (08:30 KST) on ``D``. The US sessions it compounds are those that closed
after the previous KRX session's close and before that cutoff
(:func:`us_sessions_for`). A US session closes at 16:00 America/New_York (13:00 on early
close days), i.e. 05:00 KST the next calendar day in US summer time and 06:00 otherwise
(02:00/03:00 on early closes): the Friday session feeds Monday's KRX session, a US holiday
gives the next KRX session no signal, a KRX holiday makes the next KRX session compound
several US sessions.
"""

from __future__ import annotations

import bisect
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "CUTOFF",
    "KRX_HOLIDAYS_EXTRA",
    "KRX_LATE_OPENS_EXTRA",
    "KST",
    "NEW_YORK",
    "cutoff_kst",
    "kr_sessions",
    "krx_close_kst",
    "krx_open_kst",
    "previous_kr_session",
    "us_close_kst",
    "us_session_windows",
    "us_sessions",
    "us_sessions_for",
]

KST = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")
#: what a recommendation for day D may know: everything published before 08:30 KST on D
#: (the KRX pre-open off-hours session starts then)
CUTOFF = time(8, 30)

#: the range the calendars are built for; outside it: weekdays, regular hours
CAL_START = date(2010, 1, 1)
CAL_END = date(2030, 12, 31)

#: 수능 (College Scholastic Ability Test) days after 2020: KRX opens at 10:00 and closes at
#: 16:30. ``exchange_calendars`` 4.13 stops at 2020-12-03.
KRX_LATE_OPENS_EXTRA: frozenset[date] = frozenset(
    {
        date(2021, 11, 18),
        date(2022, 11, 17),
        date(2023, 11, 16),
        date(2024, 11, 14),
        date(2025, 11, 13),
        date(2026, 11, 19),
    }
)

#: KRX holidays missing from ``exchange_calendars`` 4.13 (future election days).
KRX_HOLIDAYS_EXTRA: dict[date, str] = {
    date(2026, 6, 3): "제9회 전국동시지방선거",
}


@dataclass(frozen=True, slots=True)
class _Tables:
    us_days: tuple[date, ...]
    us_close_utc: dict[date, datetime]
    kr_days: tuple[date, ...]
    kr_open_utc: dict[date, datetime]
    kr_close_utc: dict[date, datetime]


_lock = threading.Lock()
_tables: _Tables | None = None


def _build() -> _Tables:
    import exchange_calendars  # slow import (pandas): only when a calendar is needed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecation chatter inside the library
        nyse: Any = exchange_calendars.get_calendar(
            "XNYS", start=CAL_START.isoformat(), end=CAL_END.isoformat()
        )
        krx: Any = exchange_calendars.get_calendar(
            "XKRX", start=CAL_START.isoformat(), end=CAL_END.isoformat()
        )
    us_close = {
        ts.date(): close.to_pydatetime().astimezone(UTC)
        for ts, close in zip(nyse.sessions, nyse.closes, strict=True)
    }
    kr_open: dict[date, datetime] = {}
    kr_close: dict[date, datetime] = {}
    for ts, op, cl in zip(krx.sessions, krx.opens, krx.closes, strict=True):
        day = ts.date()
        if day in KRX_HOLIDAYS_EXTRA:
            continue
        o = op.to_pydatetime().astimezone(UTC)
        c = cl.to_pydatetime().astimezone(UTC)
        if day in KRX_LATE_OPENS_EXTRA and o.astimezone(KST).time() == time(9, 0):
            o += timedelta(hours=1)
            c += timedelta(hours=1)
        kr_open[day] = o
        kr_close[day] = c
    return _Tables(tuple(sorted(us_close)), us_close, tuple(sorted(kr_open)), kr_open, kr_close)


def _t() -> _Tables:
    global _tables
    if _tables is None:
        with _lock:
            if _tables is None:
                _tables = _build()
    return _tables


def _in_range(day: date) -> bool:
    return CAL_START <= day <= CAL_END


def _weekdays(start: date, end: date) -> list[date]:
    out: list[date] = []
    day = start
    while day <= end:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def _sessions(days: tuple[date, ...], start: date, end: date) -> list[date]:
    out = _weekdays(start, min(end, CAL_START - timedelta(days=1)))
    lo, hi = max(start, CAL_START), min(end, CAL_END)
    if lo <= hi:
        out += days[bisect.bisect_left(days, lo) : bisect.bisect_right(days, hi)]
    out += _weekdays(max(start, CAL_END + timedelta(days=1)), end)
    return out


def us_sessions(start: date, end: date) -> list[date]:
    """NYSE sessions ``start <= d <= end`` (XNYS), oldest first."""
    return _sessions(_t().us_days, start, end)


def kr_sessions(start: date, end: date) -> list[date]:
    """KRX sessions ``start <= d <= end`` (XKRX plus :data:`KRX_HOLIDAYS_EXTRA`)."""
    return _sessions(_t().kr_days, start, end)


def us_close_kst(us_day: date) -> datetime:
    """When the NYSE session of ``us_day`` closed, in KST (aware).

    16:00 America/New_York (13:00 on the calendar's early closes): 05:00 KST on the next
    calendar day in US summer time, 06:00 otherwise.

    Raises:
        ValueError: ``us_day`` is no NYSE session.
    """
    if _in_range(us_day):
        close = _t().us_close_utc.get(us_day)
        if close is None:
            raise ValueError(f"{us_day} is not an NYSE session")
        return close.astimezone(KST)
    if us_day.weekday() >= 5:
        raise ValueError(f"{us_day} is not an NYSE session")
    return datetime.combine(us_day, time(16, 0), NEW_YORK).astimezone(KST)


def _kr(day: date, table: dict[date, datetime], regular: time) -> datetime:
    if _in_range(day):
        value = table.get(day)
        if value is None:
            raise ValueError(f"{day} is not a KRX session")
        return value.astimezone(KST)
    if day.weekday() >= 5:
        raise ValueError(f"{day} is not a KRX session")
    return datetime.combine(day, regular, KST)


def krx_open_kst(kr_day: date) -> datetime:
    """The KRX regular session's open on ``kr_day`` (KST): 09:00, 10:00 on late-open days
    (first trading day of the year, 수능 day).

    Raises:
        ValueError: ``kr_day`` is no KRX session.
    """
    return _kr(kr_day, _t().kr_open_utc, time(9, 0))


def krx_close_kst(kr_day: date) -> datetime:
    """The KRX regular session's close on ``kr_day`` (KST): 15:30 (15:00 before
    2016-08-01; one hour later on 수능 day).

    Raises:
        ValueError: ``kr_day`` is no KRX session.
    """
    return _kr(kr_day, _t().kr_close_utc, time(15, 30))


def cutoff_kst(kr_day: date) -> datetime:
    """The information cutoff of the recommendation for ``kr_day``: 08:30 KST that day."""
    return datetime.combine(kr_day, CUTOFF, KST)


def previous_kr_session(kr_day: date) -> date:
    """The KRX session strictly before ``kr_day``."""
    day = kr_day - timedelta(days=1)
    while True:
        if (_in_range(day) and day in _t().kr_close_utc) or (
            not _in_range(day) and day.weekday() < 5
        ):
            return day
        day -= timedelta(days=1)


def us_sessions_for(
    kr_day: date, us_days: Sequence[date], prev_kr_day: date | None = None
) -> list[date]:
    """The US sessions whose returns the KRX session ``kr_day`` compounds.

    Every session of ``us_days`` (sorted NYSE sessions) that closed after the previous
    KRX session's close and before the cutoff (08:30 KST) of ``kr_day``. Empty after a US
    holiday (no signal).

    Args:
        kr_day: the KRX session the recommendation is for.
        us_days: NYSE sessions, oldest first (e.g. the days of the US bars at hand).
        prev_kr_day: the previous KRX session; the calendar's when None.
    """
    prev = previous_kr_session(kr_day) if prev_kr_day is None else prev_kr_day
    after = krx_close_kst(prev)
    before = cutoff_kst(kr_day)
    # closes are in session order, so the sessions wanted are one contiguous run
    lo = bisect.bisect_left(us_days, prev)
    out: list[date] = []
    for u in us_days[lo:]:
        close = us_close_kst(u)
        if close >= before:
            break
        if close > after:
            out.append(u)
    return out


def us_session_windows(kr_days: Sequence[date], us_days: Sequence[date]) -> list[tuple[int, int]]:
    """For each KRX session in ``kr_days`` (consecutive sessions, oldest first), the half
    open index range ``[lo, hi)`` into ``us_days`` of the sessions :func:`us_sessions_for`
    gives (``lo == hi``: no US session, no signal). Fast path of the same rule."""
    closes = [us_close_kst(u) for u in us_days]
    out: list[tuple[int, int]] = []
    prev: date | None = None
    for day in kr_days:
        after = krx_close_kst(previous_kr_session(day) if prev is None else prev)
        lo = bisect.bisect_right(closes, after)
        hi = bisect.bisect_left(closes, cutoff_kst(day))
        out.append((lo, max(lo, hi)))
        prev = day
    return out
