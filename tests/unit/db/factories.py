"""Test data for the database tests (shared by the SQLite and MariaDB suites)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from gslts_db import KST, TickRow


def ticks(
    code: str,
    day: date,
    n: int,
    *,
    venue: str = "KRX",
    start: tuple[int, int] = (9, 0),
    first_cum: int = 0,
    price: int = 70_000,
) -> list[TickRow]:
    """``n`` consecutive trades of one stock, one per second from ``start`` (KST)."""
    t0 = datetime(day.year, day.month, day.day, *start, tzinfo=KST)
    rows = []
    cum = first_cum
    for i in range(n):
        qty = 10 + i % 7
        cum += qty
        px = price + 100 * (i % 5)
        rows.append(
            TickRow(
                stock_code=code,
                trade_date=day,
                venue=venue,
                cum_volume=cum,
                trade_time=t0 + timedelta(seconds=i),
                recv_time=t0 + timedelta(seconds=i, microseconds=1234 + i),
                price=px,
                volume=qty if i % 2 == 0 else -qty,
                cum_value=cum * px // 1_000_000,
                best_ask=px + 100,
                best_bid=px,
                change_rate=Decimal("1.25") + Decimal(i % 3),
                strength=Decimal("103.40"),
                session="regular",
                source="live",
            )
        )
    return rows
