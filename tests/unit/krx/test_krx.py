"""KRX rules: tick bands and their edges, ±30 % limits, session phases, trading calendar."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from gslts_kiwoom import krx
from gslts_kiwoom.krx import KST, Phase


@pytest.mark.parametrize(
    ("below", "edge", "tick_below", "tick_at_edge"),
    [
        (1999, 2000, 1, 5),
        (4995, 5000, 5, 10),
        (49950, 50000, 50, 100),
        (199900, 200000, 100, 500),
        (499500, 500000, 500, 1000),
    ],
)
def test_tick_band_edges(below: int, edge: int, tick_below: int, tick_at_edge: int) -> None:
    assert krx.tick_size(below) == tick_below
    assert krx.tick_size(edge) == tick_at_edge
    # the last valid price of a band is one (lower-band) tick below the edge
    assert krx.tick_down(edge) == below
    assert krx.tick_up(below) == edge
    assert krx.is_valid_price(below)
    assert krx.is_valid_price(edge)


def test_band_interior_ticks() -> None:
    assert [krx.tick_size(p) for p in (1, 3000, 10000, 30000, 100000, 300000, 900000)] == [
        1,
        5,
        10,
        50,
        100,
        500,
        1000,
    ]


def test_valid_price_grid() -> None:
    assert not krx.is_valid_price(2001)
    assert not krx.is_valid_price(50050)
    assert krx.is_valid_price(50100)
    assert not krx.is_valid_price(0)
    assert krx.is_valid_price(67500)
    assert not krx.is_valid_price(67550)


def test_etf_tick_is_five() -> None:
    assert krx.tick_size(60000, etf=True) == 5
    assert krx.is_valid_price(60005, etf=True)
    assert not krx.is_valid_price(60005)


def test_round_to_tick() -> None:
    assert krx.round_to_tick(67549, "down") == 67500
    assert krx.round_to_tick(67501, "up") == 67600
    assert krx.round_to_tick(67549, "nearest") == 67500
    assert krx.round_to_tick(67550, "nearest") == 67600
    assert krx.round_to_tick(4997, "up") == 5000
    assert krx.round_to_tick(4997, "down") == 4995
    assert krx.round_to_tick(50000, "up") == 50000


def test_negative_price_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        krx.tick_size(-1)


@pytest.mark.parametrize(
    ("base", "lower", "upper"),
    [
        (67500, 47250, 87700),  # 87,750 rounds down to the 100 grid; 47,250 is on the 50 grid
        (10000, 7000, 13000),  # exact
        (1999, 1400, 2595),  # 2,598.7 → 2,595 (5-tick band); 1,399.3 → 1,400
        (547000, 383000, 711000),  # 382,900 → 383,000 (500 grid); 711,100 → 711,000
    ],
)
def test_price_limits_round_inward(base: int, lower: int, upper: int) -> None:
    assert krx.price_limits(base) == (lower, upper)
    assert krx.is_valid_price(lower)
    assert krx.is_valid_price(upper)
    assert upper <= base * 1.3
    assert lower >= base * 0.7


def test_krx_phases_on_a_trading_day() -> None:
    day = date(2026, 9, 28)  # a Monday, trading day

    def at(h: int, m: int) -> Phase:
        return krx.phase_at(datetime(day.year, day.month, day.day, h, m, tzinfo=KST))

    assert at(8, 29) is Phase.CLOSED
    assert at(8, 35) is Phase.OPENING_AUCTION
    assert Phase.PRE_OPEN_OFF_HOURS in krx.phases_at(datetime(2026, 9, 28, 8, 35, tzinfo=KST))
    assert at(9, 0) is Phase.CONTINUOUS
    assert at(15, 19) is Phase.CONTINUOUS
    assert at(15, 20) is Phase.CLOSING_AUCTION
    assert at(15, 35) is Phase.CLOSED
    assert at(15, 45) is Phase.POST_CLOSE_OFF_HOURS
    assert at(17, 0) is Phase.AFTER_HOURS_SINGLE_PRICE
    assert at(18, 0) is Phase.CLOSED


def test_nxt_phases() -> None:
    def at(h: int, m: int) -> Phase:
        return krx.phase_at(datetime(2026, 9, 28, h, m, tzinfo=KST), "NXT")

    assert at(8, 0) is Phase.PRE_MARKET
    assert at(8, 55) is Phase.CLOSED
    assert at(10, 0) is Phase.CONTINUOUS
    assert at(15, 25) is Phase.CLOSED
    assert at(19, 59) is Phase.AFTER_MARKET
    assert at(20, 0) is Phase.CLOSED
    assert Phase.AFTER_MARKET.is_continuous
    assert not Phase.OPENING_AUCTION.is_continuous


def test_phase_accepts_other_time_zones() -> None:
    from datetime import UTC

    # 01:00 UTC = 10:00 KST
    assert krx.phase_at(datetime(2026, 9, 28, 1, 0, tzinfo=UTC)) is Phase.CONTINUOUS
    with pytest.raises(ValueError, match="timezone-aware"):
        krx.phase_at(datetime(2026, 9, 28, 10, 0))  # noqa: DTZ001


def test_calendar_weekend_and_chuseok() -> None:
    assert krx.is_trading_day(date(2026, 9, 23))  # Wednesday before Chuseok
    # XKRX: Chuseok 2026 closes Thu 24 – Fri 25 Sep (and the weekend after)
    assert not krx.is_trading_day(date(2026, 9, 24))
    assert not krx.is_trading_day(date(2026, 9, 25))
    assert not krx.is_trading_day(date(2026, 9, 26))  # Saturday
    assert krx.next_trading_day(date(2026, 9, 23)) == date(2026, 9, 28)
    assert krx.previous_trading_day(date(2026, 9, 28)) == date(2026, 9, 23)
    assert krx.phase_at(datetime(2026, 9, 25, 10, 0, tzinfo=KST)) is Phase.CLOSED
    assert (
        krx.phase_at(datetime(2026, 9, 25, 10, 0, tzinfo=KST), check_calendar=False)
        is Phase.CONTINUOUS
    )


def test_calendar_new_year_and_range() -> None:
    assert not krx.is_trading_day(date(2026, 1, 1))
    days = krx.trading_days(date(2026, 9, 21), date(2026, 9, 30))
    assert date(2026, 9, 24) not in days
    assert date(2026, 9, 28) in days
    assert days == sorted(days)
    # beyond the calendar's horizon only weekends are closed
    assert krx.is_trading_day(date(2040, 1, 2))
    assert not krx.is_trading_day(date(2040, 1, 7))
