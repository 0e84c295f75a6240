"""Open gaps survive a restart (a kill -9 between a gap and its backfill lost it before)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson

from gslts_hub.backfill import StoredAnchor
from gslts_hub.pending_gaps import FILENAME, PendingGaps
from gslts_kiwoom.krx import KST

T = datetime(2026, 3, 3, 10, 10, 24, tzinfo=KST)


def _a(cum: int, t: datetime = T) -> StoredAnchor:
    return StoredAnchor(t, 70_000, 3, cum, cum * 70_000 // 10**6)


def test_an_open_gap_is_back_after_a_restart_and_the_oldest_wins(tmp_path: Path) -> None:
    g = PendingGaps(tmp_path)
    g.open("005930", _a(1000))
    g.open("005930", _a(1500))  # a later gap while the first is open: the first covers it
    g.open("000660", _a(20))
    again = PendingGaps(tmp_path)  # what a restarted hub reads
    assert again.for_day(T.date()) == {"005930": _a(1000), "000660": _a(20)}


def test_closing_the_walk_from_the_oldest_anchor_closes_the_gap(tmp_path: Path) -> None:
    g = PendingGaps(tmp_path)
    g.open("005930", _a(1000))
    g.close("005930", _a(1500))  # a walk from a later anchor does not cover the older gap
    assert "005930" in PendingGaps(tmp_path).for_day(T.date())
    g.close("005930", _a(1000))
    assert PendingGaps(tmp_path).for_day(T.date()) == {}


def test_gaps_of_an_earlier_day_are_dropped_and_a_bad_file_is_ignored(tmp_path: Path) -> None:
    g = PendingGaps(tmp_path)
    g.open("005930", _a(1000, T.replace(day=2)))
    assert g.for_day(T.date()) == {}
    assert PendingGaps(tmp_path).for_day(T.date()) == {}
    (tmp_path / FILENAME).write_text("{not json")
    assert len(PendingGaps(tmp_path)) == 0


def test_a_disconnect_opens_every_stock_in_one_write(tmp_path: Path) -> None:
    g = PendingGaps(tmp_path)
    g.open("005930", _a(1000))
    g.open_many({"005930": _a(1200), "000660": _a(20), "035420": _a(7)})
    assert PendingGaps(tmp_path).for_day(T.date()) == {
        "005930": _a(1000),  # the older gap still covers it
        "000660": _a(20),
        "035420": _a(7),
    }


def test_a_gap_opened_during_an_older_walk_outlives_that_walk(tmp_path: Path) -> None:
    """Walk 1 (from cum 1000, live anchor at 1200) is done; gap 2 (after 1500) opened
    while it ran and must still be on disk."""
    g = PendingGaps(tmp_path)
    g.open("005930", _a(1000))
    g.open("005930", _a(1500))
    g.close("005930", _a(1000), upto=1200)
    again = PendingGaps(tmp_path)
    assert again.anchors("005930") == [_a(1500)]
    assert again.for_day(T.date()) == {"005930": _a(1500)}
    again.close("005930", _a(1500), upto=1501)
    assert len(PendingGaps(tmp_path)) == 0


def test_one_walk_over_merged_gaps_closes_all_it_covers(tmp_path: Path) -> None:
    g = PendingGaps(tmp_path)
    for cum in (1000, 1500, 1800, 2500):
        g.open("005930", _a(cum))
    g.open("005930", _a(1500))  # the same gap again (a second disconnect): one entry
    assert len(g) == 4
    g.close("005930", _a(1000), upto=2000)  # the merged walk ended at cum 2000
    assert PendingGaps(tmp_path).anchors("005930") == [_a(2500)]
    g.close("005930", _a(900), upto=2500)  # the anchor at 2500 is the walk's end: open
    assert PendingGaps(tmp_path).anchors("005930") == [_a(2500)]


def test_the_file_of_one_anchor_per_stock_still_loads(tmp_path: Path) -> None:
    """The format before several gaps were kept (a hub upgraded with gaps open)."""
    a = _a(1000)
    doc = {
        "005930": {
            "time": a.time.isoformat(),
            "price": a.price,
            "qty": a.qty,
            "cum_volume": a.cum_volume,
            "cum_value": a.cum_value,
        },
        "000660": {"time": "not a time"},
    }
    (tmp_path / FILENAME).write_bytes(orjson.dumps(doc))
    g = PendingGaps(tmp_path)
    assert g.for_day(T.date()) == {"005930": a}
    assert len(g) == 1
