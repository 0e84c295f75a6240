"""Kiwoom wire formatting for the simulator (PROTOCOL §3.4). The simulator does not import
the client's wire layer: it is the other side of the same protocol and formats itself."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal


def signed(price: int, base: int) -> str:
    """A price signed by direction versus ``base``: ``+68100``, ``-67000``, `` 67500``."""
    if not price:
        return "0"
    if price > base:
        return f"+{price}"
    if price < base:
        return f"-{price}"
    return f" {price}"


def change(diff: int) -> str:
    """A signed KRW change: ``+600``, ``-500``; unchanged is `` 0``."""
    return f"+{diff}" if diff > 0 else (str(diff) if diff < 0 else " 0")


def rate(value: int | Decimal, base: int | Decimal, *, sign: bool = True) -> str:
    """Percent change of ``value`` versus ``base`` with 2 decimals (``+1.23``, ``-0.24``)."""
    if not base:
        return "0.00"
    pct = ((Decimal(value) - Decimal(base)) * 100 / Decimal(base)).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )
    return percent(pct, sign=sign)


def percent(pct: Decimal, *, sign: bool = True) -> str:
    pct = pct.quantize(Decimal("0.01"), ROUND_HALF_UP)
    if sign and pct > 0:
        return f"+{pct}"
    return "0.00" if pct == 0 else str(pct)


def sign_code(price: int, base: int, lower: int = 0, upper: int = 0) -> str:
    """전일대비기호: 1 상한가, 2 상승, 3 보합, 4 하한가, 5 하락."""
    if not price or price == base:
        return "3"
    if price > base:
        return "1" if upper and price >= upper else "2"
    return "4" if lower and price <= lower else "5"


def pad(value: int, width: int) -> str:
    """Zero-padded fixed width with a leading ``-`` when negative (``-00000000196888``)."""
    if value < 0:
        return "-" + str(-value).zfill(width - 1)
    return str(value).zfill(width)


def hhmmss(dt: datetime) -> str:
    return dt.strftime("%H%M%S")


def ymd(dt: datetime) -> str:
    return dt.strftime("%Y%m%d")


def ymdhms(dt: datetime) -> str:
    return dt.strftime("%Y%m%d%H%M%S")
