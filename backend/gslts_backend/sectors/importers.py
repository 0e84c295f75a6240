"""Where the sector link's daily bars come from (docs/sectors-data.md "Providers").

Two provider interfaces, :class:`UsProvider` (US instruments) and :class:`KrProvider`
(Korean stocks), and their implementations:

* :class:`SimUsProvider` — the simulator's US sector feed (``GET /_sim/us-daily``);
* :class:`KiwoomKrProvider` — ka10081 주식일봉차트조회요청 through the real
  :class:`~gslts_kiwoom.KiwoomClient` (the simulator in ``sim`` mode, Kiwoom otherwise);
* :class:`YFinanceProvider`, :class:`FinanceDataReaderProvider` — optional online sources
  for users with internet; their packages are **not** installed (nor tested by CI): they
  raise :class:`ProviderUnavailable` naming what to install.

And the CSV import (:func:`parse_csv` + :func:`import_csv`): every row is validated first;
one bad row fails the whole file, naming its line, and nothing is stored; a good file is
stored in one transaction (upserts: importing again is harmless).

Bars outside the exchange's calendar (an NYSE/KRX holiday or weekend) are dropped and
counted: the model's calendars would refuse them.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine

from gslts_backend.sectors import store
from gslts_backend.sectors.calendars import kr_sessions, us_sessions
from gslts_backend.sectors.model import Bar
from gslts_kiwoom import KiwoomClient

log = logging.getLogger(__name__)

Kind = Literal["us", "kr"]
#: ``progress(rows_done, rows_total_or_None)``
Progress = Callable[[int, int | None], None]

REQUIRED_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS = ("adj_close",)
#: errors listed in a refused file's message (the count says how many more)
MAX_LISTED_ERRORS = 20
#: rows between two progress reports
PROGRESS_EVERY = 10_000
US_SYMBOL_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.^-]{0,15}$")
KR_CODE_RE = re.compile(r"^[0-9A-Z]{6}$")


class ProviderUnavailable(RuntimeError):
    """An optional provider whose package is not installed (or that cannot be reached)."""


class CsvImportError(ValueError):
    """A file refused: ``errors`` are ``(line, message)``; nothing was stored."""

    def __init__(self, path: str, errors: list[tuple[int, str]]) -> None:
        self.path = path
        self.errors = errors
        shown = "\n".join(f"  line {n}: {m}" for n, m in errors[:MAX_LISTED_ERRORS])
        more = len(errors) - MAX_LISTED_ERRORS
        tail = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(f"{path}: {len(errors)} bad row(s), nothing imported:\n{shown}{tail}")


@dataclass
class ImportResult:
    kind: Kind
    rows: int = 0
    symbols: int = 0
    first_date: date | None = None
    last_date: date | None = None
    dropped_off_calendar: int = 0
    per_symbol: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "symbols": self.symbols,
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "dropped_off_calendar": self.dropped_off_calendar,
        }


# --- providers ---------------------------------------------------------------------------


class UsProvider(Protocol):
    name: str

    def fetch_us(self, symbol: str, start: date, end: date) -> list[Bar]:
        """Adjusted daily bars of ``symbol`` in ``[start, end]``, oldest first."""
        ...


class KrProvider(Protocol):
    name: str

    def fetch_kr(self, code: str, start: date, end: date) -> list[Bar]:
        """Daily bars of stock ``code`` in ``[start, end]``, oldest first."""
        ...


class SimUsProvider:
    """The simulator's US sector feed: ``GET {base_url}/_sim/us-daily`` (sim mode only)."""

    name = "sim"

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout_s)

    def symbols(self) -> list[str]:
        r = self._http.get(f"{self.base_url}/_sim/us-daily")
        self._check(r)
        return [str(s) for s in r.json()["symbols"]]

    def fetch_us(self, symbol: str, start: date, end: date) -> list[Bar]:
        r = self._http.get(
            f"{self.base_url}/_sim/us-daily",
            params={"symbol": symbol, "start": start.isoformat(), "end": end.isoformat()},
        )
        if r.status_code == 404 and "unknown symbol" in r.text:
            return []
        self._check(r)
        return [
            Bar(date.fromisoformat(d), float(o), float(h), float(lo), float(c), float(v))
            for d, o, h, lo, c, v in r.json()["rows"]
        ]

    def _check(self, r: httpx.Response) -> None:
        if r.status_code != 200:
            raise ProviderUnavailable(f"simulator US feed: HTTP {r.status_code} {r.text[:200]}")

    def close(self) -> None:
        self._http.close()


class KiwoomKrProvider:
    """ka10081 (adjusted daily bars) through the real Kiwoom client."""

    name = "ka10081"

    def __init__(self, client: KiwoomClient) -> None:
        self.client = client

    def fetch_kr(self, code: str, start: date, end: date) -> list[Bar]:
        candles = self.client.get_daily_chart(code, end, adjusted=True, since=start)
        return [
            Bar(c.date, float(c.open), float(c.high), float(c.low), float(c.close), float(c.volume))
            for c in candles
            if start <= c.date <= end
        ]


class YFinanceProvider:
    """US ETFs from Yahoo Finance (``pip install yfinance``; an optional extra, never
    installed by default nor exercised by CI). Yahoo's terms allow personal use only; no
    login is needed."""

    name = "yfinance"

    def __init__(self) -> None:
        raise ProviderUnavailable(
            "the yfinance provider is an optional extra: install it with "
            "`.venv/bin/python -m pip install yfinance` and export the bars to CSV "
            "(docs/sectors-data.md), then `gslts sectors import FILE`"
        )

    def fetch_us(self, symbol: str, start: date, end: date) -> list[Bar]:  # pragma: no cover
        raise ProviderUnavailable("yfinance is not installed")


class FinanceDataReaderProvider:
    """KRX daily bars from FinanceDataReader or pykrx (optional extras, never installed by
    default nor exercised by CI; KRX data terms apply, no login for either)."""

    name = "fdr"

    def __init__(self) -> None:
        raise ProviderUnavailable(
            "the FinanceDataReader/pykrx provider is an optional extra: install "
            "`finance-datareader` or `pykrx`, export the bars to CSV (docs/sectors-data.md), "
            "then `gslts sectors import FILE --kind kr`; or backfill with ka10081 "
            "(`gslts sectors fetch`)"
        )

    def fetch_kr(self, code: str, start: date, end: date) -> list[Bar]:  # pragma: no cover
        raise ProviderUnavailable("FinanceDataReader is not installed")


def make_us_provider(name: str, sim_url: str) -> UsProvider:
    if name == "sim":
        return SimUsProvider(sim_url)
    if name == "yfinance":
        return YFinanceProvider()
    raise ProviderUnavailable(f"unknown US provider {name!r} (sim, yfinance)")


# --- calendar filter ---------------------------------------------------------------------


def _on_calendar(kind: Kind, bars: list[Bar]) -> tuple[list[Bar], int]:
    if not bars:
        return bars, 0
    lo, hi = min(b.day for b in bars), max(b.day for b in bars)
    sessions = set(us_sessions(lo, hi) if kind == "us" else kr_sessions(lo, hi))
    kept = [b for b in bars if b.day in sessions]
    return kept, len(bars) - len(kept)


def _kind(symbol: str) -> str:
    if symbol in store.MARKET_FACTORS:
        return "market"
    return "index" if symbol.startswith("^") else "etf"


def _store(engine: Engine, kind: Kind, bars: dict[str, list[Bar]], source: str) -> ImportResult:
    """Store every series in ONE transaction; drop off-calendar days first."""
    res = ImportResult(kind)
    cleaned: dict[str, list[Bar]] = {}
    for key, series in bars.items():
        kept, dropped = _on_calendar(kind, series)
        res.dropped_off_calendar += dropped
        if kept:
            cleaned[key] = kept
    with engine.begin() as conn:
        if kind == "us":
            store.add_missing_instruments(
                conn,
                [store.Instrument(s, store.MARKET_FACTORS.get(s, s), _kind(s)) for s in cleaned],
            )
        for key, series in cleaned.items():
            n = (store.upsert_us_bars if kind == "us" else store.upsert_kr_bars)(
                conn, key, series, source
            )
            res.per_symbol[key] = n
            res.rows += n
    days = [b.day for s in cleaned.values() for b in s]
    res.symbols = len(cleaned)
    res.first_date = min(days) if days else None
    res.last_date = max(days) if days else None
    return res


# --- CSV ---------------------------------------------------------------------------------


def _number(raw: str, name: str, errors: list[str]) -> float:
    try:
        x = float(raw)
    except ValueError:
        errors.append(f"{name}: not a number ({raw[:20]!r})")
        return math.nan
    if not math.isfinite(x):
        errors.append(f"{name}: not a finite number")
    return x


def _date(raw: str, errors: list[str]) -> date | None:
    text = raw.strip()
    try:
        if len(text) == 8 and text.isdigit():
            return datetime.strptime(text, "%Y%m%d").date()  # noqa: DTZ007 - a date only
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    errors.append(f"date: not YYYY-MM-DD ({text[:20]!r})")
    return None


def parse_csv(
    text: Iterable[str], kind: Kind, *, name: str = "<csv>", progress: Progress | None = None,
    total_rows: int | None = None,
) -> dict[str, list[Bar]]:  # fmt: skip
    """Validated bars by symbol/code from CSV lines (header ``symbol,date,open,high,low,
    close,volume[,adj_close]``; other columns are ignored).

    With ``adj_close`` the open, high, low and close are scaled by ``adj_close / close``
    (the usual split/dividend adjustment); without it ``close`` is taken as adjusted.

    Raises:
        CsvImportError: a missing column or any bad row (every bad line is named).
    """
    reader = csv.reader(text)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CsvImportError(name, [(1, "empty file: expected a header line")]) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CsvImportError(
            name, [(1, f"header lacks {', '.join(missing)} (needs {','.join(REQUIRED_COLUMNS)})")]
        )
    col = {c: header.index(c) for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in header}
    key_re = US_SYMBOL_RE if kind == "us" else KR_CODE_RE
    bad: list[tuple[int, str]] = []
    out: dict[str, list[Bar]] = {}
    seen: dict[tuple[str, date], int] = {}
    n = 0
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        n += 1
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n, total_rows)
        errs: list[str] = []
        if len(row) < len(header):
            bad.append((line_no, f"{len(row)} fields, the header has {len(header)}"))
            continue
        key = row[col["symbol"]].strip().upper()
        if not key_re.match(key):
            what = "a US symbol such as SOXX" if kind == "us" else "a 6-character KRX code"
            errs.append(f"symbol: {key[:20]!r} is not {what}")
        day = _date(row[col["date"]], errs)
        o = _number(row[col["open"]], "open", errs)
        h = _number(row[col["high"]], "high", errs)
        lo = _number(row[col["low"]], "low", errs)
        c = _number(row[col["close"]], "close", errs)
        v = _number(row[col["volume"]], "volume", errs)
        adj = _number(row[col["adj_close"]], "adj_close", errs) if "adj_close" in col else c
        if not errs:
            if min(o, h, lo, c, adj) <= 0:
                errs.append("prices must be > 0")
            elif not (lo <= min(o, c) and h >= max(o, c) and h >= lo):
                errs.append(f"inconsistent bar: low {lo} high {h} open {o} close {c}")
            if v < 0:
                errs.append("volume must be >= 0")
        if day is not None and not errs:
            first = seen.get((key, day))
            if first is not None:
                errs.append(f"duplicate {key} {day} (first on line {first})")
            seen[(key, day)] = line_no
        if errs:
            bad.append((line_no, "; ".join(errs)))
            continue
        assert day is not None  # noqa: S101 - no error means a date
        f = adj / c
        out.setdefault(key, []).append(Bar(day, o * f, h * f, lo * f, adj, v))
    if progress is not None:
        progress(n, total_rows)
    if bad:
        raise CsvImportError(name, bad)
    for series in out.values():
        series.sort(key=lambda b: b.day)
    return out


def import_csv(
    engine: Engine, path: Path, kind: Kind, progress: Progress | None = None
) -> ImportResult:
    """Validate the whole file, then store it in one transaction (nothing on error)."""
    raw = path.read_text(encoding="utf-8-sig")
    total = max(0, raw.count("\n") - 1)
    bars = parse_csv(io.StringIO(raw), kind, name=str(path), progress=progress, total_rows=total)
    res = _store(engine, kind, bars, "csv")
    log.info("sectors_csv_imported file=%s kind=%s rows=%d", path.name, kind, res.rows)
    return res


# --- fetch -------------------------------------------------------------------------------


@dataclass
class FetchResult:
    us: ImportResult
    kr: ImportResult
    failures: list[str] = field(default_factory=list)


def fetch(
    engine: Engine,
    start: date,
    end: date,
    us_provider: UsProvider | None,
    kr_provider: KrProvider | None,
    progress: Callable[[str], None] | None = None,
) -> FetchResult:
    """Fetch the US instruments (every active one, plus the linked and the market
    factors) and the linked Korean stocks over ``[start, end]`` and store them (one
    transaction per side, after everything of that side was fetched)."""
    with engine.connect() as conn:
        links = store.links(conn, active_only=True)
        instruments = [i.symbol for i in store.instruments(conn) if i.active]
    symbols = list(
        dict.fromkeys([*store.MARKET_FACTORS, *instruments, *(lk.us_symbol for lk in links)])
    )
    codes = list(dict.fromkeys(lk.kr_code for lk in links))
    failures: list[str] = []
    us_bars: dict[str, list[Bar]] = {}
    if us_provider is not None:
        for i, s in enumerate(symbols, 1):
            try:
                got = us_provider.fetch_us(s, start, end)
            except ProviderUnavailable as exc:
                failures.append(f"{s}: {exc}")
                continue
            if got:
                us_bars[s] = got
            if progress is not None:
                progress(f"us {i}/{len(symbols)} {s}: {len(got)} bars")
    kr_bars: dict[str, list[Bar]] = {}
    if kr_provider is not None:
        for i, c in enumerate(codes, 1):
            try:
                got = kr_provider.fetch_kr(c, start, end)
            except Exception as exc:  # a Kiwoom refusal of one stock does not stop the rest
                failures.append(f"{c}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            if got:
                kr_bars[c] = got
            if progress is not None:
                progress(f"kr {i}/{len(codes)} {c}: {len(got)} bars")
    us_res = _store(engine, "us", us_bars, us_provider.name) if us_provider else ImportResult("us")
    kr_res = _store(engine, "kr", kr_bars, kr_provider.name) if kr_provider else ImportResult("kr")
    return FetchResult(us_res, kr_res, failures)


#: history the first sim fetch asks for (the simulator holds ``history_days`` of it)
SIM_BACKFILL_DAYS = 3 * 365
#: days re-fetched before the newest stored bar (a corrected bar replaces the stored one)
SIM_REFETCH_DAYS = 7


def sim_fetcher(
    service: Any, sim_url: str, kiwoom: Callable[[], KiwoomClient]
) -> Callable[[datetime], FetchResult]:
    """The morning schedule's fetch in sim mode: the simulator's US feed and ka10081 over
    the backend's own Kiwoom client, from the newest stored US bar (a week back) or, on
    an empty database, the last three years."""

    def run(now: datetime) -> FetchResult:
        end = now.date()
        with service.engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(store.US.c.trade_date))).scalar()
        start = (
            newest - timedelta(days=SIM_REFETCH_DAYS)
            if newest
            else end - timedelta(days=SIM_BACKFILL_DAYS)
        )
        us = SimUsProvider(sim_url)
        try:
            res = fetch(service.engine, start, end, us, KiwoomKrProvider(kiwoom()))
        finally:
            us.close()
        service.bumped()
        log.info(
            "sectors_sim_fetched from=%s to=%s us_rows=%d kr_rows=%d failures=%d",
            start, end, res.us.rows, res.kr.rows, len(res.failures),
        )  # fmt: skip
        return res

    return run
