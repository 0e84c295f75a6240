"""The sector link's service: the stored data in, the model's answers out.

:class:`SectorService` is what the routes, the morning schedule and the CLI share. It
reads the bars and links from the database (:mod:`.store`), runs the pure model
(:func:`~gslts_backend.sectors.model.recommend`, :func:`~gslts_backend.sectors.backtest.
backtest`) and stores the morning's list. Everything is synchronous (the routes run it in
a worker thread); the backtest cache is per process and keyed by the data's version.
"""

from __future__ import annotations

import logging
import threading
import time as _time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine

from gslts_backend.sectors import store
from gslts_backend.sectors.backtest import Costs, backtest
from gslts_backend.sectors.calendars import (
    KST,
    cutoff_kst,
    kr_sessions,
    previous_kr_session,
    us_close_kst,
    us_sessions,
    us_sessions_for,
)
from gslts_backend.sectors.model import Bar, ModelConfig, load_default_links, recommend

log = logging.getLogger(__name__)

#: stored beside every recommendation: which model produced it
MODEL_VERSION = "sectors-1"
#: history the model is given before the recommendation day (the fit window is 500 rows)
HISTORY_DAYS = 5 * 366
#: backtest results kept in memory
CACHE_SIZE = 16
#: the confidence tags a link may carry
CONFIDENCE = ("H", "M", "L")


class SectorError(Exception):
    """A sector request that cannot be answered; ``kind`` maps to the HTTP status."""

    def __init__(self, kind: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.kind = kind  # "bad_input" | "not_found"
        self.detail = detail
        self.field = field


def now_kst() -> datetime:
    return datetime.now(KST)


def next_kr_session(day: date) -> date:
    """The KRX session on or after ``day``."""
    found = kr_sessions(day, day + timedelta(days=20))
    if not found:  # pragma: no cover - never 20 days without a session
        raise SectorError("bad_input", f"no KRX session within 20 days of {day}", "date")
    return found[0]


def default_day(now: datetime) -> date:
    """The KRX session a morning list is for at ``now``: today until its close (15:30),
    else the next session."""
    local = now.astimezone(KST)
    today = local.date()
    if kr_sessions(today, today) and local.time() < time(15, 30):
        return today
    return next_kr_session(today + timedelta(days=1))


def expected_us_sessions(day: date) -> list[date]:
    """The NYSE sessions the KRX session ``day`` compounds (from the calendars)."""
    prev = previous_kr_session(day)
    return us_sessions_for(day, us_sessions(prev - timedelta(days=7), day), prev)


@dataclass
class BacktestCacheEntry:
    result: dict[str, Any]
    elapsed_s: float


class SectorService:
    """The sector link over one database engine.

    Args:
        engine: the database (schema at head).
        config: the model settings.
        costs: the backtest's trading costs.
        clock: ``now`` (aware); tests inject one.
    """

    def __init__(
        self,
        engine: Engine,
        config: ModelConfig | None = None,
        costs: Costs | None = None,
        clock: Callable[[], datetime] = now_kst,
    ) -> None:
        self.engine = engine
        self.config = config or ModelConfig()
        self.costs = costs or Costs()
        self.clock = clock
        self._cache: OrderedDict[tuple[Any, ...], BacktestCacheEntry] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._run_lock = threading.Lock()
        #: bumped by every write this process makes (a part of the data version)
        self._generation = 0

    # --- links -------------------------------------------------------------------------

    def ensure_seeded(self) -> int:
        """Seed the default link map when ``sector_links`` is empty."""
        with self.engine.begin() as conn:
            n = store.seed_default_links(conn, load_default_links())
        if n:
            self._generation += 1
            log.info("sectors_links_seeded links=%d", n)
        return n

    def links(self) -> list[store.StoredLink]:
        with self.engine.connect() as conn:
            return store.links(conn)

    def replace_links(self, items: Sequence[dict[str, Any]]) -> list[store.StoredLink]:
        """Validate and store ``items`` as the whole map.

        Raises:
            SectorError: a duplicate link, an unknown confidence, a stock code not in the
                stock master (when it is loaded), a rationale too long.
        """
        seen: set[tuple[str, str]] = set()
        with self.engine.begin() as conn:
            checked = store.master_loaded(conn)
            codes = [str(i["kr_code"]) for i in items]
            names = store.stock_names(conn, codes) if checked else {}
            # a code already in the map stays allowed (a stale master may lack a listing)
            known = {lk.kr_code for lk in store.links(conn)} | set(names)
            out: list[store.StoredLink] = []
            new_instruments: list[store.Instrument] = []
            for n, item in enumerate(items):
                where = f"links.{n}"
                key = (str(item["us_symbol"]), str(item["kr_code"]))
                if key in seen:
                    raise SectorError(
                        "bad_input", f"{where}: duplicate link {key[0]} → {key[1]}", where
                    )
                seen.add(key)
                if item["confidence"] not in CONFIDENCE:
                    raise SectorError(
                        "bad_input", f"{where}.confidence: one of H, M, L", f"{where}.confidence"
                    )
                if len(str(item.get("rationale", ""))) > 500:
                    raise SectorError(
                        "bad_input",
                        f"{where}.rationale: at most 500 characters",
                        f"{where}.rationale",
                    )
                if checked and key[1] not in known:
                    raise SectorError(
                        "bad_input",
                        f"{where}.kr_code: {key[1]} is not in the stock master",
                        f"{where}.kr_code",
                    )
                kr_name = str(item.get("kr_name") or "") or names.get(key[1], "")
                out.append(
                    store.StoredLink(
                        key[0], key[1], kr_name, str(item["confidence"]),
                        str(item.get("rationale") or ""), bool(item.get("active", True)),
                    )
                )  # fmt: skip
                new_instruments.append(
                    store.Instrument(
                        key[0], str(item.get("us_name") or key[0]),
                        "index" if key[0].startswith("^") else "etf",
                    )
                )  # fmt: skip
            store.add_missing_instruments(conn, new_instruments)
            store.replace_links(conn, out)
            result = store.links(conn)
        self._generation += 1
        log.info("sectors_links_replaced links=%d", len(out))
        return result

    # --- data --------------------------------------------------------------------------

    def _load(
        self, end: date | None, start: date | None = None
    ) -> tuple[list[Any], dict[str, list[Bar]], dict[str, list[Bar]]]:
        with self.engine.connect() as conn:
            links = [lk.to_link() for lk in store.links(conn, active_only=True)]
            us = store.us_bars(conn, start, end)
            kr = store.kr_bars(conn, start, end)
        return links, us, kr

    def data_version(self) -> str:
        with self.engine.connect() as conn:
            return f"{store.data_version(conn)}/g{self._generation}"

    def bumped(self) -> None:
        """Tell the service its data changed (an import through another connection)."""
        self._generation += 1

    # --- recommendations ---------------------------------------------------------------

    def _check_session(self, day: date) -> None:
        if not kr_sessions(day, day):
            raise SectorError("bad_input", f"date: {day} is not a KRX session", "date")

    def compute(self, day: date) -> tuple[list[Any], list[date], str | None]:
        """The model's list for ``day`` from the stored data: ``(recs, us_sessions
        present, note)``."""
        self._check_session(day)
        links, us, kr = self._load(day + timedelta(days=1), day - timedelta(days=HISTORY_DAYS))
        if not links:
            raise SectorError("not_found", "no active sector links: PUT /api/sectors/links")
        if not us or not kr:
            raise SectorError(
                "not_found",
                "no sector data stored: import it (gslts sectors import) or fetch it "
                "(gslts sectors fetch)",
            )
        market = us.get(self.config.market_symbol, [])
        have = [b.day for b in market]
        expected = expected_us_sessions(day)
        present = [u for u in expected if u in set(have)]
        note: str | None = None
        if not expected:
            note = "no US session since the previous KRX session (a US holiday): no signal"
        elif len(present) < len(expected):
            missing = ", ".join(u.isoformat() for u in expected if u not in present)
            note = f"US data not complete for this day (missing {missing}): provisional, not stored"
        try:
            recs = recommend(day, links, us, kr, self.config)
        except ValueError as exc:
            raise SectorError("not_found", f"cannot rank {day}: {exc}") from exc
        if not recs and note is None:
            note = "no link has enough history yet (min_history rows) to rank anything"
        return recs, present, note

    def recommendations(
        self, day: date, *, recompute: bool = False, now: datetime | None = None
    ) -> dict[str, Any]:
        """The stored list of ``day``, else computed now (and stored when the US data of
        the day is complete and something was ranked)."""
        self._check_session(day)
        names = self._names()
        if not recompute:
            with self.engine.connect() as conn:
                got = store.stored_recommendations(conn, day)
            if got is not None:
                return {
                    "date": day,
                    "us_sessions": self._present_sessions(day),
                    "computed": False,
                    "stored": True,
                    "created_at": got.created_at,
                    "model_version": got.model_version,
                    "note": None,
                    "items": self._items(got.items, names),
                }
        recs, present, note = self.compute(day)
        stored = bool(recs) and note is None
        created = (now or self.clock()) if stored else None
        if stored and created is not None:
            with self.engine.begin() as conn:
                store.store_recommendations(conn, day, recs, MODEL_VERSION, created)
            log.info("sectors_recommendations_stored date=%s stocks=%d", day, len(recs))
        return {
            "date": day,
            "us_sessions": present,
            "computed": True,
            "stored": stored,
            "created_at": created,
            "model_version": MODEL_VERSION,
            "note": note,
            "items": self._items([r.to_dict() for r in recs], names),
        }

    def _names(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {i.symbol: i.name for i in store.instruments(conn)}

    def _sectors(self, codes: list[str]) -> dict[str, str]:
        if not codes:
            return {}
        with self.engine.connect() as conn:
            return store.stock_sectors(conn, codes)

    def _present_sessions(self, day: date) -> list[date]:
        expected = expected_us_sessions(day)
        if not expected:
            return []
        with self.engine.connect() as conn:
            us = store.us_bars(conn, expected[0], expected[-1])
        have = {b.day for b in us.get(self.config.market_symbol, [])}
        return [u for u in expected if u in have]

    def _items(self, rows: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
        sectors = self._sectors([str(d["kr_code"]) for d in rows])
        out = []
        for d in rows:
            item = dict(d)
            item["kr_sector"] = sectors.get(str(d["kr_code"]))
            item["drivers"] = [
                {**dr, "us_name": names.get(dr["us_symbol"], "")} for dr in d["drivers"]
            ]
            out.append(item)
        return out

    # --- last night's US moves ---------------------------------------------------------

    def us_moves(self, day: date) -> dict[str, Any]:
        """Each instrument's close-to-close return compounded over the US sessions that
        feed ``day`` (the heat map)."""
        self._check_session(day)
        expected = expected_us_sessions(day)
        start = (expected[0] if expected else day) - timedelta(days=14)
        with self.engine.connect() as conn:
            instruments = store.instruments(conn)
            active = store.links(conn, active_only=True)
            us = store.us_bars(conn, start, day)
        counts: dict[str, int] = {}
        for lk in active:
            counts[lk.us_symbol] = counts.get(lk.us_symbol, 0) + 1
        cutoff = cutoff_kst(day)
        items = []
        for ins in instruments:
            if not ins.active:
                continue
            bars = [b for b in us.get(ins.symbol, []) if _closed_before(b.day, cutoff)]
            by_day = {b.day: b for b in bars}
            change: float | None = None
            if expected and bars:
                # the close before the first session fed, then each session's close
                before = [b for b in bars if b.day < expected[0]]
                if before and all(u in by_day for u in expected):
                    g = by_day[expected[-1]].close / before[-1].close
                    change = g - 1.0
            last = bars[-1] if bars else None
            items.append(
                {
                    "symbol": ins.symbol,
                    "name": ins.name,
                    "kind": ins.kind,
                    "change": change,
                    "last_close": last.close if last else None,
                    "last_date": last.day if last else None,
                    "links": counts.get(ins.symbol, 0),
                }
            )
        return {"date": day, "us_sessions": expected, "items": items}

    # --- backtest ----------------------------------------------------------------------

    def backtest(
        self, start: date, end: date, top_n: int, permutations: int = 200, seed: int = 0
    ) -> dict[str, Any]:
        """The walk-forward backtest over the stored data (cached per data version)."""
        if end < start:
            raise SectorError("bad_input", "to: before from", "to")
        version = self.data_version()
        key = (start, end, top_n, permutations, seed, version)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return {
                    **hit.result,
                    "cached": True,
                    "elapsed_s": hit.elapsed_s,
                    "data_version": version,
                }
        with self._run_lock:  # one backtest at a time: two would halve each other's speed
            with self._cache_lock:
                hit = self._cache.get(key)
            if hit is not None:
                return {
                    **hit.result,
                    "cached": True,
                    "elapsed_s": hit.elapsed_s,
                    "data_version": version,
                }
            links, us, kr = self._load(end + timedelta(days=1))
            if not links:
                raise SectorError("not_found", "no active sector links")
            if not us or not kr:
                raise SectorError("not_found", "no sector data stored: import or fetch it first")
            t0 = _time.perf_counter()
            try:
                res = backtest(
                    links, us, kr, start, end, top_n, self.config, self.costs, permutations, seed
                )
            except ValueError as exc:
                raise SectorError("not_found", f"cannot backtest: {exc}") from exc
            elapsed = round(_time.perf_counter() - t0, 3)
            result = res.to_dict()
            log.info(
                "sectors_backtest from=%s to=%s top_n=%d days=%d elapsed_s=%.2f",
                start, end, top_n, res.days, elapsed,
            )  # fmt: skip
            with self._cache_lock:
                self._cache[key] = BacktestCacheEntry(result, elapsed)
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return {**result, "cached": False, "elapsed_s": elapsed, "data_version": version}

    # --- the morning run ---------------------------------------------------------------

    def morning_due(self, now: datetime) -> date | None:
        """The KRX session whose list should be computed at ``now``, or None: after the
        last US session feeding it closed and before its 08:30 KST cutoff."""
        local = now.astimezone(KST)
        day = next_kr_session(local.date())
        if local >= cutoff_kst(day):
            return None
        expected = expected_us_sessions(day)
        if not expected or local < us_close_kst(expected[-1]):
            return None
        return day

    def has_stored(self, day: date) -> bool:
        with self.engine.connect() as conn:
            return store.stored_recommendations(conn, day) is not None

    def morning_run(self, now: datetime | None = None) -> date | None:
        """Compute and store the coming session's list when due and not stored yet;
        returns the day stored (None: nothing to do, or the data is not there yet)."""
        now = now or self.clock()
        day = self.morning_due(now)
        if day is None:
            return None
        if self.has_stored(day):
            return None
        try:
            out = self.recommendations(day, now=now)
        except SectorError as exc:
            log.info("sectors_morning_skipped date=%s reason=%s", day, exc.detail)
            return None
        return day if out["stored"] else None


def _closed_before(us_day: date, cutoff: datetime) -> bool:
    try:
        return us_close_kst(us_day) < cutoff
    except ValueError:  # a bar dated on a day the calendar has no session: take it as closed
        return us_day < cutoff.date()
