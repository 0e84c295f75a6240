"""The gap walk reads ka10079 from now back to the gap but keeps only the gap.

A stream hole an hour ago on a busy stock is a walk over every trade since; holding them
all (what the walk did) grew the hub by tens of MB per walk in the soak. The rows after the
live anchor are dropped as the pages arrive, but for the few that tell the anchor's row
apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from gslts_hub.backfill import ChartTick, fetch_tick_chart
from gslts_kiwoom.models import Candle
from gslts_kiwoom.realtime import KST

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=KST)
PAGE = 900


class _PagedChart:
    """ka10079 of one trade per second for ``n`` seconds, paged newest first; counts the
    rows it has handed out that the caller still holds (through ``yielded``)."""

    def __init__(self, n: int) -> None:
        self.rows = [
            Candle(T0 + timedelta(seconds=i), 1000 + i % 7, 1000, 1000, 1000, 1 + i % 3)
            for i in range(n)
        ]
        self.pages = 0

    def iter_tick_chart(self, code: str, *, since: datetime) -> Iterator[list[Candle]]:
        newest_first = self.rows[::-1]
        for i in range(0, len(newest_first), PAGE):
            self.pages += 1
            page = newest_first[i : i + PAGE]
            yield page
            if page[-1].time < since:
                return


def _tick(c: Candle) -> ChartTick:
    return ChartTick(c.time, c.close, c.volume)


def test_a_walk_keeps_the_gap_and_the_rows_that_follow_its_anchor_only() -> None:
    chart = _PagedChart(20_000)
    since = T0 + timedelta(seconds=100)  # the last stored trade before the hole
    until = T0 + timedelta(seconds=160)  # the first live trade after it
    rows = fetch_tick_chart(chart, "005930", since, until=until, keep_newer=3)  # type: ignore[arg-type]
    # the whole chart was read back to the gap …
    assert chart.pages == 20_000 // PAGE + 1
    # … but what is kept is the gap (since..until) and the 3 trades after the anchor
    want = [_tick(c) for c in chart.rows[100:164]][::-1]
    assert rows == want


def test_without_a_live_anchor_every_row_since_the_gap_is_kept() -> None:
    chart = _PagedChart(3_000)
    since = T0 + timedelta(seconds=2_500)
    rows = fetch_tick_chart(chart, "005930", since)  # type: ignore[arg-type]
    assert rows == [_tick(c) for c in chart.rows[2_500:]][::-1]
