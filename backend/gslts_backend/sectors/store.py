"""Every SQL statement of the sector link (tables of ``gslts_db``: ``us_sector_data``,
``us_instruments``, ``kr_daily_bars``, ``sector_links``, ``sector_recommendations``).

Functions take an open :class:`~sqlalchemy.engine.Connection`; the caller owns the
transaction (an import is one ``engine.begin()``). Writes are idempotent upserts on the
primary keys (``ON DUPLICATE KEY UPDATE`` on MySQL/MariaDB, ``ON CONFLICT DO UPDATE`` on
SQLite): importing a file twice, or a corrected file, leaves one row per key with the
latest values.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from gslts_backend.sectors.model import Bar, Link, Recommendation
from gslts_db import (
    KrDailyBar,
    SectorLink,
    SectorRecommendation,
    StockMaster,
    UsInstrument,
    UsSectorData,
    is_mysql,
)

#: rows per executemany call
BATCH = 2000
#: the market factors every world and the model need besides the linked instruments
MARKET_FACTORS: dict[str, str] = {
    "EWY": "iShares MSCI South Korea ETF",
    "SPY": "SPDR S&P 500 ETF Trust",
}

US: sa.Table = UsSectorData.__table__  # type: ignore[assignment]
INSTR: sa.Table = UsInstrument.__table__  # type: ignore[assignment]
KR: sa.Table = KrDailyBar.__table__  # type: ignore[assignment]
LINKS: sa.Table = SectorLink.__table__  # type: ignore[assignment]
RECS: sa.Table = SectorRecommendation.__table__  # type: ignore[assignment]
MASTER: sa.Table = StockMaster.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    name: str
    kind: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class StoredLink:
    """A row of ``sector_links`` (with the instrument's name when known)."""

    us_symbol: str
    kr_code: str
    kr_name: str
    confidence: str
    rationale: str
    active: bool
    us_name: str = ""
    #: the stock master's industry group (업종) of the stock, when the master lists it
    kr_sector: str | None = None

    def to_link(self) -> Link:
        return Link(
            us_symbol=self.us_symbol,
            kr_code=self.kr_code,
            confidence=self.confidence,
            rationale=self.rationale,
            us_name=self.us_name,
            kr_name=self.kr_name,
        )


def _upsert(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert or update ``rows`` (dicts of every column) by the table's primary key."""
    if not rows:
        return 0
    keys = {c.name for c in table.primary_key.columns}
    cols = [c for c in rows[0] if c not in keys]
    for i in range(0, len(rows), BATCH):
        chunk = list(rows[i : i + BATCH])
        if is_mysql(conn):
            my = mysql_dialect.insert(table)
            stmt: Any = my.on_duplicate_key_update({c: my.inserted[c] for c in cols})
        else:
            lite = sqlite_dialect.insert(table)
            stmt = lite.on_conflict_do_update(
                index_elements=sorted(keys), set_={c: lite.excluded[c] for c in cols}
            )
        conn.execute(stmt, chunk)
    return len(rows)


def _dec(x: float) -> Decimal:
    return Decimal(f"{x:.6f}")


# --- US bars ----------------------------------------------------------------------------


def upsert_us_bars(conn: Connection, symbol: str, bars: Iterable[Bar], source: str) -> int:
    rows = [
        {
            "symbol": symbol,
            "trade_date": b.day,
            "open": _dec(b.open),
            "high": _dec(b.high),
            "low": _dec(b.low),
            "close": _dec(b.close),
            "volume": int(b.volume),
            "source": source,
        }
        for b in bars
    ]
    return _upsert(conn, US, rows)


def upsert_kr_bars(conn: Connection, code: str, bars: Iterable[Bar], source: str) -> int:
    rows = [
        {
            "stock_code": code,
            "trade_date": b.day,
            "open": round(b.open),
            "high": round(b.high),
            "low": round(b.low),
            "close": round(b.close),
            "volume": int(b.volume),
            "source": source,
        }
        for b in bars
    ]
    return _upsert(conn, KR, rows)


def _bars(
    conn: Connection, table: sa.Table, key: str, start: date | None, end: date | None
) -> dict[str, list[Bar]]:
    q = sa.select(
        table.c[key], table.c.trade_date, table.c.open, table.c.high, table.c.low,
        table.c.close, table.c.volume,
    ).order_by(table.c[key], table.c.trade_date)  # fmt: skip
    if start is not None:
        q = q.where(table.c.trade_date >= start)
    if end is not None:
        q = q.where(table.c.trade_date <= end)
    out: dict[str, list[Bar]] = {}
    for k, d, o, h, lo, c, v in conn.execute(q):
        out.setdefault(k, []).append(Bar(d, float(o), float(h), float(lo), float(c), float(v)))
    return out


def us_bars(
    conn: Connection, start: date | None = None, end: date | None = None
) -> dict[str, list[Bar]]:
    """Symbol → bars (oldest first) of ``us_sector_data`` in the range."""
    return _bars(conn, US, "symbol", start, end)


def kr_bars(
    conn: Connection, start: date | None = None, end: date | None = None
) -> dict[str, list[Bar]]:
    """Code → bars (oldest first) of ``kr_daily_bars`` in the range."""
    return _bars(conn, KR, "stock_code", start, end)


def data_version(conn: Connection) -> str:
    """A fingerprint of the stored bars and links: row count, first and last day and the
    sum of the closes of each bar table (a corrected bar changes the sum), and the active
    links. Cheap next to a backtest (one aggregate scan per table)."""
    parts: list[str] = []
    for table in (US, KR):
        n, lo, hi, total = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.min(table.c.trade_date),
                sa.func.max(table.c.trade_date),
                sa.func.sum(table.c.close),
            )
        ).one()
        parts.append(f"{n}:{lo}:{hi}:{total}")
    rows = conn.execute(
        sa.select(LINKS.c.us_symbol, LINKS.c.kr_code, LINKS.c.confidence)
        .where(LINKS.c.active)
        .order_by(LINKS.c.us_symbol, LINKS.c.kr_code)
    ).all()
    digest = hashlib.sha1(repr([tuple(r) for r in rows]).encode(), usedforsecurity=False)
    parts.append(f"{len(rows)}:{digest.hexdigest()[:10]}")
    return "/".join(parts)


# --- instruments ------------------------------------------------------------------------


def instruments(conn: Connection) -> list[Instrument]:
    q = sa.select(INSTR.c.symbol, INSTR.c.name, INSTR.c.kind, INSTR.c.active).order_by(
        INSTR.c.symbol
    )
    return [Instrument(s, n, k, bool(a)) for s, n, k, a in conn.execute(q)]


def upsert_instruments(conn: Connection, items: Iterable[Instrument]) -> int:
    rows = [{"symbol": i.symbol, "name": i.name, "kind": i.kind, "active": i.active} for i in items]
    return _upsert(conn, INSTR, rows)


def add_missing_instruments(conn: Connection, items: Iterable[Instrument]) -> int:
    """Add the instruments not listed yet (an edited name or kind is kept)."""
    have = {i.symbol for i in instruments(conn)}
    new = {i.symbol: i for i in items if i.symbol not in have}
    return upsert_instruments(conn, new.values())


# --- links ------------------------------------------------------------------------------


def links(conn: Connection, *, active_only: bool = False) -> list[StoredLink]:
    q = (
        sa.select(
            LINKS.c.us_symbol, LINKS.c.kr_code, LINKS.c.kr_name, LINKS.c.confidence,
            LINKS.c.rationale, LINKS.c.active, INSTR.c.name, MASTER.c.sector,
        )
        .select_from(
            LINKS.outerjoin(INSTR, INSTR.c.symbol == LINKS.c.us_symbol)
            .outerjoin(MASTER, MASTER.c.stock_code == LINKS.c.kr_code)
        )
        .order_by(LINKS.c.us_symbol, LINKS.c.kr_code)
    )  # fmt: skip
    if active_only:
        q = q.where(LINKS.c.active)
    return [
        StoredLink(us, kr, kn or "", c, r or "", bool(a), un or "", sec or None)
        for us, kr, kn, c, r, a, un, sec in conn.execute(q)
    ]


def replace_links(conn: Connection, items: Sequence[StoredLink]) -> int:
    """Make ``items`` the whole map (links left out are deleted)."""
    conn.execute(LINKS.delete())
    rows = [
        {
            "us_symbol": lk.us_symbol,
            "kr_code": lk.kr_code,
            "kr_name": lk.kr_name[:100],
            "confidence": lk.confidence,
            "rationale": lk.rationale[:500],
            "active": lk.active,
        }
        for lk in items
    ]
    return _upsert(conn, LINKS, rows)


def seed_default_links(conn: Connection, default: Sequence[Link]) -> int:
    """Store the shipped map (and its instruments plus the market factors) when
    ``sector_links`` is empty; returns the links added (0: there were links already)."""
    (n,) = conn.execute(sa.select(sa.func.count()).select_from(LINKS)).one()
    if n:
        return 0
    names: dict[str, str] = {}
    for lk in default:
        names.setdefault(lk.us_symbol, lk.us_name or lk.us_symbol)
    items = [Instrument(s, nm, "index" if s.startswith("^") else "etf") for s, nm in names.items()]
    items += [Instrument(s, nm, "market") for s, nm in MARKET_FACTORS.items()]
    add_missing_instruments(conn, items)
    return replace_links(
        conn,
        [
            StoredLink(lk.us_symbol, lk.kr_code, lk.kr_name, lk.confidence, lk.rationale, True)
            for lk in default
        ],
    )


def stock_names(conn: Connection, codes: Iterable[str] | None = None) -> dict[str, str]:
    """Code → name from ``stock_master`` (all of it, or just ``codes``)."""
    q = sa.select(MASTER.c.stock_code, MASTER.c.name)
    if codes is not None:
        q = q.where(MASTER.c.stock_code.in_(list(codes)))
    return {str(c): str(n) for c, n in conn.execute(q)}


def stock_sectors(conn: Connection, codes: Iterable[str]) -> dict[str, str]:
    """Code → industry group (``stock_master.sector``) of the listed ``codes``."""
    q = sa.select(MASTER.c.stock_code, MASTER.c.sector).where(
        MASTER.c.stock_code.in_(list(codes)), MASTER.c.sector.is_not(None)
    )
    return {str(c): str(sec) for c, sec in conn.execute(q)}


def master_loaded(conn: Connection) -> bool:
    return conn.execute(sa.select(MASTER.c.stock_code).limit(1)).first() is not None


# --- recommendations --------------------------------------------------------------------


def _fin(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def store_recommendations(
    conn: Connection, day: date, recs: Sequence[Recommendation], model_version: str, now: datetime
) -> int:
    """Replace the stored list of ``day`` with ``recs``."""
    conn.execute(RECS.delete().where(RECS.c.for_date == day))
    rows = [
        {
            "for_date": day,
            "kr_code": r.kr_code,
            "rank_no": r.rank,
            "kr_name": r.kr_name[:100],
            "score": _fin(r.score),
            "expected_gap": _fin(r.expected_gap),
            "expected_day": _fin(r.expected_day),
            "beta_gap": _fin(r.beta_gap),
            "beta_gap_se": _fin(r.beta_gap_se),
            "beta_day": _fin(r.beta_day),
            "hit_rate": _fin(r.hit_rate),
            "history_days": r.history_days,
            "explanation": json.dumps(r.to_dict(), ensure_ascii=False),
            "model_version": model_version,
            "created_at": now,
        }
        for r in recs
    ]
    return _upsert(conn, RECS, rows)


@dataclass(frozen=True, slots=True)
class StoredRecommendations:
    day: date
    created_at: datetime
    model_version: str
    items: list[dict[str, Any]]


def stored_recommendations(conn: Connection, day: date) -> StoredRecommendations | None:
    """The stored list of ``day`` (its ``explanation`` JSON, rank order), or None."""
    q = (
        sa.select(RECS.c.explanation, RECS.c.created_at, RECS.c.model_version)
        .where(RECS.c.for_date == day)
        .order_by(RECS.c.rank_no)
    )
    rows = conn.execute(q).all()
    if not rows:
        return None
    items = [json.loads(e) for e, _, _ in rows]
    return StoredRecommendations(day, rows[0][1], rows[0][2], items)
