"""Forward gap walk (no live tick after the reconnect): ka10079 rows after the last stored
trade get cumulative volumes counted up from it; a doubtful anchor stores nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from gslts_hub.backfill import ChartTick, StoredAnchor, walk_forward
from gslts_kiwoom.realtime import KST


def _at(s: int) -> datetime:
    return datetime(2026, 3, 3, 10, 0, 0, tzinfo=KST) + timedelta(seconds=s)


LAST = StoredAnchor(_at(1), 499, 8, 1000, 3)  # the last stored trade: cum 1000, 3 M KRW


def test_walks_forward_from_the_last_stored_trade() -> None:
    rows = [  # newest first
        ChartTick(_at(7), 505, 3),
        ChartTick(_at(7), 506, 7),
        ChartTick(_at(5), 500, 5),
        ChartTick(_at(1), 499, 8),  # the anchor
        ChartTick(_at(1), 498, 2),  # stored before it (same second)
    ]
    res = walk_forward(rows, LAST, same_second=[(498, 2), (499, 8)], close_cum=1015)
    assert res.consistent, res.detail
    assert [(t.time, t.price, t.qty, t.cum_volume) for t in res.ticks] == [
        (_at(5), 500, 5, 1005),
        (_at(7), 506, 7, 1012),
        (_at(7), 505, 3, 1015),
    ]
    # cumulative value: 3 M + 500*5 + 506*7 + 505*3 KRW, in KRW million
    assert res.ticks[-1].cum_value == (3_000_000 + 2500 + 3542 + 1515) // 1_000_000


def test_trades_after_the_volume_check_are_kept_when_the_walk_passes_through_it() -> None:
    rows = [ChartTick(_at(9), 501, 4), ChartTick(_at(5), 500, 5), ChartTick(_at(1), 499, 8)]
    res = walk_forward(rows, LAST, close_cum=1005)  # ka10001 was read before the 2nd trade
    assert res.consistent, res.detail
    assert [t.cum_volume for t in res.ticks] == [1005, 1009]


def test_ambiguous_anchor_resolved_by_the_current_volume() -> None:
    # two identical trades in the anchor's second; we stored only the first of them
    rows = [ChartTick(_at(4), 500, 5), ChartTick(_at(1), 499, 8), ChartTick(_at(1), 499, 8)]
    res = walk_forward(rows, LAST, same_second=[(499, 8)], close_cum=1013)
    assert res.consistent, res.detail
    assert [(t.qty, t.cum_volume) for t in res.ticks] == [(8, 1008), (5, 1013)]


def test_ambiguous_anchor_resolved_by_the_stored_trades_of_its_second() -> None:
    # A B A in one second; we stored A B A (no volume check available)
    rows = [
        ChartTick(_at(3), 500, 5),
        ChartTick(_at(1), 499, 8),
        ChartTick(_at(1), 497, 1),
        ChartTick(_at(1), 499, 8),
    ]
    res = walk_forward(rows, LAST, same_second=[(499, 8), (497, 1), (499, 8)])
    assert res.consistent, res.detail
    assert [t.cum_volume for t in res.ticks] == [1005]


def test_ambiguous_anchor_that_nothing_resolves_is_flagged_and_stores_nothing() -> None:
    rows = [ChartTick(_at(4), 500, 5), ChartTick(_at(1), 499, 8), ChartTick(_at(1), 499, 8)]
    res = walk_forward(rows, LAST)  # neither the stored second nor ka10001 known
    assert not res.consistent
    assert "ambiguous" in res.detail
    assert res.ticks == []


def test_anchor_not_in_the_chart_is_flagged_and_stores_nothing() -> None:
    rows = [ChartTick(_at(4), 500, 5), ChartTick(_at(1), 499, 9)]  # qty differs
    res = walk_forward(rows, LAST, close_cum=1005)
    assert not res.consistent
    assert "not in the tick chart" in res.detail
    assert res.ticks == []


def test_walk_that_misses_the_current_volume_is_flagged() -> None:
    rows = [ChartTick(_at(4), 500, 5), ChartTick(_at(1), 499, 8)]  # a trade is missing
    res = walk_forward(rows, LAST, close_cum=1012)
    assert not res.consistent
    assert "misses the current volume" in res.detail
    assert res.ticks == []
