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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

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
from gslts_db.models import VENUES
from gslts_hub.backfill import StoredAnchor
from gslts_kiwoom.realtime import KST

_T = TickData.__table__.c
_KEY = (_T.trade_date, _T.venue, _T.cum_volume)


class _Probe(NamedTuple):
    """One read of the key search: its tag, and the trade found (cum volume, time)."""

    tag: int
    cum_volume: int
    trade_time: datetime


def _iso_kst(col: Any) -> Any:
    """``datetime.isoformat()`` of a naive-KST DATETIME(6) column, in SQL (microseconds
    only when there are any, as Python prints them)."""
    return sa.func.concat(
        sa.func.date_format(col, "%Y-%m-%dT%H:%i:%s"),
        sa.case((sa.func.microsecond(col) == 0, ""), else_=sa.func.date_format(col, ".%f")),
        "+09:00",
    )


def _text(col: Any) -> Any:
    return sa.cast(col, sa.CHAR)


#: a tick as the API's JSON object (``gslts_hub.app.tick_json``), built by MySQL/MariaDB
_TICK_JSON = sa.func.json_object(
    "time", _iso_kst(_T.trade_time),
    "trade_date", sa.func.date_format(_T.trade_date, "%Y-%m-%d"),
    "venue", _T.venue,
    "price", _T.price,
    "volume", _T.volume,
    "cum_volume", _T.cum_volume,
    "cum_value", _T.cum_value,
    "best_ask", _T.best_ask,
    "best_bid", _T.best_bid,
    "change_rate", _text(_T.change_rate),
    "strength", _text(_T.strength),
    "session", _T.session,
    "source", _T.source,
)  # fmt: skip
#: day partitions kept ahead of today
PARTITION_DAYS_AHEAD = 14
#: stocks per primary-key lookup of :meth:`HubRepository.last_krx_trades`
ANCHOR_BATCH = 200
#: the search of the key (:meth:`HubRepository._cum_bounds`) stops when the trades left
#: between its two bounds span at most this many seconds: the page's own query then reads
#: them in key order (cheap, sequential) where each more probe is a random descent of the
#: key (on a 2.6 GB table with a 128 MB buffer pool, mostly from disk)
BISECT_STOP_S = 30.0
#: Each round of that search is one statement of 4 one-row reads of the key: around where
#: the start should be by interpolation in time (±1/32 of the range) and the middle.
#: Measured side by side on the 20M-row store (bench_query, 2026-12-04, server-side p50 /
#: p99 of the first page), for evenly spread probes: 16 probes a statement and a 5 s stop
#: 27.1 / 46.8 ms, 64 and 60 s 43.7 / 122.6, 16 and 60 s 25.2 / 36.8, 6 and 60 s 18.0 /
#: 27.3, 4 and 120 s 16.6 / 23.6, 3 and 300 s 16.0 / 22.5, 4 and 30 s 17.7 / 25.1; each
#: probe is a random descent of the key, mostly from disk. With interpolation and 30 s
#: (a flood's 1,000 trades/s leaves at most ~30k rows for the page's query to skip):
#: 14.0 / 21.6 ms.


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
        venue, cumulative volume), in key order; at most ``limit`` rows, the columns of
        :data:`gslts_db.TICK_COLUMNS`.

        Every query is a range of the clustered key (see :func:`_spans`): the trades of the
        window's first day before ``start`` and of its last day from ``end`` on are
        skipped through a search of that key (:meth:`_cum_bounds`; trade time grows
        with the cumulative volume), and the cursor is a key bound. A ``trade_time``
        filter alone scanned the day from its first trade (``trade_time`` is not indexed),
        and MariaDB does not seek on a row comparison ``(a, b, c) > (x, y, z)``: a page
        deep in a busy day read every trade before it."""
        cols = [_T[c] for c in TICK_COLUMNS]
        out: list[Any] = []
        with self.engine.connect() as conn:
            for where in self._span_filters(conn, code, start, end, after):
                q = sa.select(*cols).where(*where).order_by(*_KEY).limit(limit - len(out))
                out += conn.execute(q).all()
                if len(out) >= limit:
                    break
        return out

    def tick_page_json(
        self,
        code: str,
        start: datetime,
        end: datetime,
        after: tuple[date, str, int] | None,
        limit: int,
    ) -> list[bytes] | None:
        """:meth:`tick_rows` as the API's JSON, built by the database (MySQL/MariaDB): one
        JSON object per tick, in key order, at most ``limit``; None on another database
        (the caller builds the JSON from :meth:`tick_rows`).

        PyMySQL decodes ~15 fields a row in Python (a 1,000-tick page cost ~30 ms of CPU
        in the driver alone); here the server builds each tick's ``JSON_OBJECT`` and
        ``GROUP_CONCAT`` joins a span's page into one value: one field a span. The objects
        equal :func:`gslts_hub.app.tick_json` of the row (tested side by side); keys may
        come in another order (MySQL 8 sorts them), which JSON does not mind."""
        if not is_mysql(self.engine):
            return None
        out: list[bytes] = []
        with self.engine.connect() as conn:
            for where in self._span_filters(conn, code, start, end, after):
                inner = (
                    sa.select(_TICK_JSON.label("j"), *_KEY)
                    .where(*where)
                    .order_by(*_KEY)
                    .limit(limit - len(out))
                    .subquery("t")
                )
                row: Any = conn.execute(
                    sa.select(
                        sa.func.count().label("n"),
                        sa.literal_column(
                            "GROUP_CONCAT(t.j ORDER BY t.trade_date, t.venue, t.cum_volume"
                            " SEPARATOR '\\n')"
                        ).label("body"),
                    ).select_from(inner)
                ).one()
                if not row.n:
                    continue
                body = row.body.encode() if isinstance(row.body, str) else bytes(row.body)
                objs = body.split(b"\n")  # JSON escapes a newline inside a string
                if len(objs) != row.n:  # cut short by the session's length cap
                    raise RuntimeError("tick page JSON truncated (group_concat_max_len)")
                out += objs
                if len(out) >= limit:
                    break
        return out

    def _span_filters(
        self,
        conn: Connection,
        code: str,
        start: datetime,
        end: datetime,
        after: tuple[date, str, int] | None,
    ) -> Iterator[list[Any]]:
        """The WHERE clauses of the window's key ranges, in key order (see
        :func:`_spans`); a day cut by ``start`` or ``end`` is bounded by a search of the
        key (:meth:`_cum_bounds`), run only when its span is reached."""
        first = start.astimezone(KST).date()
        last = max(first, (end.astimezone(KST) - timedelta(microseconds=1)).date())
        cut_start = start > datetime.combine(first, time(0), KST)
        cut_end = end < datetime.combine(last + timedelta(days=1), time(0), KST)
        for d0, d1, venue, lo, hi in _spans(first, last, after):
            if venue is not None:
                # a cursor's bound is already past the start (or the client's own)
                if d0 == first and cut_start and lo is None:
                    bound = self._cum_bounds(conn, code, d0, venue, start)
                    if bound is None:
                        continue  # no trade of that day and venue at or after start
                    lo = bound[0] + 1 if lo is None else max(lo, bound[0] + 1)
                if d1 == last and cut_end:
                    bound = self._cum_bounds(conn, code, d1, venue, end)
                    if bound is not None and bound[1] is not None:
                        hi = bound[1] if hi is None else min(hi, bound[1])
            where: list[Any] = [
                _T.stock_code == code,
                _T.trade_time >= start,
                _T.trade_time < end,
                _T.trade_date == d0 if d0 == d1 else _T.trade_date.between(d0, d1),
            ]
            if venue is not None:
                where.append(_T.venue == venue)
            if lo is not None:
                where.append(_T.cum_volume >= lo)
            if hi is not None:
                where.append(_T.cum_volume < hi)
            yield where

    def _cum_bounds(
        self, conn: Connection, code: str, day: date, venue: str, t: datetime
    ) -> tuple[int, int | None] | None:
        """``(low, high)`` around where ``t`` falls in ``code``'s trades of ``day`` on
        ``venue``: every trade with a cumulative volume ≤ ``low`` is before ``t``, every
        one ≥ ``high`` (None: there is none) at or after it; None when none is at or after
        ``t`` (or there is none). A search of the clustered key by interpolation, 4 one-row
        reads a statement (~3 round trips for a busy day), stopped once the trades between
        the two bounds are within :data:`BISECT_STOP_S`."""
        key = (_T.stock_code == code, _T.trade_date == day, _T.venue == venue)

        def probes(parts: list[tuple[int, bool, int | None]]) -> list[_Probe]:
            """One statement of one-row reads ``(tag, descending, cum_volume ≤ bound)``:
            each the first (or last) trade of its range, tagged; as scalar subqueries of
            one SELECT (a UNION of LIMIT-1 derived tables cost MariaDB ~0.3 ms a probe
            in temporary tables: 64 probes a statement were slower than 16, 6 faster)."""
            cols = []
            for _tag, desc, bound in parts:
                where = [*key] if bound is None else [*key, _T.cum_volume <= bound]
                order = _T.cum_volume.desc() if desc else _T.cum_volume
                for col in (_T.cum_volume, _T.trade_time):
                    cols.append(
                        sa.select(col).where(*where).order_by(order).limit(1).scalar_subquery()
                    )
            row = conn.execute(sa.select(*cols)).one()
            out = [
                _Probe(tag, int(row[2 * i]), _aware(row[2 * i + 1]))
                for i, (tag, _, _) in enumerate(parts)
                if row[2 * i] is not None
            ]
            return sorted(out, key=lambda r: r.tag)

        ends = probes([(0, False, None), (1, True, None)])
        if not ends:
            return None
        head, tail = ends[0], ends[-1]
        if _aware(head.trade_time) >= t:
            return int(head.cum_volume) - 1, int(head.cum_volume)
        if _aware(tail.trade_time) < t:
            return None
        low, t_low = int(head.cum_volume), _aware(head.trade_time)
        high, t_high = int(tail.cum_volume), _aware(tail.trade_time)
        while high - low > 1 and (t_high - t_low).total_seconds() > BISECT_STOP_S:
            # interpolation: trades come about evenly in time, so probe around where ``t``
            # should be (±1/32 of the range), and the middle (at worst a bisection: a VI
            # pause or an auction bends the guess); the invariant holds wherever they fall
            span = (t_high - t_low).total_seconds()
            guess = low + int((high - low) * (t - t_low).total_seconds() / span)
            w = max(1, (high - low) // 32)
            picks = (guess - w, guess, guess + w, (low + high) // 2)
            bounds = sorted({min(high - 1, max(low + 1, m)) for m in picks})
            rows = probes([(m, True, m) for m in bounds if low < m < high])
            if not rows:  # gone meanwhile (an archive): the bounds so far hold
                break
            for r in rows:  # the last trade ≤ each bound, bounds ascending
                if _aware(r.trade_time) < t:
                    low, t_low = int(r.tag), _aware(r.trade_time)  # all ≤ it are before t
                else:
                    high, t_high = int(r.cum_volume), _aware(r.trade_time)
                    break
        return low, high

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


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=KST)


Span = tuple[date, date, str | None, int | None, int | None]


def _spans(first: date, last: date, after: tuple[date, str, int] | None) -> list[Span]:
    """The window's key ranges in key order, each ``(day from, day to, venue or None for
    every venue, lowest cumulative volume, highest exclusive)``: the first and the last
    day per venue (their trades are cut by the window's times), the days between as one
    range; only what comes after the cursor ``after``."""
    spans: list[Span] = [(first, first, v, None, None) for v in VENUES]
    if last > first:
        if last > first + timedelta(days=1):
            spans.append((first + timedelta(days=1), last - timedelta(days=1), None, None, None))
        spans += [(last, last, v, None, None) for v in VENUES]
    if after is None:
        return spans
    ad, av, ac = after
    out: list[Span] = []
    for d0, d1, v, lo, hi in spans:
        if v is not None:  # one day, one venue
            if (d0, v) > (ad, av):
                out.append((d0, d1, v, lo, hi))
            elif (d0, v) == (ad, av):
                out.append((d0, d1, v, ac + 1 if lo is None else max(lo, ac + 1), hi))
        elif d0 > ad:
            out.append((d0, d1, v, lo, hi))
        elif d1 >= ad:  # the cursor is inside: the rest of its day and venue, then on
            out.append((ad, ad, av, ac + 1, None))
            out += [(ad, ad, w, None, None) for w in VENUES if w > av]
            if d1 > ad:
                out.append((ad + timedelta(days=1), d1, None, None, None))
    return out
