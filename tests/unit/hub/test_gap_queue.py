"""One waiting walk per stock: gaps that come faster than walks finish merge."""

from __future__ import annotations

import queue
import threading
from datetime import datetime, timedelta

import pytest

from gslts_hub.backfill import LiveAnchor, StoredAnchor
from gslts_hub.gap_queue import GapQueue
from gslts_kiwoom.krx import KST

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=KST)


def _s(cum: int, day: int = 0) -> StoredAnchor:
    return StoredAnchor(T0 + timedelta(days=day, seconds=cum), 70_000, 1, cum, 0)


def _l(cum: int, qty: int = 1) -> LiveAnchor:
    return LiveAnchor(T0 + timedelta(seconds=cum), 70_000, qty, cum, 0)


def test_a_stocks_second_gap_joins_the_waiting_one_and_keeps_its_place() -> None:
    q = GapQueue()
    q.put(("005930", _s(100), _l(150)))
    q.put(("000660", _s(10), _l(20)))
    q.put(("005930", _s(200), _l(260)))  # a later drop before the first walk started
    assert len(q) == 2
    assert q.merged == 1
    # the older start and the newer end: one walk covers both gaps
    assert q.get_nowait() == ("005930", _s(100), _l(260))
    assert q.get_nowait() == ("000660", _s(10), _l(20))
    with pytest.raises(queue.Empty):
        q.get_nowait()


@pytest.mark.parametrize(
    ("first", "second", "merged"),
    [
        # a silent stock's forward gap, then a live gap after it: the live end covers both
        ((_s(100), None), (_s(200), _l(260)), (_s(100), _l(260))),
        # a live gap, then a forward gap that starts after its live anchor: walk forward
        ((_s(100), _l(150)), (_s(300), None), (_s(100), None)),
        # a forward gap that starts before the live anchor is covered by it
        ((_s(100), _l(150, qty=5)), (_s(120), None), (_s(100), _l(150, qty=5))),
        # another day's gap replaces yesterday's (a day's count starts at 0)
        ((_s(100), _l(150)), (_s(5, day=1), _l(9)), (_s(5, day=1), _l(9))),
    ],
)
def test_merge_rules(
    first: tuple[StoredAnchor, LiveAnchor | None],
    second: tuple[StoredAnchor, LiveAnchor | None],
    merged: tuple[StoredAnchor, LiveAnchor | None],
) -> None:
    q = GapQueue()
    q.put(("005930", *first))
    q.put(("005930", *second))
    assert q.get_nowait() == ("005930", *merged)


def test_get_waits_for_a_put_and_times_out_when_none_comes() -> None:
    q = GapQueue()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=30)))
    t.start()
    q.put(("005930", _s(1), None))
    t.join(30)
    assert got == [("005930", _s(1), None)]
