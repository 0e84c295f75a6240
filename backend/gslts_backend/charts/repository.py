"""The charts' queries: every read is a range of a primary key, newest first.

* ``candles`` is keyed (stock_code, bar_interval, start_time): a page of bars is a
  backward range scan of that key, ``LIMIT``-ed, never a sort.
* ``tick_data`` is keyed (stock_code, trade_date, venue, cum_volume): the forming bar's
  trades are read per venue from the newest ``cum_volume`` backwards until they are older
  than the newest stored bar, so a day of 100k trades costs the last minute's rows only
  (a ``trade_time`` range would scan the stock's whole day: ``trade_time`` is not indexed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gslts_db import CandleRow, upsert_candles
from gslts_db.models import VENUES, Candle, StockMaster, TickData
from gslts_kiwoom.krx import KST

_C: sa.Table = Candle.__table__  # type: ignore[assignment]
_T: sa.Table = TickData.__table__  # type: ignore[assignment]
_S: sa.Table = StockMaster.__table__  # type: ignore[assignment]

#: rows of ``tick_data`` read by the first round of the backward walk (then doubled, up
#: to :data:`TICK_CHUNK_MAX`): a quiet minute costs a few rows, a busy one a few rounds
TICK_CHUNK = 256
TICK_CHUNK_MAX = 8192


class StoredBar(NamedTuple):
    start: datetime  # aware KST
    open: int
    high: int
    low: int
    close: int
    volume: int


class RecentTick(NamedTuple):
    trade_time: datetime  # aware KST
    venue: str
    cum_volume: int
    price: int
    qty: int  # unsigned


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), KST)


def bars_desc(
    conn: Connection, code: str, interval: str, before: datetime | None, limit: int
) -> list[StoredBar]:
    """Stored bars of ``interval`` with ``start_time < before``, newest first."""
    q = sa.select(_C.c.start_time, _C.c.open, _C.c.high, _C.c.low, _C.c.close, _C.c.volume)
    q = q.where(_C.c.stock_code == code, _C.c.bar_interval == interval)
    if before is not None:
        q = q.where(_C.c.start_time < before)
    q = q.order_by(_C.c.start_time.desc()).limit(limit)
    return [StoredBar(*r) for r in conn.execute(q)]


def bars_between(
    conn: Connection, code: str, interval: str, start: datetime, end: datetime
) -> list[StoredBar]:
    """Stored bars with ``start <= start_time < end``, oldest first."""
    q = (
        sa.select(_C.c.start_time, _C.c.open, _C.c.high, _C.c.low, _C.c.close, _C.c.volume)
        .where(
            _C.c.stock_code == code,
            _C.c.bar_interval == interval,
            _C.c.start_time >= start,
            _C.c.start_time < end,
        )
        .order_by(_C.c.start_time)
    )
    return [StoredBar(*r) for r in conn.execute(q)]


def oldest_bar(conn: Connection, code: str, interval: str) -> datetime | None:
    q = (
        sa.select(_C.c.start_time)
        .where(_C.c.stock_code == code, _C.c.bar_interval == interval)
        .order_by(_C.c.start_time)
        .limit(1)
    )
    v: datetime | None = conn.execute(q).scalar()
    return v


def newest_bar(conn: Connection, code: str, interval: str) -> datetime | None:
    q = (
        sa.select(_C.c.start_time)
        .where(_C.c.stock_code == code, _C.c.bar_interval == interval)
        .order_by(_C.c.start_time.desc())
        .limit(1)
    )
    v: datetime | None = conn.execute(q).scalar()
    return v


def ticks_since(conn: Connection, code: str, day: date, since: datetime) -> list[RecentTick]:
    """Trades of ``code`` on ``day`` with ``trade_time >= since`` (every venue), in the
    order the hub builds bars in: trade time, venue, cumulative volume."""
    out: list[RecentTick] = []
    for venue in VENUES:
        below: int | None = None
        chunk = TICK_CHUNK
        while True:
            q = sa.select(_T.c.trade_time, _T.c.cum_volume, _T.c.price, _T.c.volume).where(
                _T.c.stock_code == code, _T.c.trade_date == day, _T.c.venue == venue
            )
            if below is not None:
                q = q.where(_T.c.cum_volume < below)
            rows = list(conn.execute(q.order_by(_T.c.cum_volume.desc()).limit(chunk)))
            done = len(rows) < chunk
            for tt, cum, price, vol in rows:
                if tt < since:
                    done = True
                    continue  # an older trade (cum. volume and time agree but for ties)
                out.append(RecentTick(tt, venue, cum, price, abs(vol)))
            if done or not rows:
                break
            below = rows[-1][1]
            chunk = min(chunk * 2, TICK_CHUNK_MAX)
    out.sort(key=lambda t: (t.trade_time, t.venue, t.cum_volume))
    return out


def store(conn: Connection, rows: Sequence[CandleRow]) -> int:
    """Upsert bars (``replace``: idempotent)."""
    return upsert_candles(conn, rows, mode="replace") if rows else 0


def stock_status(conn: Connection, code: str) -> bool | None:
    """True when ``stock_master`` lists ``code``, False when it lists others but not it,
    None when it is empty (not loaded yet: Kiwoom decides)."""
    if conn.execute(sa.select(_S.c.stock_code).where(_S.c.stock_code == code)).first():
        return True
    if conn.execute(sa.select(_S.c.stock_code).limit(1)).first():
        return False
    return None


def has_bars(conn: Connection, code: str) -> bool:
    q = sa.select(_C.c.stock_code).where(_C.c.stock_code == code).limit(1)
    return conn.execute(q).first() is not None
