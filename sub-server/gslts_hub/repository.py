"""Every SQL query the hub makes, in one place (the watchlist table's writes, with their
retries, are :mod:`gslts_hub.watchlist`; the tick writes are the writer's).

The schema and the day partitions, the restart anchors (each stock's last stored KRX trade
of the day), the stored trades of one second (a gap walk's check), the universe history,
the stock master's names, the tick history pages of ``/api/tick-data``, the database's
size and the health probe. Each method opens its own connection from the engine's pool;
none holds one between calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gslts_db import (
    TICK_COLUMNS,
    StockMaster,
    TickData,
    UniverseEntry,
    ensure_partitions,
    insert_ignore,
    is_mysql,
    upgrade,
)
from gslts_hub.backfill import StoredAnchor
from gslts_kiwoom.realtime import KST

_T = TickData.__table__.c
#: day partitions kept ahead of today
PARTITION_DAYS_AHEAD = 14
#: stocks per primary-key lookup of :meth:`HubRepository.last_krx_trades`
ANCHOR_BATCH = 200


class HubRepository:
    """The hub's reads and writes of its database, besides the writer's tick batches.

    Args:
        engine: the hub's database engine.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ schema
    def migrate(self) -> None:
        """Bring the schema to head (Alembic)."""
        upgrade(self.engine)

    def ensure_partitions(self, today: date) -> None:
        """Day partitions from ``today`` to :data:`PARTITION_DAYS_AHEAD` days ahead."""
        ensure_partitions(self.engine, PARTITION_DAYS_AHEAD, today)

    # ------------------------------------------------------------------ gaps
    def last_krx_trades(self, day: date) -> dict[str, StoredAnchor]:
        """Each stock's stored KRX trade of ``day`` with the largest cumulative volume
        (where its stored history ends); raises ``SQLAlchemyError``.

        Two queries, not a join on a grouped subquery: each stock's largest cumulative
        volume (a loose scan of the primary key), then those rows by primary key. The join
        let MariaDB choose to materialise the group per outer row ("lateral derived"): at
        1.3M trades of the soak's day a restarted hub sat in this query for minutes."""
        where = (_T.trade_date == day, _T.venue == "KRX")
        with self.engine.connect() as conn:
            ends = conn.execute(
                sa.select(_T.stock_code, sa.func.max(_T.cum_volume))
                .where(*where)
                .group_by(_T.stock_code)
            ).all()
            rows: list[Any] = []
            for i in range(0, len(ends), ANCHOR_BATCH):
                keys = [(code, cum) for code, cum in ends[i : i + ANCHOR_BATCH]]
                rows += conn.execute(
                    sa.select(
                        _T.stock_code,
                        _T.cum_volume,
                        _T.trade_time,
                        _T.price,
                        _T.volume,
                        _T.cum_value,
                    ).where(*where, sa.tuple_(_T.stock_code, _T.cum_volume).in_(keys))
                ).all()
        return {
            r.stock_code: StoredAnchor(
                r.trade_time.replace(tzinfo=KST),
                int(r.price),
                abs(int(r.volume)),
                int(r.cum_volume),
                int(r.cum_value),
            )
            for r in rows
        }

    def stored_second(self, code: str, last: StoredAnchor) -> list[tuple[int, int]] | None:
        """(price, qty) of the stored trades in ``last``'s second, oldest first; None when
        unreadable or when the writer has not stored ``last`` itself yet (the check is
        then moot)."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(_T.price, _T.volume)
                    .where(
                        _T.stock_code == code,
                        _T.trade_date == last.time.date(),
                        _T.venue == "KRX",
                        _T.cum_volume <= last.cum_volume,
                        _T.trade_time >= last.time.replace(microsecond=0),
                    )
                    .order_by(_T.cum_volume)
                ).all()
        except sa.exc.SQLAlchemyError:
            return None  # unchecked: the current-volume check still applies
        out = [(int(p), abs(int(v))) for p, v in rows]
        return out if out and out[-1] == (last.price, last.qty) else None

    # ------------------------------------------------------------------ universe
    def record_universe(
        self,
        day: date,
        at: datetime,
        top: Iterable[str],
        ranks: Mapping[str, int],
        watchlist: Iterable[str],
    ) -> None:
        """Which stocks were collected on ``day`` and why (kept once per stock and reason:
        ``INSERT IGNORE``); raises ``SQLAlchemyError``."""
        rows = [
            {"trade_date": day, "stock_code": c, "reason": "top50", "rank_no": ranks.get(c),
             "added_at": at}
            for c in top
        ] + [
            {"trade_date": day, "stock_code": c, "reason": "watchlist", "rank_no": None,
             "added_at": at}
            for c in watchlist
        ]  # fmt: skip
        if rows:
            with self.engine.begin() as conn:
                insert_ignore(conn, UniverseEntry.__table__, rows)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ stocks
    def stock_name(self, code: str) -> str | None:
        """The stock master's name of ``code`` (None: not in it)."""
        with self.engine.connect() as conn:
            name: str | None = conn.execute(
                sa.select(StockMaster.name).where(StockMaster.stock_code == code)
            ).scalar()
        return name

    def is_known(self, code: str) -> bool:
        """In the stock master, or with stored ticks."""
        with self.engine.connect() as conn:
            if conn.execute(
                sa.select(StockMaster.stock_code).where(StockMaster.stock_code == code)
            ).first():
                return True
            return (
                conn.execute(
                    sa.select(TickData.stock_code).where(TickData.stock_code == code).limit(1)
                ).first()
                is not None
            )

    def tick_rows(
        self,
        code: str,
        start: datetime,
        end: datetime,
        after: tuple[date, str, int] | None,
        limit: int,
    ) -> Sequence[Any]:
        """One stock's stored trades in ``[start, end)`` after the key ``after`` (day,
        venue, cumulative volume), in key order: the clustered key, so a page is one short
        range scan. At most ``limit`` rows, the columns of :data:`gslts_db.TICK_COLUMNS`."""
        first = start.astimezone(KST).date()
        last = (end.astimezone(KST) - timedelta(microseconds=1)).date()
        q = sa.select(*(_T[c] for c in TICK_COLUMNS)).where(
            _T.stock_code == code,
            _T.trade_date.between(first, max(first, last)),
            _T.trade_time >= start,
            _T.trade_time < end,
        )
        if after is not None:
            q = q.where(sa.tuple_(_T.trade_date, _T.venue, _T.cum_volume) > sa.tuple_(*after))
        q = q.order_by(_T.trade_date, _T.venue, _T.cum_volume).limit(limit)
        with self.engine.connect() as conn:
            return conn.execute(q).all()

    # ------------------------------------------------------------------ health
    def size_bytes(self) -> int | None:
        """The database's size on disk: data + indexes of the schema (MySQL/MariaDB), the
        file (SQLite); None when unknown or unreadable."""
        try:
            if is_mysql(self.engine):
                with self.engine.connect() as conn:
                    return int(
                        conn.exec_driver_sql(
                            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
                            "information_schema.tables WHERE table_schema = DATABASE()"
                        ).scalar()
                        or 0
                    )
            db = self.engine.url.database
            return os.path.getsize(db) if db and os.path.exists(db) else None
        except Exception:
            return None

    def reachable(self) -> bool:
        """Whether the database answers ``SELECT 1`` now."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False
