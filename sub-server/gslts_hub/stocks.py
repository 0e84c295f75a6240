"""Per-stock live state: what the socket thread knows of each collected stock.

Written by the socket thread only (:mod:`gslts_hub.ingest`); read racily by the status
snapshot and by the gap tracker (a disconnect opens each stock's gap at its last trade).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(slots=True)
class StockState:
    """Per-stock live state (written by the socket thread)."""

    code: str
    name: str = ""
    last_price: int | None = None
    ticks_today: int = 0
    last_tick_at: float | None = None  # receive time, epoch s
    last_cum: int | None = None  # KRX cumulative volume of the last live trade
    last_trade_time: datetime | None = None
    last_krx_price: int = 0  # … and its price, quantity, cumulative value (forward walk)
    last_qty: int = 0
    last_cum_value: int = 0
    day: date | None = None
