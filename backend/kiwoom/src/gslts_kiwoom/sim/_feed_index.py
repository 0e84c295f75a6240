"""0J 업종지수: the simulated indexes (:data:`~gslts_kiwoom.sim._indexes.INDEXES`, the
same definitions as ka20001) kept incrementally from their members' trades.

Levels are cap-weighted member prices in integer hundredths. Trades are only noted per
stock as they come (:meth:`IndexFeed.track`); the arithmetic runs once per stock per flush
(:meth:`IndexFeed.update`), not per trade. FID 13/14 are thousands of shares / 백만원 like
ka20001.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gslts_kiwoom.sim import _fmt as f
from gslts_kiwoom.sim._indexes import INDEXES
from gslts_kiwoom.sim._universe import Stock


@dataclass(slots=True)
class _Index:
    code: str
    base_x100: int  # level at reference prices, in hundredths
    ref: int  # Σ shares × snapshot price
    prev: int  # Σ shares × previous close
    cur: int  # Σ shares × last price
    open_x100: int = 0
    high_x100: int = 0
    low_x100: int = 0
    volume: int = 0
    #: value traded by the members today, exact KRW (FID 14 sends it in 백만원)
    value_krw: int = 0
    dirty: bool = False
    last_t: datetime | None = None

    def level(self, cur: int) -> int:
        return self.base_x100 * cur // self.ref if self.ref else 0


class IndexFeed:
    """The indexes over ``universe`` and the 0J entries of those that moved."""

    def __init__(self, universe: Mapping[str, Stock]) -> None:
        self._universe = universe
        self._indexes: dict[str, _Index] = {}
        #: member code → the indexes it is in, with its listed shares
        self._members: dict[str, list[tuple[_Index, int]]] = {}
        self._last_price: dict[str, int] = {}
        #: code → [last price, shares, KRW, time] traded since the last update
        self._moved: dict[str, list[Any]] = {}
        stocks = tuple(universe.values())
        for d in INDEXES:
            members = d.members(stocks)
            ref = sum(s.listed_shares * s.base_price for s in members)
            ix = _Index(d.code, int(d.base_level * 100), ref, ref, ref)
            for s in members:
                self._members.setdefault(s.code, []).append((ix, s.listed_shares))
            self._indexes[d.code] = ix

    def is_member(self, code: str) -> bool:
        """True when ``code`` is in some index (only their trades need :meth:`track`)."""
        return code in self._members

    def track(self, code: str, price: int, qty: int, value_krw: int, t: datetime) -> None:
        """Note trades of member ``code``: last ``price``, ``qty`` shares and ``value_krw``
        traded, the last at ``t``."""
        moved = self._moved.get(code)
        if moved is None:
            self._moved[code] = [price, qty, value_krw, t]
        else:
            moved[0] = price
            moved[1] += qty
            moved[2] += value_krw
            moved[3] = t

    def update(self) -> None:
        """Fold the noted trades into the levels (marks the moved indexes dirty)."""
        if not self._moved:
            return
        moved, self._moved = self._moved, {}
        for code, (price, qty, value, t) in moved.items():
            old = self._last_price.get(code)
            if old is None:
                old = self._universe[code].base_price
            self._last_price[code] = price
            for ix, shares in self._members[code]:
                ix.cur += shares * (price - old)
                ix.volume += qty
                ix.value_krw += value
                ix.dirty = True
                ix.last_t = t
        for ix in self._indexes.values():
            if ix.dirty:
                lv = ix.level(ix.cur)
                if not ix.open_x100:
                    ix.open_x100 = ix.high_x100 = ix.low_x100 = lv
                ix.high_x100 = max(ix.high_x100, lv)
                ix.low_x100 = min(ix.low_x100, lv)

    def take_entries(self, wanted: Callable[[str], bool], now: datetime) -> list[dict[str, Any]]:
        """The 0J entries of the indexes that moved since the last call and that
        ``wanted(code)``; ``now`` stamps an index with no trade time."""
        out = []
        for ix in self._indexes.values():
            if ix.dirty:
                ix.dirty = False
                if wanted(ix.code):
                    out.append(self._entry(ix, now))
        return out

    def _entry(self, ix: _Index, now: datetime) -> dict[str, Any]:
        """0J 업종지수 of an index whose members traded since the last flush."""
        lv = ix.level(ix.cur)
        prev = ix.level(ix.prev)
        diff = lv - prev
        values = {
            "20": f.hhmmss(ix.last_t or now),
            "10": f.dec_x100(lv, prev),
            "11": f.dec_x100(diff),
            "12": f.pct(lv, prev),
            "15": "0",
            "13": str(ix.volume // 1000),
            "14": str(ix.value_krw // 1_000_000),
            "16": f.dec_x100(ix.open_x100 or lv, prev),
            "17": f.dec_x100(ix.high_x100 or lv, prev),
            "18": f.dec_x100(ix.low_x100 or lv, prev),
            "25": "2" if diff > 0 else ("5" if diff < 0 else "3"),
            "26": "0",
        }
        return {"type": "0J", "name": "업종지수", "item": ix.code, "values": values}

    def level(self, code: str) -> int:
        """The index level in hundredths (for tests and ``/_sim/state``)."""
        ix = self._indexes[code]
        return ix.level(ix.cur)
