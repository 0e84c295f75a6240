"""The stock master: the whole KRX list from ka10099 kept in ``stock_master``.

Refreshed in a background thread at start-up when the newest row is older than a day,
then daily; an admin can trigger it (``POST /api/stocks/refresh``). Each refresh upserts
every listed stock (KOSPI and KOSDAQ), drops the delisted ones and rebuilds the in-memory
:class:`~gslts_backend.market.search.SearchIndex`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from gslts_backend.market.search import SearchIndex, chosung
from gslts_db.models import StockMaster
from gslts_kiwoom import KiwoomClient
from gslts_kiwoom.krx import KST
from gslts_kiwoom.models import StockInfo

log = logging.getLogger(__name__)

_T: sa.Table = StockMaster.__table__  # type: ignore[assignment]
#: ka10099 markets listed: 0 KOSPI, 10 KOSDAQ
MARKETS = ("0", "10")
MAX_AGE = timedelta(days=1)


def _now() -> datetime:
    return datetime.now(KST).replace(tzinfo=None, microsecond=0)


def _warning(s: str) -> int:
    try:
        return int(s or 0)
    except ValueError:
        return 0


def row_of(s: StockInfo, now: datetime) -> dict[str, Any]:
    return {
        "stock_code": s.code[:12],
        "name": s.name[:100],
        "chosung": chosung(s.name)[:100],
        "market": (s.market_name or s.market_code)[:16],
        "sector": (s.sector_name or None) and s.sector_name[:100],
        "size_class": (s.size_class or None) and s.size_class[:32],
        "listed_shares": s.listed_shares,
        "last_price": s.last_price,
        "listed_on": s.listed_date,
        "audit_info": (s.audit_info or None) and s.audit_info[:64],
        "state": "|".join(s.state)[:255] or None,
        "order_warning": _warning(s.order_warning),
        "nxt_enabled": s.nxt_enabled,
        "updated_at": now,
    }


def store(engine: Engine, stocks: list[StockInfo]) -> int:
    """Upserts ``stocks`` (the whole list) and deletes the rows not in it; returns count."""
    now = _now()
    rows = {r["stock_code"]: r for r in (row_of(s, now) for s in stocks)}
    with engine.begin() as conn:
        have = set(conn.execute(sa.select(_T.c.stock_code)).scalars())
        new = [r for c, r in rows.items() if c not in have]
        old = [r for c, r in rows.items() if c in have]
        if new:
            conn.execute(sa.insert(_T), new)
        if old:
            cols = [c for c in old[0] if c != "stock_code"]
            stmt = (
                sa.update(_T)
                .where(_T.c.stock_code == sa.bindparam("b_code"))
                .values({c: sa.bindparam(f"b_{c}") for c in cols})
            )
            conn.execute(
                stmt,
                [{"b_code": r["stock_code"], **{f"b_{c}": r[c] for c in cols}} for r in old],
            )
        gone = have - rows.keys()
        if gone and rows:
            conn.execute(sa.delete(_T).where(_T.c.stock_code.in_(sorted(gone))))
    return len(rows)


def load_index(engine: Engine) -> SearchIndex:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_T.c.stock_code, _T.c.name, _T.c.market, _T.c.last_price, _T.c.listed_shares)
        ).all()
    return SearchIndex(
        (r.stock_code, r.name, r.market, (r.last_price or 0) * (r.listed_shares or 0)) for r in rows
    )


def newest(engine: Engine) -> datetime | None:
    """When the stored list was refreshed last: naive KST like :func:`_now` (the column
    reads back aware, and the refresh thread compares the two)."""
    with engine.connect() as conn:
        v: datetime | None = conn.execute(sa.select(sa.func.max(_T.c.updated_at))).scalar()
    if v is not None and v.tzinfo is not None:
        v = v.astimezone(KST).replace(tzinfo=None)
    return v


class MasterService:
    """The index routes search, and the refresh state (shown by ``GET /api/stocks/status``)."""

    def __init__(self, engine: Engine, kiwoom: Any) -> None:
        self.engine = engine
        #: a callable giving the KiwoomClient (built on first use)
        self._kiwoom = kiwoom
        self.index = SearchIndex(())
        self.state = "idle"  # idle | running | ok | failed
        self.last_refresh: datetime | None = None
        self.last_error: str | None = None
        self.count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reload(self) -> None:
        self.index = load_index(self.engine)
        self.count = len(self.index)

    def refresh(self) -> int:
        """Fetches ka10099 for every market, stores it and rebuilds the index (blocking)."""
        with self._lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> int:
        self.state = "running"
        try:
            client: KiwoomClient = self._kiwoom()
            stocks = [s for m in MARKETS for s in client.list_stocks(m)]
            n = store(self.engine, stocks)
            self.reload()
        except Exception as exc:
            self.state = "failed"
            self.last_error = type(exc).__name__
            log.warning("stock_master_refresh_failed error=%s", type(exc).__name__)
            raise
        self.state, self.last_error = "ok", None
        self.last_refresh = _now()
        log.info("stock_master_refreshed count=%d", n)
        return n

    def start(self) -> None:
        """Loads the stored list, then refreshes in the background when stale and daily."""
        try:
            self.reload()
            self.last_refresh = newest(self.engine)
        except Exception as exc:  # pragma: no cover - DB down at start-up
            log.warning("stock_master_load_failed error=%s", type(exc).__name__)
        self._thread = threading.Thread(target=self._run, daemon=True, name="stock-master")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            last = self.last_refresh
            due = last is None or _now() - last >= MAX_AGE or len(self.index) == 0
            if due:
                self._safe_refresh()  # a failure is logged; retried in an hour
                wait = 3600.0 if self.state == "failed" else MAX_AGE.total_seconds()
            else:
                wait = max(60.0, ((last or _now()) + MAX_AGE - _now()).total_seconds())
            self._stop.wait(wait)

    def refresh_in_background(self) -> bool:
        """Starts a refresh now unless one runs; False when one was running.

        The refresh lock is taken here, before the thread starts (the thread releases
        it): checking ``state`` instead let every request that came before the thread
        had begun start one more refresh, each queued behind the last."""
        if not self._lock.acquire(blocking=False):
            return False
        self.state = "running"

        def run() -> None:
            try:
                with contextlib.suppress(Exception):  # logged, state "failed"
                    self._refresh_locked()
            finally:
                self._lock.release()

        try:
            threading.Thread(target=run, daemon=True, name="stock-master-now").start()
        except BaseException:
            self._lock.release()
            raise
        return True

    def _safe_refresh(self) -> None:
        with contextlib.suppress(Exception):  # logged, state "failed"
            self.refresh()

    def close(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "count": self.count,
            "last_refresh": self.last_refresh.isoformat() if self.last_refresh else None,
            "last_error": self.last_error,
        }
