"""The sub-server's FastAPI app: tick history, status, health, metrics, watchlist.

Built by :func:`create_app`; the lifespan builds the :class:`~gslts_hub.hub.Hub` (which
migrates, replays the journal and connects) and closes it (which drains the writer).
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gslts_db import TICK_COLUMNS, TickData
from gslts_db._types import KST
from gslts_hub import errors
from gslts_hub.hub import Hub, UnknownStock
from gslts_hub.metrics import make_registry
from gslts_hub.settings import HubSettings

STATIC_DIR = Path(__file__).parent / "static"
CODE_RE = re.compile(r"^[0-9][0-9A-Z]{5}$")
_T = TickData.__table__.c


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


class WatchlistIn(BaseModel):
    stock_code: str = Field(min_length=1, max_length=12)
    note: str | None = Field(default=None, max_length=255)


def _check_code(code: str) -> str:
    if not CODE_RE.match(code):
        raise errors.BadInput(f"stock_code must be 6 characters like 005930, got {code!r}")
    return code


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=KST)


def encode_cursor(d: date, venue: str, cum: int) -> str:
    return base64.urlsafe_b64encode(f"{d.isoformat()}|{venue}|{cum}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[date, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        d, venue, cum = raw.split("|")
        return date.fromisoformat(d), venue, int(cum)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadInput("cursor is not a cursor this API returned") from exc


def _tick_json(r: Any) -> dict[str, Any]:
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


def _page_query(
    code: str, start: datetime, end: datetime, after: tuple[date, str, int] | None, limit: int
) -> sa.Select[Any]:
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
    # the clustered key order: a page is one short range scan
    return q.order_by(_T.trade_date, _T.venue, _T.cum_volume).limit(limit)


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

    app = FastAPI(title="GSLTS sub-server (tick hub)", lifespan=lifespan)
    errors.install(app)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
        if (STATIC_DIR / "index.html").is_file():

            @app.get("/", include_in_schema=False)
            async def index() -> FileResponse:
                return FileResponse(STATIC_DIR / "index.html")

    @app.get("/api/tick-data/{stock_code}", response_model=None)
    def tick_data(
        hub: HubDep,
        stock_code: str,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        cursor: str | None = None,
        format: Literal["json", "csv"] = "json",
    ) -> Response:
        """One stock's trades in ``[start_time, end_time)``, paged by an opaque cursor."""
        code = _check_code(stock_code)
        now = datetime.now(KST)
        start = (
            _aware(start_time)
            if start_time
            else datetime.combine(now.date(), datetime.min.time(), KST)
        )
        end = _aware(end_time) if end_time else start + timedelta(days=1)
        if end <= start:
            raise errors.BadInput("end_time must be after start_time")
        after = decode_cursor(cursor) if cursor else None
        if not hub.is_known(code):
            raise errors.NotFound(f"unknown stock {code}: not listed, not collected, no ticks")
        if format == "csv":
            return StreamingResponse(
                _csv_stream(hub, code, start, end, after),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{code}-ticks.csv"'},
            )
        with hub.engine.connect() as conn:
            rows = conn.execute(_page_query(code, start, end, after, limit + 1)).all()
        nxt = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            nxt = encode_cursor(last.trade_date, last.venue, last.cum_volume)
        body = {"stock_code": code, "ticks": [_tick_json(r) for r in rows], "next_cursor": nxt}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.get("/api/status")
    def status(hub: HubDep) -> Response:
        return Response(orjson.dumps(hub.status()), media_type="application/json")

    @app.get("/api/health")
    def health(hub: HubDep) -> JSONResponse:
        reasons = []
        if not hub.db_reachable():
            reasons.append("database unreachable")
        if not hub.writer.running:
            reasons.append("writer not running")
        if hub.collecting and hub.ws_state != "ready":
            reasons.append(f"websocket {hub.ws_state}")
        if not hub.collecting and hub.schedule.mode == "always" and hub._connect:
            reasons.append("not collecting")
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

    @app.get("/metrics")
    def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/watchlist")
    def watchlist(hub: HubDep) -> dict[str, Any]:
        return {"items": hub.list_watchlist()}

    @app.post("/api/watchlist", status_code=201)
    def add_watchlist(hub: HubDep, item: WatchlistIn) -> dict[str, Any]:
        code = _check_code(item.stock_code)
        try:
            return hub.add_watchlist(code, item.note)
        except UnknownStock as exc:
            raise errors.NotFound(str(exc)) from exc

    @app.delete("/api/watchlist/{stock_code}", status_code=204)
    def delete_watchlist(hub: HubDep, stock_code: str) -> Response:
        code = _check_code(stock_code)
        if not hub.remove_watchlist(code):
            raise errors.NotFound(f"{code} is not on the watchlist")
        return Response(status_code=204)

    @app.websocket("/ws/status")
    async def ws_status(websocket: WebSocket) -> None:
        """Live status for the monitoring page: the /api/status document every second."""
        hub: Hub = websocket.app.state.hub
        await websocket.accept()
        try:
            while True:
                doc = await run_in_threadpool(hub.status)
                await websocket.send_bytes(orjson.dumps(doc))
                await asyncio.sleep(1.0)
        except (WebSocketDisconnect, RuntimeError):
            return

    return app


def _csv_stream(
    hub: Hub, code: str, start: datetime, end: datetime, after: tuple[date, str, int] | None
) -> Iterator[str]:
    cols = [
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
    ]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    yield buf.getvalue()
    while True:
        with hub.engine.connect() as conn:
            rows = conn.execute(_page_query(code, start, end, after, 5000)).all()
        if not rows:
            return
        buf.seek(0)
        buf.truncate()
        for r in rows:
            d = _tick_json(r)
            w.writerow(["" if d[c] is None else d[c] for c in cols])
        yield buf.getvalue()
        last = rows[-1]
        after = (last.trade_date, last.venue, last.cum_volume)
        if len(rows) < 5000:
            return
