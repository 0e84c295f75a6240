"""KRX market rules: tick sizes, daily price limits, session phases and the trading calendar.

Used by the simulator (price model, order validation) and by order validation in the
services. Everything here is pure and cheap except the calendar, which is backed by
``exchange_calendars``' ``XKRX`` and built lazily, once per process (it takes seconds).

Tick sizes (PROTOCOL §6.4, KOSPI = KOSDAQ = KONEX since 2023-01-25)::

    price < 2,000          1        50,000 ≤ p < 200,000      100
    2,000 ≤ p < 5,000      5       200,000 ≤ p < 500,000      500
    5,000 ≤ p < 20,000    10       p ≥ 500,000              1,000
    20,000 ≤ p < 50,000   50

ETF / ETN / ELW stay at 5 KRW (``etf=True``).

Daily limits are ±30 % of the base price (normally the previous close). The exact
rounding rule is not in our sources (PROTOCOL §6.4 [?]); we round **inward**: the upper
limit is rounded down to the tick grid and the lower limit up, so both limits are valid
prices and never exceed ±30 %.

Session hours (KST, PROTOCOL §6.2/§6.3) — KRX: pre-open off-hours 08:30–08:40 (which
overlaps the opening auction 08:30–09:00), continuous 09:00–15:20, closing auction
15:20–15:30, post-close off-hours 15:40–16:00, after-hours single price 16:00–18:00.
NXT: pre-market 08:00–08:50, main market 09:00–15:20, after-market 15:30–20:00. NXT
uses the KRX calendar here (an approximation: it follows KRX holidays).
"""

from __future__ import annotations

import enum
import re
import threading
import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "ETF_TICK",
    "KST",
    "KST_OFFSET_S",
    "LIMIT_PERCENT",
    "SESSIONS",
    "Phase",
    "RoundDirection",
    "Session",
    "Venue",
    "is_trading_day",
    "is_valid_price",
    "next_trading_day",
    "phase_at",
    "phases_at",
    "previous_trading_day",
    "price_limits",
    "round_to_tick",
    "tick_down",
    "tick_size",
    "tick_up",
    "trading_days",
]

KST = ZoneInfo("Asia/Seoul")
#: KST is UTC+9 all year (no daylight saving since 1988): seconds east of UTC.
KST_OFFSET_S = 9 * 3600

#: a KRX stock code: a digit, then five digits or capitals (005930, 0088M0)
STOCK_CODE_CHARS = "[0-9][0-9A-Z]{5}"
#: the same as an OpenAPI/JSON-Schema ``pattern`` (ECMA-262 and pydantic's Rust regex: ``$``
#: is the end of the text, so ``"005930\n"`` does not match)
STOCK_CODE_PATTERN = f"^{STOCK_CODE_CHARS}$"
_STOCK_CODE_RE = re.compile(STOCK_CODE_CHARS)


def is_stock_code(code: str) -> bool:
    """True for a well-formed stock code (the whole string; no trailing newline)."""
    return _STOCK_CODE_RE.fullmatch(code) is not None


Venue = Literal["KRX", "NXT"]
RoundDirection = Literal["down", "up", "nearest"]

#: Tick of ETF / ETN / ELW (unchanged by the 2023 reform).
ETF_TICK = 5
#: Daily price limit in percent of the base price.
LIMIT_PERCENT = 30

# (lower bound of the band, tick) from the highest band down.
_BANDS: tuple[tuple[int, int], ...] = (
    (500_000, 1_000),
    (200_000, 500),
    (50_000, 100),
    (20_000, 50),
    (5_000, 10),
    (2_000, 5),
    (0, 1),
)


def tick_size(price: int, *, etf: bool = False) -> int:
    """The tick (호가단위) that applies at ``price`` KRW.

    Args:
        price: a price in KRW (non-negative).
        etf: True for ETF/ETN/ELW, whose tick is always 5 KRW.

    Raises:
        ValueError: for a negative price.
    """
    if price < 0:
        raise ValueError(f"negative price {price}")
    if etf:
        return ETF_TICK
    for floor, tick in _BANDS:
        if price >= floor:
            return tick
    raise AssertionError("unreachable")  # pragma: no cover


def is_valid_price(price: int, *, etf: bool = False) -> bool:
    """True when ``price`` is positive and lies on the tick grid of its band."""
    return price > 0 and price % tick_size(price, etf=etf) == 0


def round_to_tick(price: int, direction: RoundDirection = "nearest", *, etf: bool = False) -> int:
    """Round ``price`` to the tick grid.

    Band boundaries are multiples of both neighbouring ticks, so rounding with the tick
    of ``price``'s own band always lands on a valid price (rounding 4,997 up gives 5,000).
    ``nearest`` breaks ties upwards.
    """
    tick = tick_size(price, etf=etf)
    down = price - price % tick
    if direction == "down" or down == price:
        return down
    up = down + tick
    if direction == "up":
        return up
    return up if price - down >= up - price else down


def tick_up(price: int, n: int = 1, *, etf: bool = False) -> int:
    """The price ``n`` ticks above the valid price ``price`` (crossing bands correctly)."""
    for _ in range(n):
        price += tick_size(price, etf=etf)
    return price


def tick_down(price: int, n: int = 1, *, etf: bool = False) -> int:
    """The price ``n`` ticks below ``price``; never below one tick (the minimum price)."""
    for _ in range(n):
        # The tick below a band boundary is the lower band's tick (5,000 - 5 = 4,995).
        step = tick_size(price - 1, etf=etf) if price > 1 else 0
        price = max(price - step, 1)
    return price


def price_limits(base_price: int, *, etf: bool = False) -> tuple[int, int]:
    """(lower, upper) daily price limits (하한가, 상한가) for ``base_price``.

    ±30 % rounded inward to the tick grid (the exact KRX rule is not in our sources).
    Integer arithmetic keeps this exact.
    """
    upper_raw = base_price * (100 + LIMIT_PERCENT) // 100
    lower_raw = -(-base_price * (100 - LIMIT_PERCENT) // 100)  # ceiling division
    upper = round_to_tick(upper_raw, "down", etf=etf)
    lower = max(round_to_tick(lower_raw, "up", etf=etf), 1)
    return lower, upper


class Phase(enum.StrEnum):
    """A trading-session phase of a venue."""

    CLOSED = "closed"
    PRE_OPEN_OFF_HOURS = "pre_open_off_hours"  # KRX 장전 시간외 종가
    OPENING_AUCTION = "opening_auction"  # KRX 장 시작 동시호가
    CONTINUOUS = "continuous"  # KRX 정규장 / NXT 메인마켓
    CLOSING_AUCTION = "closing_auction"  # KRX 장 마감 동시호가
    POST_CLOSE_OFF_HOURS = "post_close_off_hours"  # KRX 장후 시간외 종가
    AFTER_HOURS_SINGLE_PRICE = "after_hours_single_price"  # KRX 시간외 단일가
    PRE_MARKET = "pre_market"  # NXT 프리마켓
    AFTER_MARKET = "after_market"  # NXT 애프터마켓

    @property
    def is_continuous(self) -> bool:
        """True for phases with continuous matching (orders trade immediately)."""
        return self in (Phase.CONTINUOUS, Phase.PRE_MARKET, Phase.AFTER_MARKET)


@dataclass(frozen=True, slots=True)
class Session:
    """One window of a venue's trading day, ``start <= t < end`` in KST."""

    venue: Venue
    phase: Phase
    start: time
    end: time


#: Every session window, in priority order: when windows overlap (08:30–08:40 KRX),
#: ``phase_at`` reports the first listed, the auction.
SESSIONS: tuple[Session, ...] = (
    Session("KRX", Phase.OPENING_AUCTION, time(8, 30), time(9, 0)),
    Session("KRX", Phase.PRE_OPEN_OFF_HOURS, time(8, 30), time(8, 40)),
    Session("KRX", Phase.CONTINUOUS, time(9, 0), time(15, 20)),
    Session("KRX", Phase.CLOSING_AUCTION, time(15, 20), time(15, 30)),
    Session("KRX", Phase.POST_CLOSE_OFF_HOURS, time(15, 40), time(16, 0)),
    Session("KRX", Phase.AFTER_HOURS_SINGLE_PRICE, time(16, 0), time(18, 0)),
    Session("NXT", Phase.PRE_MARKET, time(8, 0), time(8, 50)),
    Session("NXT", Phase.CONTINUOUS, time(9, 0), time(15, 20)),
    Session("NXT", Phase.AFTER_MARKET, time(15, 30), time(20, 0)),
)


def _as_kst(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return dt.astimezone(KST)


def phases_at(dt: datetime, venue: Venue = "KRX", *, check_calendar: bool = True) -> list[Phase]:
    """Every phase of ``venue`` active at ``dt`` (empty when closed), in priority order.

    Args:
        dt: a timezone-aware datetime (any zone; converted to KST).
        venue: ``"KRX"`` or ``"NXT"``.
        check_calendar: when True, non-trading days (weekends, KRX holidays) are closed.
    """
    local = _as_kst(dt)
    if check_calendar and not is_trading_day(local.date()):
        return []
    t = local.time()
    return [s.phase for s in SESSIONS if s.venue == venue and s.start <= t < s.end]


def phase_at(dt: datetime, venue: Venue = "KRX", *, check_calendar: bool = True) -> Phase:
    """The phase of ``venue`` at ``dt``; ``Phase.CLOSED`` outside every window."""
    phases = phases_at(dt, venue, check_calendar=check_calendar)
    return phases[0] if phases else Phase.CLOSED


# --- trading calendar -------------------------------------------------------------------

_calendar_lock = threading.Lock()
_calendar: Any = None


def _xkrx() -> Any:
    """The XKRX calendar, built on first use (slow) and kept for the process."""
    global _calendar
    if _calendar is None:
        with _calendar_lock:
            if _calendar is None:
                import exchange_calendars  # slow import: only when a calendar is needed

                # pandas deprecation chatter from inside exchange_calendars is not ours
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _calendar = exchange_calendars.get_calendar("XKRX")
    return _calendar


@lru_cache(maxsize=1)
def _sessions() -> tuple[frozenset[date], date, date]:
    cal = _xkrx()
    days = frozenset(ts.date() for ts in cal.sessions)
    return days, cal.first_session.date(), cal.last_session.date()


def is_trading_day(day: date) -> bool:
    """True when KRX trades on ``day`` (XKRX calendar: weekends and holidays closed).

    Outside the calendar's range (about 20 years back, one year ahead) only weekends are
    treated as closed.
    """
    days, first, last = _sessions()
    if first <= day <= last:
        return day in days
    return day.weekday() < 5


def next_trading_day(day: date) -> date:
    """The first trading day strictly after ``day``."""
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def previous_trading_day(day: date) -> date:
    """The last trading day strictly before ``day``."""
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def trading_days(start: date, end: date) -> list[date]:
    """Trading days ``start <= d <= end``, oldest first."""
    out: list[date] = []
    day = start
    while day <= end:
        if is_trading_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out
