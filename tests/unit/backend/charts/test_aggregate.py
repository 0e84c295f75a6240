"""The charts' bar arithmetic without a database: the chart time convention, bucket
alignment on the 09:00 session start and folding newest-first bars into pages."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from gslts_backend.charts.aggregate import (
    MINUTES,
    DescendingFolder,
    bucket_of,
    ceil_bucket,
    from_wall_seconds,
    monday_of,
    wall_seconds,
)
from gslts_kiwoom.krx import KST


def test_chart_time_is_the_kst_wall_clock_read_as_utc() -> None:
    t = datetime(2026, 9, 28, 9, 0, tzinfo=KST)
    # 2026-09-28T09:00:00Z: what lightweight-charts prints on its UTC axis is 09:00
    assert wall_seconds(t) == 1790586000
    assert wall_seconds(t) == int(t.timestamp()) + 9 * 3600
    assert from_wall_seconds(wall_seconds(t)) == t


@pytest.mark.parametrize("interval", list(MINUTES))
def test_buckets_start_at_the_session_open(interval: str) -> None:
    n = MINUTES[interval]
    open_ = wall_seconds(datetime(2026, 9, 28, 9, 0, tzinfo=KST))
    assert bucket_of(open_, n) == open_  # 09:00 opens a bar of every interval
    assert bucket_of(open_ + n * 60 - 1, n) == open_
    assert bucket_of(open_ + n * 60, n) == open_ + n * 60
    assert ceil_bucket(open_ + 1, n) == open_ + n * 60
    assert ceil_bucket(open_, n) == open_


def test_sixty_minute_bars_are_on_the_hour_and_hold_the_closing_call() -> None:
    at = wall_seconds(datetime(2026, 9, 28, 15, 30, tzinfo=KST))
    assert from_wall_seconds(bucket_of(at, 60)) == datetime(2026, 9, 28, 15, 0, tzinfo=KST)


def test_weeks_are_monday_based() -> None:
    assert monday_of(date(2026, 10, 2)) == date(2026, 9, 28)  # a Friday
    assert monday_of(date(2026, 9, 28)) == date(2026, 9, 28)


def test_the_folder_keeps_whole_buckets_and_says_when_there_is_more() -> None:
    f = DescendingFolder(2)
    # 1-minute bars newest first, folded into 5-minute buckets keyed 10, 5, 0
    bars = [(12, 5, 9, 4, 8, 1), (11, 6, 7, 5, 6, 2), (9, 3, 4, 2, 3, 1), (6, 1, 2, 1, 2, 5)]
    for m, o, h, lo, c, v in bars:
        assert f.add(m - m % 5, o, h, lo, c, v)
    assert f.add(4, 7, 7, 7, 7, 1) is False  # a third bucket: the page is full
    assert f.more
    [b5, b10] = f.oldest_first()
    assert (b10.key, b10.open, b10.high, b10.low, b10.close, b10.volume) == (10, 6, 9, 4, 8, 3)
    assert (b5.key, b5.open, b5.high, b5.low, b5.close, b5.volume) == (5, 1, 4, 1, 3, 6)


def test_the_folder_refuses_bars_out_of_order() -> None:
    f = DescendingFolder(5)
    f.add(5, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="newest first"):
        f.add(10, 1, 1, 1, 1, 1)
