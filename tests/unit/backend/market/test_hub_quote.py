"""A quote from the hub's last trade carries the 기준가 (and the change against it)."""

from __future__ import annotations

from gslts_backend.market.quotes import quote_from_hub


def test_the_hubs_quote_gives_base_price_change_and_the_day_range() -> None:
    q = quote_from_hub(
        {"code": "005930", "price": 70_500, "cum_volume": 1_000, "cum_value": 70,
         "time": "2026-12-04T10:00:00+09:00", "base_price": 70_000, "open": 69_900,
         "high": 71_000, "low": 69_500}
    )  # fmt: skip
    assert q["source"] == "hub"
    assert (q["base_price"], q["change"], q["change_rate"]) == (70_000, 500, 0.71)
    assert (q["open"], q["high"], q["low"]) == (69_900, 71_000, 69_500)


def test_a_quote_of_an_older_hub_has_no_base_price() -> None:
    q = quote_from_hub({"code": "005930", "price": 70_500, "time": None})
    assert (q["base_price"], q["change"], q["change_rate"], q["open"]) == (None, None, None, None)
