"""The sub-server's FastAPI app: tick history, status, health, metrics, watchlist (and the
interest leases, :mod:`gslts_hub.interest_api`; the bus for other processes at
``/bus/stream``, :mod:`gslts_common.bus_stream`).

Built by :func:`create_app`; the lifespan builds the :class:`~gslts_hub.hub.Hub` (which
migrates, replays the journal and connects) and closes it (which drains the writer).

The OpenAPI document is the contract (``tests/unit/hub/test_api_schemathesis.py`` runs
schemathesis against it): every response, errors included, is declared with its real
schema and media type. Requests pass :mod:`gslts_hub.middleware` first (Host check, body
limit, ``HEAD``); errors are mapped in :mod:`gslts_common.errors`.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import orjson
from fastapi import Depends, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gslts_common import errors
from gslts_common.bus import InProcessBus
from gslts_common.bus_stream import bus_stream_router
from gslts_common.server_timing import ServerTiming
from gslts_db.models import VENUES
from gslts_hub.hub import Hub
from gslts_hub.interest_api import interest_router
from gslts_hub.metrics import make_registry
from gslts_hub.middleware import BodyLimit, HeadAsGet, HostGuard
from gslts_hub.settings import HubSettings
from gslts_hub.watchlist import CODE_PATTERN
from gslts_kiwoom.krx import KST

STATIC_DIR = Path(__file__).parent / "static"
#: a JSON page without ``limit`` has this many ticks
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
#: a CSV without ``limit`` streams the whole range in queries of this many rows
CSV_CHUNK_ROWS = 5000
#: times outside this window are clamped to it: no trade is stored outside, and the
#: arithmetic on them (the next day, the KST date) cannot overflow
EARLIEST = datetime(1900, 1, 1, tzinfo=KST)
LATEST = datetime(9999, 1, 1, tzinfo=KST)
_MAX_CUM = 2**63 - 1
NEXT_CURSOR_HEADER = "X-Next-Cursor"
CSV_COLUMNS = (
    "time",
    "trade_date",
    "venue",
    "price",
    "volume",
    "cum_volume",
    "cum_value",
    "best_ask",
    "best_bid",
    "change_rate",
    "strength",
    "session",
    "source",
)


def get_bus(app: FastAPI) -> InProcessBus:
    bus: InProcessBus = app.state.hub.bus
    return bus


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]
StockCode = Annotated[
    str,
    PathParam(
        pattern=CODE_PATTERN,
        description="6 characters: a digit, then 5 digits or capital letters",
        examples=["005930"],
    ),
]

#: ISO 8601 date-time, seconds and offset optional (no offset = KST): 2026-03-03T09:00:00+09:00
TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
QueryTime = Annotated[
    str | None,
    Query(
        pattern=TIME_PATTERN,
        description="ISO 8601 date-time; without an offset it is KST",
        examples=["2026-03-03T09:00:00+09:00"],
    ),
]


# ---------------------------------------------------------------------- schemas (OpenAPI)
class WatchlistIn(BaseModel):
    stock_code: str = Field(
        pattern=CODE_PATTERN,
        description="6 characters: a digit, then 5 digits or capital letters",
        examples=["005930"],
    )
    note: str | None = Field(default=None, max_length=255)


class WatchItem(BaseModel):
    """A stored watchlist entry."""

    stock_code: str = Field(pattern=CODE_PATTERN)
    name: str
    note: str | None
    added_at: datetime


class Watchlist(BaseModel):
    items: list[WatchItem]


class Tick(BaseModel):
    """One trade (0B 주식체결): ``volume`` is signed (+ buy-initiated, - sell-initiated)."""

    time: datetime
    trade_date: date
    venue: Literal["KRX", "NXT"]
    price: int
    volume: int
    cum_volume: int
    cum_value: int = Field(description="KRW million")
    best_ask: int | None
    best_bid: int | None
    change_rate: str | None = Field(description="percent, a decimal string")
    strength: str | None = Field(description="체결강도, a decimal string")
    session: str | None
    source: str = Field(description="live, or backfill (recovered from ka10079)")


class TickPage(BaseModel):
    stock_code: str
    ticks: list[Tick]
    next_cursor: str | None = Field(description="pass as ``cursor`` for the next page")


class Health(BaseModel):
    status: Literal["ok", "unhealthy"]
    reasons: list[str]
    collecting: bool
    db_ok: bool


# ---------------------------------------------------------------------- helpers
def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=KST)


def _clamp(dt: datetime) -> datetime:
    # aware comparisons never overflow, unlike astimezone/+timedelta at the edges
    return max(EARLIEST, min(LATEST, dt))


def _parse_time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:  # matched TIME_PATTERN but is no time (month 13, hour 25, …)
        raise errors.BadInput(f"{name}: not a date-time: {errors.clip(value)!r}") from None


def tick_window(
    start_time: str | None, end_time: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """``[start, end)`` from the query: a day's window by default (today in KST; the day
    before ``end_time`` or after ``start_time`` when only one is given); naive times are
    KST; any date-time is accepted (clamped to ``EARLIEST..LATEST``)."""
    start = _parse_time("start_time", start_time)
    end = _parse_time("end_time", end_time)
    if start is not None and end is not None and end <= start:
        raise errors.BadInput("end_time must be after start_time")
    if start is not None:
        start = _clamp(start)
    elif end is not None:
        start = _clamp(end) - timedelta(days=1)
    else:
        start = datetime.combine(now.date(), datetime.min.time(), KST)
    end = _clamp(end) if end is not None else start + timedelta(days=1)
    return start, end


def encode_cursor(d: date, venue: str, cum: int) -> str:
    return base64.urlsafe_b64encode(f"{d.isoformat()}|{venue}|{cum}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[date, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        d, venue, cum = raw.split("|")
        out = date.fromisoformat(d), venue, int(cum)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadInput("cursor is not a cursor this API returned") from exc
    if venue not in VENUES or not 0 <= out[2] <= _MAX_CUM:
        raise errors.BadInput("cursor is not a cursor this API returned")
    return out


def tick_json(r: Any) -> dict[str, Any]:
    """A stored tick (a :meth:`HubRepository.tick_rows` row) as the API's JSON object."""
    return {
        "time": _aware(r.trade_time).isoformat(),
        "trade_date": r.trade_date.isoformat(),
        "venue": r.venue,
        "price": r.price,
        "volume": r.volume,
        "cum_volume": r.cum_volume,
        "cum_value": r.cum_value,
        "best_ask": r.best_ask,
        "best_bid": r.best_bid,
        "change_rate": None if r.change_rate is None else str(r.change_rate),
        "strength": None if r.strength is None else str(r.strength),
        "session": r.session,
        "source": r.source,
    }


def _page(
    hub: Hub,
    code: str,
    start: datetime,
    end: datetime,
    after: tuple[date, str, int] | None,
    limit: int,
) -> tuple[Sequence[Any], str | None]:
    """One page of rows and the cursor of the next one (None at the end)."""
    rows = hub.repo.tick_rows(code, start, end, after, limit + 1)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(last.trade_date, last.venue, last.cum_volume)


def _csv_text(rows: Sequence[Any], header: bool = False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    if header:
        w.writerow(CSV_COLUMNS)
    for r in rows:
        d = tick_json(r)
        w.writerow(["" if d[c] is None else d[c] for c in CSV_COLUMNS])
    return buf.getvalue()


def _csv_page(rows: Sequence[Any]) -> Iterator[str]:
    yield _csv_text((), header=True)
    for i in range(0, len(rows), CSV_CHUNK_ROWS):
        yield _csv_text(rows[i : i + CSV_CHUNK_ROWS])


def _csv_stream(
    hub: Hub, code: str, start: datetime, end: datetime, after: tuple[date, str, int] | None
) -> Iterator[str]:
    yield _csv_text((), header=True)
    while True:
        rows = hub.repo.tick_rows(code, start, end, after, CSV_CHUNK_ROWS)
        if not rows:
            return
        yield _csv_text(rows)
        last = rows[-1]
        after = (last.trade_date, last.venue, last.cum_volume)
        if len(rows) < CSV_CHUNK_ROWS:
            return


_TICK_DATA_DOC = f"""One stock's trades in ``[start_time, end_time)``, in key order (day, venue,
cumulative volume), paged by an opaque ``cursor``.

* The window is a day by default: today 00:00 KST, or the day after ``start_time`` /
  before ``end_time`` when only one is given. Times without an offset are KST.
* ``format=json`` (default): one page of ``limit`` ticks (default {DEFAULT_LIMIT}) and its
  ``next_cursor`` (null on the last page).
* ``format=csv``: without ``limit``, the **whole range** streamed (no cursor); with
  ``limit``, one page of at most ``limit`` rows, the next page's cursor in the
  ``{NEXT_CURSOR_HEADER}`` response header (absent on the last page).
"""

_NEXT_CURSOR = {
    NEXT_CURSOR_HEADER: {
        "description": "cursor of the next page (a page with more after it)",
        "schema": {"type": "string"},
    }
}


def _origin_hosts(settings: HubSettings) -> frozenset[str]:
    """Host names (no brackets, no port) a browser page may open ``/ws/status`` from."""
    return frozenset(h.strip("[]") for h in settings.allowed_hosts())


def _status_doc(app: FastAPI, hub: Hub) -> dict[str, Any]:
    """``/api/status``: the hub's state and its bus stream's (subscribers, lag, drops)."""
    doc = hub.status()
    stream = getattr(app.state, "bus_stream", None)
    doc["bus_stream"] = None if stream is None else stream.stats()
    return doc


def create_app(
    settings: HubSettings | None = None, *, hub_factory: Callable[[HubSettings], Hub] | None = None
) -> FastAPI:
    """The sub-server app. ``hub_factory`` lets tests build the hub (e.g. ``connect=False``)."""
    settings = settings or HubSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = hub_factory(settings) if hub_factory else Hub(settings)
        await run_in_threadpool(hub.start)
        app.state.hub = hub
        app.state.registry = make_registry(hub)
        try:
            yield
        finally:
            await run_in_threadpool(hub.close)

    app = FastAPI(
        title="GSLTS sub-server (tick hub)",
        lifespan=lifespan,
        # every operation can meet the Host check (middleware.HostGuard)
        responses=errors.responses(400),
    )
    errors.install(app)
    # added last = outermost: the Host check runs first
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, max_bytes=settings.hub_max_body_bytes)
    app.add_middleware(HostGuard, allowed=settings.allowed_hosts())
    app.add_middleware(ServerTiming)  # outermost: the whole server-side time
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
        if (STATIC_DIR / "index.html").is_file():

            @app.get("/", include_in_schema=False)
            async def index() -> FileResponse:
                return FileResponse(STATIC_DIR / "index.html")

    @app.get(
        "/api/tick-data/{stock_code}",
        response_model=None,
        description=_TICK_DATA_DOC,
        responses={
            200: {
                "model": TickPage,
                "description": "a page of ticks (JSON), or CSV",
                "content": {"text/csv": {"schema": {"type": "string"}}},
                "headers": _NEXT_CURSOR,
            },
            **errors.responses(404, 422, 503),
        },
    )
    def tick_data(
        hub: HubDep,
        stock_code: StockCode,
        start_time: QueryTime = None,
        end_time: QueryTime = None,
        limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT)] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        format: Literal["json", "csv"] = "json",
    ) -> Response:
        start, end = tick_window(start_time, end_time, datetime.fromtimestamp(hub.clock(), KST))
        after = decode_cursor(cursor) if cursor else None
        if not hub.is_known(stock_code):
            raise errors.NotFound(
                f"unknown stock {stock_code}: not listed, not collected, no ticks"
            )
        if format == "csv":
            headers = {"Content-Disposition": f'attachment; filename="{stock_code}-ticks.csv"'}
            body: Iterator[str]
            if limit is None:
                body = _csv_stream(hub, stock_code, start, end, after)
            else:
                rows, nxt = _page(hub, stock_code, start, end, after, limit)
                if nxt is not None:
                    headers[NEXT_CURSOR_HEADER] = nxt
                body = _csv_page(rows)
            return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)
        n = limit or DEFAULT_LIMIT
        objs = hub.repo.tick_page_json(stock_code, start, end, after, n + 1)
        if objs is not None:  # MySQL/MariaDB built the ticks' JSON
            nxt = None
            if len(objs) > n:
                objs = objs[:n]
                k = orjson.loads(objs[-1])
                nxt = encode_cursor(
                    date.fromisoformat(k["trade_date"]), k["venue"], int(k["cum_volume"])
                )
            ticks: Any = orjson.Fragment(b"[" + b",".join(objs) + b"]")
        else:
            rows, nxt = _page(hub, stock_code, start, end, after, n)
            ticks = [tick_json(r) for r in rows]
        doc = {"stock_code": stock_code, "ticks": ticks, "next_cursor": nxt}
        return Response(
            orjson.dumps(doc),
            media_type="application/json",
            headers={NEXT_CURSOR_HEADER: nxt} if nxt else None,
        )

    @app.get(
        "/api/status",
        response_model=None,
        responses={
            200: {
                "description": "the collector's state (the monitoring page's data)",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            **errors.responses(503),
        },
    )
    def status(request: Request, hub: HubDep) -> Response:
        return Response(orjson.dumps(_status_doc(request.app, hub)), media_type="application/json")

    @app.get(
        "/api/health",
        response_model=Health,
        responses={503: {"model": Health, "description": "unhealthy: see reasons"}},
        description="200 when healthy, 503 with the reasons when not; answers HEAD too.",
    )
    def health(hub: HubDep) -> JSONResponse:
        reasons = hub.health_reasons()  # journal, database, writer, Redis, socket
        ok = not reasons
        return JSONResponse(
            {
                "status": "ok" if ok else "unhealthy",
                "reasons": reasons,
                "collecting": hub.collecting,
                "db_ok": hub.writer.stats.db_ok,
            },
            status_code=200 if ok else 503,
        )

    @app.get(
        "/metrics",
        response_class=Response,  # no JSON default: the 200 is text/plain, errors JSON
        responses={
            200: {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/watchlist", response_model=Watchlist, responses=errors.responses(503))
    def watchlist(hub: HubDep) -> dict[str, Any]:
        return {"items": hub.list_watchlist()}

    @app.post(
        "/api/watchlist",
        status_code=201,
        response_model=WatchItem,
        responses={
            200: {"model": WatchItem, "description": "already on the watchlist: the stored entry"},
            201: {"description": "added"},
            **errors.responses(404, 413, 422, 503),
        },
        description="Add a listed stock (201). Already on the list: 200 with the entry as "
        "stored (its own note and time; the new note is not applied).",
    )
    def add_watchlist(hub: HubDep, item: WatchlistIn) -> JSONResponse:
        entry, created = hub.add_watchlist(item.stock_code, item.note)
        return JSONResponse(entry, status_code=201 if created else 200)

    @app.delete(
        "/api/watchlist/{stock_code}",
        status_code=204,
        response_class=Response,
        responses=errors.responses(404, 422, 503),
    )
    def delete_watchlist(hub: HubDep, stock_code: StockCode) -> Response:
        if not hub.remove_watchlist(stock_code):
            raise errors.NotFound(f"{stock_code} is not on the watchlist")
        return Response(status_code=204)

    app.include_router(interest_router(settings.hub_interest_max_ttl_s))
    # the bus for other processes (the backend without Redis); its lifespan runs inside ours
    app.include_router(bus_stream_router(get_bus, origin_hosts=_origin_hosts(settings)))

    @app.websocket("/ws/status")
    async def ws_status(websocket: WebSocket) -> None:
        """Live status for the monitoring page: the /api/status document every second."""
        hub: Hub = websocket.app.state.hub
        origin = websocket.headers.get("origin")
        if origin is not None and urlsplit(origin).hostname not in _origin_hosts(settings):
            # a page on another site must not read the hub (browsers send Origin on WS)
            await websocket.close(code=1008, reason="origin not allowed")
            return
        await websocket.accept()
        try:
            while True:
                doc = await run_in_threadpool(_status_doc, websocket.app, hub)
                await websocket.send_bytes(orjson.dumps(doc))
                await asyncio.sleep(1.0)
        except (WebSocketDisconnect, RuntimeError):
            return

    return app
