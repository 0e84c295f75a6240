"""The indexes the simulator computes (ka10101/ka20001 over REST, 0J over WebSocket):
members and base level of each. A leaf: the REST handlers and the feed both use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from gslts_kiwoom.sim._universe import Stock


@dataclass(frozen=True, slots=True)
class IndexDef:
    """A simulated index: members and the level it had at the snapshot's prices."""

    market_tp: str
    code: str
    name: str
    base_level: Decimal
    members: Callable[[tuple[Stock, ...]], list[Stock]]


def _ranked(market: str, lo: int, hi: int) -> Callable[[tuple[Stock, ...]], list[Stock]]:
    def pick(universe: tuple[Stock, ...]) -> list[Stock]:
        stocks = sorted(
            (s for s in universe if s.market in market.split("|")), key=lambda s: -s.marcap
        )
        return stocks[lo:hi]

    return pick


#: The indexes we simulate (size classes; KRX industry indexes need membership data we
#: do not have). Levels are roughly those of August 2023.
INDEXES: tuple[IndexDef, ...] = (
    IndexDef("0", "001", "종합(KOSPI)", Decimal("2600.00"), _ranked("KOSPI", 0, 10_000)),
    IndexDef("0", "002", "대형주", Decimal("2500.00"), _ranked("KOSPI", 0, 100)),
    IndexDef("0", "003", "중형주", Decimal("2900.00"), _ranked("KOSPI", 100, 300)),
    IndexDef("0", "004", "소형주", Decimal("2400.00"), _ranked("KOSPI", 300, 10_000)),
    IndexDef(
        "1", "101", "종합(KOSDAQ)", Decimal("880.00"), _ranked("KOSDAQ|KOSDAQ GLOBAL", 0, 10_000)
    ),
    IndexDef(
        "1", "102", "코스닥 대형주", Decimal("1900.00"), _ranked("KOSDAQ|KOSDAQ GLOBAL", 0, 100)
    ),
    IndexDef("2", "201", "코스피200", Decimal("350.00"), _ranked("KOSPI", 0, 200)),
    IndexDef("4", "401", "코스피100", Decimal("2600.00"), _ranked("KOSPI", 0, 100)),
    IndexDef("7", "701", "KRX100", Decimal("5300.00"), _ranked("KOSPI|KOSDAQ", 0, 100)),
)
