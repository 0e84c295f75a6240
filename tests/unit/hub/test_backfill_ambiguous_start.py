"""Backward gap walk when the first live trade repeats in its second (a busy stock trading
small lots at the touch): the walk from a wrong copy of it can add up to the stored
cumulative volume too, and would then store every trade of the gap under a shifted key.
The walk must land on the stored trade itself."""

from __future__ import annotations

from datetime import datetime, timedelta

from gslts_hub.backfill import ChartTick, LiveAnchor, StoredAnchor, reconstruct_gap
from gslts_kiwoom.realtime import KST


def _at(s: int) -> datetime:
    return datetime(2026, 3, 3, 10, 0, 0, tzinfo=KST) + timedelta(seconds=s)


STORED = StoredAnchor(_at(1), 500, 7, 1000, 3)  # the last stored trade: cum 1000
LIVE = LiveAnchor(_at(4), 502, 2, 1012, 3)  # the first live trade after the gap

# newest first: a second 502x2 in the first live trade's second (received live after it),
# the first live trade, the gap (3 trades: 2 + 5 + 3 shares), the stored trade
ROWS = [
    ChartTick(_at(4), 502, 2),  # later in the same second: a copy of the first live trade
    ChartTick(_at(4), 502, 2),  # the first live trade (cum 1012)
    ChartTick(_at(3), 501, 3),  # cum 1010
    ChartTick(_at(2), 501, 5),  # cum 1007
    ChartTick(_at(2), 499, 2),  # cum 1002 — the wrong walk lands here (cum 1000)
    ChartTick(_at(1), 500, 7),  # the stored trade (cum 1000)
    ChartTick(_at(1), 498, 4),  # stored before it, same second
]


def test_the_walk_must_land_on_the_stored_trade_not_just_its_volume() -> None:
    res = reconstruct_gap(ROWS, LIVE, STORED.cum_volume, stored=STORED)
    assert res.consistent, res.detail
    assert [(t.time, t.price, t.qty, t.cum_volume) for t in res.ticks] == [
        (_at(2), 499, 2, 1002),
        (_at(2), 501, 5, 1007),
        (_at(3), 501, 3, 1010),
    ]


def test_the_stored_trades_of_the_anchor_second_must_match() -> None:
    res = reconstruct_gap(
        ROWS, LIVE, STORED.cum_volume, stored=STORED, same_second=[(498, 4), (500, 7)]
    )
    assert res.consistent, res.detail
    assert [t.cum_volume for t in res.ticks] == [1002, 1007, 1010]
    other = reconstruct_gap(
        ROWS, LIVE, STORED.cum_volume, stored=STORED, same_second=[(497, 4), (500, 7)]
    )
    assert not other.consistent
    assert other.ticks == []


def test_two_walks_that_land_on_the_stored_trade_and_differ_are_flagged() -> None:
    # the stored trade repeats in its second too: both walks fit both ends, they disagree
    rows = [
        ChartTick(_at(4), 502, 2),
        ChartTick(_at(4), 502, 2),
        ChartTick(_at(3), 501, 3),
        ChartTick(_at(2), 500, 2),
        ChartTick(_at(2), 500, 2),
    ]
    stored = StoredAnchor(_at(2), 500, 2, 1005, 3)
    res = reconstruct_gap(rows, LIVE, stored.cum_volume, stored=stored)
    assert not res.consistent
    assert "ambiguous" in res.detail
    assert res.ticks == []


def test_the_live_trades_that_followed_pick_the_anchor_row() -> None:
    """The hub waits for a few live trades after the first one: in the chart the true
    anchor row is followed by exactly those, which settles the case above."""
    from dataclasses import replace

    rows = [
        ChartTick(_at(5), 503, 1),  # the second live trade after the gap
        ChartTick(_at(4), 502, 2),
        ChartTick(_at(4), 502, 2),
        ChartTick(_at(3), 501, 3),
        ChartTick(_at(2), 500, 2),
        ChartTick(_at(2), 500, 2),
    ]
    stored = StoredAnchor(_at(2), 500, 2, 1005, 3)
    # live: the older 502x2 came first, then the newer one, then 503x1
    live = replace(LIVE, after=((_at(4), 502, 2), (_at(5), 503, 1)))
    res = reconstruct_gap(rows, live, stored.cum_volume, stored=stored)
    assert res.consistent, res.detail
    assert [(t.time, t.price, t.qty, t.cum_volume) for t in res.ticks] == [
        (_at(2), 500, 2, 1007),
        (_at(3), 501, 3, 1010),
    ]
    # the newer copy came first: only 503x1 followed it
    live = replace(LIVE, after=((_at(5), 503, 1),))
    res = reconstruct_gap(rows, live, stored.cum_volume, stored=stored)
    assert res.consistent, res.detail
    assert [t.cum_volume for t in res.ticks] == [1005 + 3, 1010]
