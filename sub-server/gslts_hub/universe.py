"""Which stocks the hub collects: top-N by trading value with hysteresis, plus the watchlist.

The ranking (ka10032 거래대금상위요청) reshuffles all day; without hysteresis a stock near
rank 50 would be subscribed and dropped every refresh, leaving holes in its tick history.
A stock **enters** at rank <= ``size`` and **leaves** only after ``exit_refreshes``
consecutive refreshes ranked worse than ``exit_rank`` (or absent from the ranking).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class UniverseChange:
    """The result of one refresh."""

    added: frozenset[str]
    removed: frozenset[str]
    ranks: dict[str, int] = field(default_factory=dict)


class TopSelector:
    """Top-N membership with hysteresis (pure; the hub calls :meth:`update` per refresh).

    Args:
        size: enter at rank <= size.
        exit_rank: a member ranked worse than this gets a strike.
        exit_refreshes: strikes in a row that remove a member.
    """

    def __init__(self, size: int = 50, exit_rank: int = 60, exit_refreshes: int = 2) -> None:
        if exit_rank < size:
            raise ValueError("exit_rank must be >= size")
        self.size = size
        self.exit_rank = exit_rank
        self.exit_refreshes = max(1, exit_refreshes)
        self._members: set[str] = set()
        self._strikes: dict[str, int] = {}

    @property
    def members(self) -> frozenset[str]:
        return frozenset(self._members)

    def update(self, ranking: Sequence[str]) -> UniverseChange:
        """Apply a ranking (codes, best first) and return who joined and who left."""
        ranks: dict[str, int] = {}
        for i, code in enumerate(ranking, start=1):
            ranks.setdefault(code, i)
        added = {c for c, r in ranks.items() if r <= self.size and c not in self._members}
        removed: set[str] = set()
        for code in self._members:
            rank = ranks.get(code)
            if rank is not None and rank <= self.exit_rank:
                self._strikes.pop(code, None)
                continue
            strikes = self._strikes.get(code, 0) + 1
            if strikes >= self.exit_refreshes:
                removed.add(code)
                self._strikes.pop(code, None)
            else:
                self._strikes[code] = strikes
        self._members = (self._members - removed) | added
        return UniverseChange(frozenset(added), frozenset(removed), ranks)
