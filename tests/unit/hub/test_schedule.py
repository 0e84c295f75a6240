"""When the hub collects: KRX trading days and hours, a token refresh before the open."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from gslts_hub.schedule import Schedule

KST = ZoneInfo("Asia/Seoul")


def kst(day: str, hhmm: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime.fromisoformat(day).replace(hour=h, minute=m, tzinfo=KST)


@pytest.mark.parametrize(
    ("day", "hhmm", "collect"),
    [
        ("2026-11-26", "07:49", False),  # Thursday, before the start
        ("2026-11-26", "07:50", True),  # connects before NXT 08:00 / KRX 08:30
        ("2026-11-26", "12:00", True),
        ("2026-11-26", "18:09", True),  # after-hours single price ends 18:00
        ("2026-11-26", "18:10", False),  # stopped (and flushed) after the close
        ("2026-11-28", "10:00", False),  # Saturday
        ("2026-09-25", "10:00", False),  # 추석 (Chuseok), a weekday holiday
        ("2026-10-05", "10:00", False),  # substitute holiday for 개천절 (Oct 3, a Saturday)
        ("2026-12-31", "10:00", False),  # KRX year-end closing day
    ],
)
def test_auto_collects_on_trading_days_in_hours(day: str, hhmm: str, collect: bool) -> None:
    assert Schedule("auto").should_collect(kst(day, hhmm)) is collect


def test_auto_accepts_any_timezone() -> None:
    # 2026-11-25 23:00 UTC is 2026-11-26 08:00 KST: inside the window
    utc = datetime(2026, 11, 25, 23, 0, tzinfo=ZoneInfo("UTC"))
    assert Schedule("auto").should_collect(utc)


def test_always_collects_around_the_clock() -> None:
    s = Schedule("always")
    assert s.should_collect(kst("2026-11-28", "03:00"))
    assert s.ticks_expected(kst("2026-11-28", "03:00"))
    assert not s.token_refresh_due(kst("2026-11-26", "08:30"), None)


def test_token_refreshed_once_per_trading_day_before_the_open() -> None:
    s = Schedule("auto")
    assert not s.token_refresh_due(kst("2026-11-26", "08:24"), None)
    assert s.token_refresh_due(kst("2026-11-26", "08:25"), None)
    assert not s.token_refresh_due(kst("2026-11-26", "09:30"), date(2026, 11, 26))
    assert s.token_refresh_due(kst("2026-11-27", "08:25"), date(2026, 11, 26))
    assert not s.token_refresh_due(kst("2026-11-28", "08:25"), date(2026, 11, 27))  # Saturday


@pytest.mark.parametrize(
    ("hhmm", "expected"),
    [
        ("08:45", False),  # opening auction: orders accumulate, no trades until 09:00
        ("09:00", True),
        ("15:19", True),
        ("15:25", False),  # closing auction
        ("16:30", False),  # after-hours single price: trades only every 10 minutes
    ],
)
def test_silence_is_stale_only_in_continuous_trading(hhmm: str, expected: bool) -> None:
    assert Schedule("auto").ticks_expected(kst("2026-11-26", hhmm)) is expected
