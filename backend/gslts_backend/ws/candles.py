"""The forming 1-minute candle of each stock, computed from the live trades the hub relays.

Minute boundaries are those of epoch seconds (KST is UTC+9, whole hours: the same
boundaries); a candle's ``time`` follows the charts API's convention (:func:`chart_time`).
A candle the backend started in the middle of its minute (its first trades
seen after start-up or after a bus gap) is ``partial``: its open and volume miss the trades
before; the hub's closed candle of that minute (the ``candle`` bus channel) is the
complete one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gslts_common.bus import Event
from gslts_kiwoom.krx import KST

#: KST is UTC+9: a chart time is the KST wall clock written as if it were UTC
KST_OFFSET_S = 9 * 3600


def chart_time(epoch_s: int) -> int:
    """The charts API's time of a bar starting at ``epoch_s`` (docs/backend.md "Charts":
    the KST wall-clock start as a UTCTimestamp, the true instant + 32,400 s), so a forming
    candle and ``GET /api/charts`` bars go into one lightweight-charts series."""
    return epoch_s + KST_OFFSET_S


@dataclass(slots=True)
class Forming:
    start: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    partial: bool

    def message(self, code: str) -> dict[str, Any]:
        return {
            "type": "candle",
            "code": code,
            "interval": "1m",
            "time": chart_time(self.start),
            "start": datetime.fromtimestamp(self.start, KST).isoformat(),
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
            "closed": False,
            "partial": self.partial,
        }


class CandleBuilder:
    """Forming candles per stock; :meth:`add` takes a live tick batch and says whether the
    stock's forming candle changed."""

    def __init__(self) -> None:
        self.forming: dict[str, Forming] = {}

    def gap(self) -> None:
        """Trades may have been missed: the candles forming now are partial."""
        for f in self.forming.values():
            f.partial = True

    def add(self, code: str, batch: Event) -> bool:
        cur = self.forming.get(code)
        changed = False
        for t, price, vol in zip(batch["time"], batch["price"], batch["volume"], strict=False):
            minute = int(t // 60) * 60
            if cur is None or minute > cur.start:
                cur = Forming(minute, price, price, price, price, 0, partial=cur is None)
                self.forming[code] = cur
            elif minute < cur.start:
                continue  # an older trade (late): its candle is the hub's to close
            if price > cur.high:
                cur.high = price
            if price < cur.low:
                cur.low = price
            cur.close = price
            cur.volume += abs(vol)
            changed = True
        return changed
