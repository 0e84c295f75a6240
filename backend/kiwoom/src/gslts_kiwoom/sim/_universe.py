"""The stock universe shipped with the simulator (built by ``scripts/build_universe.py``)."""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from gslts_kiwoom import krx


@dataclass(frozen=True, slots=True)
class Stock:
    """One listing: static facts from the August 2023 KRX snapshot.

    ``base_price`` is the snapshot's close (the previous close of the simulator's first
    day); ``volume``/``value`` are that day's real shares and KRW traded, which scale the
    simulated activity.
    """

    code: str
    name: str
    market: str  # KOSPI | KOSDAQ | KOSDAQ GLOBAL | KONEX
    dept: str
    sector: str
    sector_mid: str
    base_price: int
    listed_shares: int
    volume: int
    value: int
    marcap: int
    nxt: bool

    @property
    def market_code(self) -> str:
        """ka10099 ``marketCode``: 0 KOSPI, 10 KOSDAQ, 50 KONEX."""
        return {"KOSPI": "0", "KONEX": "50"}.get(self.market, "10")


@lru_cache(maxsize=1)
def load_universe() -> tuple[Stock, ...]:
    """Every listing, sorted by code. Cached for the process."""
    raw = resources.files("gslts_kiwoom.sim").joinpath("data/universe.csv.gz").read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        out.append(
            Stock(
                code=row["code"],
                name=row["name"],
                market=row["market"],
                dept=row["dept"],
                sector=row["sector"],
                sector_mid=row["sector_mid"],
                # keep the grid invariant even if a snapshot price were off-grid
                base_price=krx.round_to_tick(max(int(row["base_price"]), 1)),
                listed_shares=int(row["listed_shares"]),
                volume=int(row["volume"]),
                value=int(row["value"]),
                marcap=int(row["marcap"]),
                nxt=row["nxt"] == "Y",
            )
        )
    return tuple(out)


@lru_cache(maxsize=1)
def api_paths() -> dict[str, str]:
    """api-id → URL path of every API in the Kiwoom catalogue (for 1504 vs 1505)."""
    import json

    raw = resources.files("gslts_kiwoom.sim").joinpath("data/api_paths.json").read_text("utf-8")
    data: dict[str, str] = json.loads(raw)
    return data
