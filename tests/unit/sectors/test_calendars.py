"""The timing rule: US closes in KST across DST, holidays on either side, 10:00 opens."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from gslts_backend.sectors import calendars as cal
from gslts_backend.sectors.calendars import KST


def kst(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=KST)


@pytest.mark.parametrize(
    ("us_day", "close"),
    [
        # US summer time began 2026-03-08: Friday 03-06 closes at 06:00 KST, Monday 05:00
        (date(2026, 3, 6), kst(2026, 3, 7, 6)),
        (date(2026, 3, 9), kst(2026, 3, 10, 5)),
        # and ended 2026-11-01: Friday 10-30 still 05:00, Monday 11-02 06:00
        (date(2026, 10, 30), kst(2026, 10, 31, 5)),
        (date(2026, 11, 2), kst(2026, 11, 3, 6)),
        # 2024: 03-10 and 11-03
        (date(2024, 3, 8), kst(2024, 3, 9, 6)),
        (date(2024, 3, 11), kst(2024, 3, 12, 5)),
        # early closes, 13:00 ET: the day after Thanksgiving, July 3rd
        (date(2026, 11, 27), kst(2026, 11, 28, 3)),
        (date(2025, 7, 3), kst(2025, 7, 4, 2)),
    ],
)
def test_us_close_in_kst(us_day: date, close: datetime) -> None:
    assert cal.us_close_kst(us_day) == close


def test_us_close_of_a_holiday_is_an_error() -> None:
    with pytest.raises(ValueError, match="not an NYSE session"):
        cal.us_close_kst(date(2026, 11, 26))  # Thanksgiving


def test_friday_feeds_monday_and_each_night_feeds_the_next_morning() -> None:
    us = cal.us_sessions(date(2026, 3, 1), date(2026, 3, 31))
    assert cal.us_sessions_for(date(2026, 3, 9), us) == [date(2026, 3, 6)]
    assert cal.us_sessions_for(date(2026, 3, 10), us) == [date(2026, 3, 9)]
    assert cal.us_sessions_for(date(2026, 3, 11), us) == [date(2026, 3, 10)]


def test_thanksgiving_gives_the_next_krx_session_no_signal() -> None:
    us = cal.us_sessions(date(2026, 11, 1), date(2026, 12, 31))
    # Wednesday's session closed Thursday 06:00 KST: it fed Thursday's KRX session
    assert cal.us_sessions_for(date(2026, 11, 26), us) == [date(2026, 11, 25)]
    assert cal.us_sessions_for(date(2026, 11, 27), us) == []  # US closed Thursday
    assert cal.us_sessions_for(date(2026, 11, 30), us) == [date(2026, 11, 27)]


def test_chuseok_compounds_every_us_session_of_the_holiday() -> None:
    us = cal.us_sessions(date(2025, 9, 1), date(2025, 10, 31))
    # KRX closed 2025-10-03 … 10-09 (개천절, 추석, 대체공휴일, 한글날)
    assert cal.previous_kr_session(date(2025, 10, 10)) == date(2025, 10, 2)
    assert cal.us_sessions_for(date(2025, 10, 10), us) == [
        date(2025, 10, 2),
        date(2025, 10, 3),
        date(2025, 10, 6),
        date(2025, 10, 7),
        date(2025, 10, 8),
        date(2025, 10, 9),
    ]


def test_no_session_after_the_cutoff_is_ever_used() -> None:
    us = cal.us_sessions(date(2024, 1, 1), date(2026, 12, 31))
    kr = cal.kr_sessions(date(2024, 1, 2), date(2026, 12, 31))
    windows = cal.us_session_windows(kr, us)
    seen: list[int] = []
    for day, (lo, hi) in zip(kr, windows, strict=True):
        assert [us[i] for i in range(lo, hi)] == cal.us_sessions_for(day, us)
        for i in range(lo, hi):
            assert cal.us_close_kst(us[i]) < cal.cutoff_kst(day)
        seen += range(lo, hi)
    # every US session feeds exactly one KRX session (none twice, none lost)
    assert seen == list(range(windows[0][0], windows[-1][1]))


@pytest.mark.parametrize(
    ("day", "hour"),
    [
        (date(2026, 1, 2), 10),  # first trading day of the year
        (date(2025, 1, 2), 10),
        (date(2024, 11, 14), 10),  # 수능 (from this module's table)
        (date(2025, 11, 13), 10),
        (date(2019, 11, 14), 10),  # 수능 (in exchange_calendars' data)
        (date(2025, 11, 14), 9),
        (date(2026, 1, 5), 9),
    ],
)
def test_krx_open(day: date, hour: int) -> None:
    assert cal.krx_open_kst(day) == kst(day.year, day.month, day.day, hour)


def test_krx_close_moves_with_the_late_open_and_was_15_00_before_august_2016() -> None:
    assert cal.krx_close_kst(date(2025, 11, 13)) == kst(2025, 11, 13, 16, 30)
    assert cal.krx_close_kst(date(2016, 7, 29)) == kst(2016, 7, 29, 15)
    assert cal.krx_close_kst(date(2016, 8, 1)) == kst(2016, 8, 1, 15, 30)


def test_known_holidays() -> None:
    kr = set(cal.kr_sessions(date(2024, 1, 1), date(2026, 12, 31)))
    for holiday in (
        date(2025, 10, 6),  # 추석
        date(2025, 12, 31),  # year-end closing day
        date(2025, 6, 3),  # 대통령 선거
        date(2026, 6, 3),  # 지방선거 (this module's table)
        date(2026, 2, 17),  # 설날
    ):
        assert holiday not in kr
    us = set(cal.us_sessions(date(2024, 1, 1), date(2026, 12, 31)))
    for holiday in (date(2025, 1, 9), date(2026, 11, 26), date(2026, 7, 3)):
        assert holiday not in us
    assert date(2026, 6, 4) in kr


def test_outside_the_calendar_range_weekdays_are_sessions() -> None:
    assert cal.kr_sessions(date(2031, 1, 6), date(2031, 1, 12)) == [
        date(2031, 1, 6) + timedelta(days=i) for i in range(5)
    ]
    assert cal.krx_open_kst(date(2031, 1, 6)) == kst(2031, 1, 6, 9)
