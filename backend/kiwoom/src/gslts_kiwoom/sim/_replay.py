"""Replay recorded ticks through the simulator (``gslts sim --replay FILE``).

Input: JSONL, CSV or Parquet (e.g. a ``tick_data_<day>.parquet`` written by
``gslts db archive``) with, per row, ``stock_code`` (or ``code``), ``trade_time`` (or
``time``; ISO datetime, naive = KST), ``price`` and signed ``volume`` (``+`` buy-initiated).
Rows are replayed in time order: a row whose recorded time is ``elapsed × replay_speed``
seconds after the first row's is recorded as a trade of the market model when the clock
passes it — so it lands in ground truth, ticks/books/charts and the 0B/0D stream exactly
like a generated trade (its time is the recorded time). A stock whose recorded price lies
outside the simulated day's limits is re-based on its first recorded price.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gslts_kiwoom import krx
from gslts_kiwoom.sim._market import Market


@dataclass(frozen=True, slots=True)
class ReplayRow:
    code: str
    time: datetime
    price: int
    volume: int


def _parse_time(raw: Any) -> datetime:
    t = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).strip())
    return t.replace(tzinfo=krx.KST) if t.tzinfo is None else t.astimezone(krx.KST)


def _row(obj: dict[str, Any]) -> ReplayRow:
    code = str(obj.get("stock_code") or obj.get("code") or "").strip()
    if code.startswith("A") and len(code) == 7:
        code = code[1:]
    return ReplayRow(
        code=code,
        time=_parse_time(obj.get("trade_time") or obj.get("time")),
        price=abs(int(obj["price"])),
        volume=int(obj["volume"]),
    )


def load_rows(path: str | Path) -> list[ReplayRow]:
    """Read a replay file (by extension: ``.jsonl``/``.json``, ``.csv``, ``.parquet``)."""
    p = Path(path)
    suffix = p.suffix.lower()
    raw: list[dict[str, Any]]
    if suffix == ".parquet":
        import pyarrow.parquet as pq  # optional: only replays of archives need it

        raw = pq.read_table(p).to_pylist()
    elif suffix == ".csv":
        with p.open(newline="", encoding="utf-8") as fh:
            raw = list(csv.DictReader(fh))
    else:
        with p.open(encoding="utf-8") as fh:
            raw = [json.loads(line) for line in fh if line.strip()]
    rows = [_row(r) for r in raw]
    rows.sort(key=lambda r: r.time)
    return rows


class Replayer:
    """Feeds recorded rows into the market as the simulator's clock advances."""

    def __init__(self, market: Market, path: str | Path, speed: float = 1.0) -> None:
        self.market = market
        self.path = str(path)
        self.speed = speed
        self.rows = load_rows(path)
        self.pos = 0
        self.skipped = 0
        self._origin: datetime | None = None

    def state(self) -> dict[str, Any]:
        return {"file": Path(self.path).name, "rows": len(self.rows), "done": self.pos}

    def step(self, now: datetime) -> int:
        """Record every row due by ``now`` (call under the simulator lock)."""
        market = self.market
        now = now.astimezone(krx.KST)
        if self._origin is None:
            self._origin = market.now
        if now > market.now:
            market.now = now
        if not self.rows:
            return 0
        elapsed = (now - self._origin).total_seconds() * self.speed
        first = self.rows[0].time
        made = 0
        while self.pos < len(self.rows):
            row = self.rows[self.pos]
            if (row.time - first).total_seconds() > elapsed:
                break
            self.pos += 1
            if row.code not in market.universe or not row.volume or row.price <= 0:
                self.skipped += 1
                continue
            st = market.state(row.code)
            if not st.lower <= row.price <= st.upper:
                market.rebase(st, row.price)
            market.record_trade(st, row.time, row.price, row.volume)
            market.mark_book_changed(st)
            made += 1
        market.flush_books()
        return made
