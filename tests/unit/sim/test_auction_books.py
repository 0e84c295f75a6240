"""A call auction's start and end go out as books (0D) of the stocks taking part: with
the indicative crossing price (FID 23/24) while the auction collects orders, without it
once the stock trades continuously again — so a subscriber sees 동시호가 live."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from gslts_kiwoom import krx

from .conftest import START, make_sim

CODE = "005930"


def _books(batches: list[list[Any]]) -> list[dict[str, str]]:
    return [
        e["values"]
        for entries in batches
        for e in entries
        if isinstance(e, dict) and e["type"] == "0D" and e["item"] == CODE
    ]


def test_the_opening_auction_s_books_carry_the_expected_price_until_the_crossing() -> None:
    start = datetime.combine(START.date(), time(8, 59, 50), tzinfo=krx.KST)
    sim = make_sim(clock="krx", start_time=start, trades_per_s=50)
    sim.feed._wanted = {"0D": frozenset({CODE})}
    sim.feed.refresh = lambda: None  # type: ignore[method-assign]
    batches: list[list[Any]] = []
    sim.feed.add_listener(lambda entries: batches.append(list(entries)))

    sim.step(start + timedelta(seconds=1))  # the first step finds the auction running
    assert sim.market.in_auction
    (during,) = _books(batches)
    last = sim.market.state(CODE).last
    assert abs(int(during["23"])) == last  # the indicative price: the last price
    assert int(during["24"]) > 0
    batches.clear()
    sim.step(start + timedelta(seconds=5))  # nothing changes within the auction
    assert _books(batches) == []

    sim.step(start + timedelta(seconds=11))  # 09:00:01: crossed, continuous trading
    assert not sim.market.in_auction
    books = _books(batches)
    assert books, "no book after the crossing"
    assert books[-1]["23"] == books[-1]["24"] == ""  # the auction is over
