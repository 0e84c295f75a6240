"""The hub's tick pages (``/api/tick-data``) on real MariaDB: right rows, few rows read.

``HubRepository.tick_rows`` used to filter the window's times on the rows of a
``stock_code`` + ``trade_date`` range and to follow the cursor with a row comparison
``(trade_date, venue, cum_volume) > (…)``, which MariaDB does not seek on: a page
starting late in a busy day, or deep in it by cursor, read every trade of the day before
it (``bench_query``: p99 ~130+ ms at 20M rows). Now each page is ranges of the clustered key
(the window's first and last day cut by a bisection of the key). This checks, against a
reference computed in Python from every stored row, that every window (mid-day starts and
ends, one to four days, NXT beside KRX, empty ones) paged by cursor gives every trade in it
exactly once in key order — and that a page late in a day reads about its own rows only
(``Handler_read_*`` of the session).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gslts_db import TICK_COLUMNS, ensure_partitions, make_engine, upgrade
from gslts_hub.repository import HubRepository
from gslts_kiwoom.realtime import KST

pytestmark = pytest.mark.integration

DAYS = [date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)]
BUSY, QUIET = "005930", "000660"


@pytest.fixture(scope="module")
def engine(mysql_server_url: str) -> Iterator[sa.Engine]:
    name = f"gslts_ticks_{uuid.uuid4().hex[:8]}"
    root = make_engine(sa.make_url(mysql_server_url)._replace(database=None))
    with root.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    setup = make_engine(sa.make_url(mysql_server_url).set(database=name))
    upgrade(setup)  # (takes a lock on a connection of its own while it migrates)
    ensure_partitions(setup, 3, DAYS[0])
    setup.dispose()
    # one connection: the session's handler counters are those of the pages read
    eng = make_engine(sa.make_url(mysql_server_url).set(database=name), pool_size=1,
                      max_overflow=0)  # fmt: skip
    _fill(eng)
    yield eng
    eng.dispose()
    with root.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name}")
    root.dispose()


def _trades(code: str, day: date, venue: str, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """``n`` trades from 09:00, several a second at times, gaps at others; cumulative
    volume and time grow together."""
    t = datetime.combine(day, time(9, 0))
    cum = 0
    out = []
    for _ in range(n):
        t += timedelta(seconds=rng.choice((0, 0, 0, 1, 1, 2, 7)))
        qty = rng.randint(1, 300)
        cum += qty
        out.append(
            {"stock_code": code, "trade_date": day, "venue": venue, "cum_volume": cum,
             "trade_time": t, "recv_time": t, "price": 70_000, "volume": qty,
             "cum_value": cum * 70_000 // 1_000_000}
        )  # fmt: skip
    return out


def _fill(engine: sa.Engine) -> None:
    rng = random.Random(7)
    rows: list[dict[str, Any]] = []
    for day in DAYS:
        rows += _trades(BUSY, day, "KRX", 4000, rng)
        rows += _trades(BUSY, day, "NXT", 700, rng)
        rows += _trades(QUIET, day, "KRX", 90, rng)
    rows += _trades(QUIET, DAYS[-1] + timedelta(days=1), "KRX", 5, rng)  # in p_future
    cols = "stock_code, trade_date, venue, cum_volume, trade_time, recv_time, price, volume, "
    cols += "cum_value"
    marks = ", ".join(f":{c.strip()}" for c in cols.split(","))
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO tick_data ({cols}) VALUES ({marks})"), rows)  # noqa: S608


def _all(engine: sa.Engine, code: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT {', '.join(TICK_COLUMNS)} FROM tick_data WHERE stock_code = %s",  # noqa: S608
            (code,),
        ).all()
    return [tuple(r) for r in rows]


def _key(r: Any) -> tuple[date, str, int]:
    return r.trade_date, r.venue, r.cum_volume


def _kst(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), KST)


def _windows() -> list[tuple[datetime, datetime]]:
    d0, d1, d2 = DAYS
    rng = random.Random(11)
    out = [
        (_kst(d0, 0), _kst(d1, 0)),  # one whole day (the API's default window)
        (_kst(d0, 0), _kst(d2 + timedelta(days=2), 0)),  # every day and p_future
        (_kst(d1, 10, 17, 3), _kst(d1, 10, 52, 40)),  # within a day
        (_kst(d0, 11, 5), _kst(d2, 9, 40)),  # mid-day to mid-day over three days
        (_kst(d1, 15, 0), _kst(d2, 9, 20)),  # evening to morning
        (_kst(d1, 23, 0), _kst(d2, 8, 0)),  # no trade in it
        (_kst(d0, 8, 0), _kst(d0, 9, 0, 1)),  # the first second only
        (datetime(1900, 1, 1, tzinfo=KST), datetime(9999, 1, 1, tzinfo=KST)),  # the clamp
    ]
    for _ in range(12):
        a = _kst(rng.choice(DAYS), 9) + timedelta(seconds=rng.randint(0, 30_000))
        out.append((a, a + timedelta(seconds=rng.choice((30, 600, 5000, 90_000)))))
    return out


@pytest.mark.parametrize("code", [BUSY, QUIET])
@pytest.mark.parametrize("limit", [1, 137, 5000])
def test_paged_windows_give_every_trade_once_in_key_order(
    engine: sa.Engine, code: str, limit: int
) -> None:
    repo = HubRepository(engine)
    every = _all(engine, code)
    cols = list(TICK_COLUMNS)
    t_i, d_i, v_i, c_i = (cols.index(c) for c in ("trade_time", "trade_date", "venue",
                                                   "cum_volume"))  # fmt: skip
    for start, end in _windows():
        if limit == 1 and (end - start).total_seconds() > 4000:
            continue  # one row a page: the short windows are enough
        want = sorted(
            (r for r in every if start <= r[t_i].replace(tzinfo=KST) < end),
            key=lambda r: (r[d_i], r[v_i], r[c_i]),
        )
        got: list[tuple[Any, ...]] = []
        after = None
        for _ in range(len(want) // limit + 2):
            page = repo.tick_rows(code, start, end, after, limit)
            assert len(page) <= limit
            got += [tuple(r) for r in page]
            if len(page) < limit:
                break
            after = _key(page[-1])
        # times come back aware (KST) from the model: compare as stored (naive KST)
        got = [tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in r)
               for r in got]  # fmt: skip
        assert got == want, (code, start, end, limit, len(got), len(want))


def _reads(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Handler_read%%'").all()
    # index reads only (SHOW STATUS itself reads a temporary table: Handler_read_rnd_*)
    keys = ("Handler_read_first", "Handler_read_key", "Handler_read_last",
            "Handler_read_next", "Handler_read_prev")  # fmt: skip
    return sum(int(v) for k, v in rows if k in keys)


def test_a_page_late_in_a_busy_day_reads_about_its_own_rows(engine: sa.Engine) -> None:
    repo = HubRepository(engine)
    day = DAYS[1]
    # the first page of a window starting at 80 % of the stock's day
    krx = [r for r in _all(engine, BUSY) if r[1] == day and r[2] == "KRX"]
    start = krx[int(len(krx) * 0.8)][4].replace(tzinfo=KST)
    before = _reads(engine)
    page = repo.tick_rows(BUSY, start, start + timedelta(days=1), None, 200)
    first_page = _reads(engine) - before
    assert len(page) == 200
    # the next page, by cursor
    before = _reads(engine)
    nxt = repo.tick_rows(BUSY, start, start + timedelta(days=1), _key(page[-1]), 200)
    cursor_page = _reads(engine) - before
    assert len(nxt) == 200
    assert _key(nxt[0]) > _key(page[-1])
    # ~200 rows and ~20 one-row probes each; the day's 3,200 trades before the start are
    # not read (a scan of the day read > 3,000)
    assert first_page < 600, first_page
    assert cursor_page < 600, cursor_page
