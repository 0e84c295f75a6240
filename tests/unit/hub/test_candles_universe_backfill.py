"""Pure hub logic: 1-minute candles, universe hysteresis, gap reconstruction."""

from __future__ import annotations

from datetime import datetime, timedelta

from gslts_hub.backfill import ChartTick, LiveAnchor, reconstruct_gap
from gslts_hub.candles import CandleAggregator, minute_of
from gslts_hub.universe import TopSelector
from gslts_kiwoom.realtime import KST

T0 = datetime(2026, 3, 3, 10, 0, 0, tzinfo=KST).timestamp()


def test_candle_counts_in_order_ticks_and_closes_on_timer_without_another_tick() -> None:
    agg = CandleAggregator(grace_s=2.0)
    agg.add("005930", "KRX", 100, T0 + 1, 70_000, 100)  # first sight → rebuild
    keys, rows = agg.plan()
    assert keys == [("005930", minute_of(T0))]
    agg.settle({keys[0]: None}, T0 + 2)
    agg.add("005930", "KRX", 110, T0 + 61, 70_100, 10)
    agg.add("005930", "KRX", 115, T0 + 62, 69_900, 5)
    agg.add("005930", "KRX", 125, T0 + 70, 70_200, 10)
    _, rows = agg.plan()
    bar = rows[0]
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count) == (
        70_100,
        70_200,
        69_900,
        70_200,
        25,
        3,
    )
    assert bar.value == 70_100 * 10 + 69_900 * 5 + 70_200 * 10
    agg.settle({}, T0 + 71)
    assert agg.close_due(T0 + 121) == []  # minute not over + grace yet
    closed = agg.close_due(T0 + 122.5)  # the last bar closes with no further tick
    assert [r.volume for r in closed] == [25]
    assert agg.open_bar("005930") is None


def test_candle_replayed_or_backfilled_tick_marks_rebuild_instead_of_double_count() -> None:
    agg = CandleAggregator()
    agg.add("000660", "KRX", 10, T0, 100, 10)
    agg.settle(dict.fromkeys(agg.plan()[0]), T0)
    agg.add("000660", "KRX", 20, T0 + 60, 100, 10)
    agg.add("000660", "KRX", 30, T0 + 61, 101, 10)
    agg.add("000660", "KRX", 30, T0 + 61, 101, 10)  # the same trade again (replay)
    agg.add("000660", "KRX", 25, T0 + 60, 99, 5)  # an older trade (backfill)
    keys, rows = agg.plan()
    assert keys == [("000660", minute_of(T0 + 60))]
    assert rows == []  # the minute is rebuilt from storage, not counted twice


def test_universe_hysteresis_enters_at_top_and_leaves_after_two_bad_refreshes() -> None:
    sel = TopSelector(size=3, exit_rank=5, exit_refreshes=2)
    ch = sel.update(["A", "B", "C", "D", "E", "F"])
    assert ch.added == {"A", "B", "C"}
    assert not ch.removed
    ch = sel.update(["D", "B", "A", "E", "C", "F"])  # C at rank 5: still inside the band
    assert ch.added == {"D", "A", "B"} - {"A", "B"}
    assert not ch.removed
    ch = sel.update(["D", "B", "A", "E", "F", "G", "C"])  # C rank 7: first strike
    assert not ch.removed
    assert "C" in sel.members
    ch = sel.update(["D", "B", "A", "E", "F", "G", "C"])  # second strike: out
    assert ch.removed == {"C"}
    assert sel.members == {"A", "B", "D"}


def test_universe_strike_resets_when_rank_recovers() -> None:
    sel = TopSelector(size=1, exit_rank=2, exit_refreshes=2)
    sel.update(["A"])
    sel.update(["B", "C", "A"])
    sel.update(["A"])
    assert not sel.update(["B", "C", "A"]).removed


def _at(s: int) -> datetime:
    return datetime(2026, 3, 3, 10, 0, 0, tzinfo=KST) + timedelta(seconds=s)


def test_backfill_reconstructs_cum_volume_walking_back_from_first_live_tick() -> None:
    # stored before the gap: cum 1000. Missed: 3 trades (qty 5, 7, 3). Live: qty 4 → cum 1019.
    rows = [  # newest first, including one trade after the live anchor
        ChartTick(_at(9), 500, 2),
        ChartTick(_at(8), 510, 4),  # first live trade
        ChartTick(_at(7), 505, 3),
        ChartTick(_at(7), 506, 7),
        ChartTick(_at(5), 500, 5),
        ChartTick(_at(1), 499, 8),  # the last stored trade (cum 1000)
    ]
    anchor = LiveAnchor(_at(8), 510, 4, 1019, 10)
    res = reconstruct_gap(rows, anchor, 1000)
    assert res.consistent, res.detail
    assert [(t.cum_volume, t.qty, t.price) for t in res.ticks] == [
        (1005, 5, 500),
        (1012, 7, 506),
        (1015, 3, 505),
    ]


def test_backfill_flags_a_gap_whose_quantities_do_not_add_up() -> None:
    rows = [
        ChartTick(_at(8), 510, 4),
        ChartTick(_at(7), 505, 30),  # more than the gap can hold
        ChartTick(_at(1), 499, 8),
    ]
    res = reconstruct_gap(rows, LiveAnchor(_at(8), 510, 4, 1019, 10), 1000)
    assert not res.consistent
    assert "do not add up" in res.detail
    assert res.ticks == []


def test_backfill_flags_a_chart_that_does_not_reach_back() -> None:
    rows = [ChartTick(_at(8), 510, 4), ChartTick(_at(7), 505, 3)]
    res = reconstruct_gap(rows, LiveAnchor(_at(8), 510, 4, 1019, 10), 1000)
    assert not res.consistent
    assert [t.cum_volume for t in res.ticks] == [1015]  # the trustworthy part is kept
