"""Kiwoom wire formatting for the simulator (PROTOCOL §3.4), REST and WebSocket. The
simulator does not import the client's wire layer: it is the other side of the same
protocol and formats itself. The WebSocket helpers (:func:`sgn`, :func:`pct`,
:func:`hhmmss`) are on the 0B hot path: integer arithmetic, no ``Decimal``."""

from __future__ import annotations

from datetime import date, datetime
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
    return f"{dt.hour:02d}{dt.minute:02d}{dt.second:02d}"


def hh_mm_ss(dt: datetime) -> str:
    """``HH:MM:SS``, as kt00007 writes its times."""
    return f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"


def ymd(dt: datetime) -> str:
    return dt.strftime("%Y%m%d")


def ymd_date(d: date) -> str:
    """``YYYYMMDD`` of a date."""
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def ymdhms(dt: datetime) -> str:
    return dt.strftime("%Y%m%d%H%M%S")


def sgn(price: int, base: int) -> str:
    """A price signed versus the previous close as the WebSocket sends it: ``+68100``,
    ``-67000``, unchanged without a sign (``67500``; REST's :func:`signed` adds a space)."""
    if price > base:
        return f"+{price}"
    if price < base:
        return f"-{price}"
    return str(price)


def pct(value: int, base: int) -> str:
    """Signed percent change with 2 decimals, rounded half-up, in integer arithmetic (the
    same text as :func:`rate`)."""
    if not base:
        return "0.00"
    d = value - base
    x = (abs(d) * 20000 + base) // (2 * base)
    if x == 0:
        return "0.00"
    return f"{'+' if d > 0 else '-'}{x // 100}.{x % 100:02d}"


def dec_x100(x100: int, signed_vs: int | None = None) -> str:
    """An index value held in hundredths as a decimal: signed by its own sign, or (with
    ``signed_vs``) by the direction versus that value, unchanged without a sign."""
    s = f"{abs(x100) // 100}.{abs(x100) % 100:02d}"
    if signed_vs is None:
        return ("-" if x100 < 0 else ("+" if x100 > 0 else "")) + s
    if x100 > signed_vs:
        return "+" + s
    if x100 < signed_vs:
        return "-" + s
    return s
