"""The main server's FastAPI app: health, auth, orders, market data, charts, account and
the browser stream, each a router of its own package (``gslts_backend.<area>.router``).

Built by :func:`create_app`; the lifespan builds the shared :class:`~gslts_backend.services.
Services` (database engine migrated to head, the Kiwoom client on first use, the hub's
bus followed over Redis when ``REDIS_URL`` is set, else the hub's ``/bus/stream``) and
closes them. Errors answer in the one shape of :mod:`gslts_common.errors`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from gslts_backend import account, auth, charts, market, orders, ws
from gslts_backend.auth.bootstrap import ensure_admin
from gslts_backend.live import LiveData, follower_for, source_of
from gslts_backend.sectors import routes as sectors_routes
from gslts_backend.security import install_security
from gslts_backend.services import Services
from gslts_backend.settings import BackendSettings
from gslts_common import errors
from gslts_common.bus_follow import Follower
from gslts_common.kiwoom_client import make_kiwoom_client
from gslts_db import make_engine, make_session_factory, upgrade
from gslts_kiwoom import APIError, KiwoomClient, KiwoomError, RateLimitError, TransportError

log = logging.getLogger(__name__)
#: Kiwoom's answers for a stock code it does not know (1902) or not on that venue (1903)
UNKNOWN_STOCK_CODES = ("1902", "1903")


def kiwoom_failure(exc: KiwoomError, *, stock_route: bool) -> errors.AppError:
    """The one error shape for a Kiwoom call a route let fail: rate limit → 429, Kiwoom
    unreachable → 503, Kiwoom refused → 502 with its code (messages are masked by the
    library); on a route of one stock (a ``code`` in the path) 1902/1903 → 404."""
    code = None
    if isinstance(exc, APIError):
        code = exc.detail_code or (str(exc.return_code) if exc.return_code is not None else None)
    if stock_route and isinstance(exc, APIError) and exc.detail_code in UNKNOWN_STOCK_CODES:
        return errors.NotFound(
            "Kiwoom does not know this stock code",
            field="code",
            detail_ko="존재하지 않는 종목코드입니다",
            kiwoom_code=code,
        )
    if isinstance(exc, RateLimitError):
        return errors.TooManyRequests("Kiwoom rate limit: try again", kiwoom_code=code)
    if isinstance(exc, TransportError):
        return errors.Unavailable(f"Kiwoom unreachable ({type(exc).__name__}): try again")
    if isinstance(exc, APIError):
        return errors.BadGateway(f"Kiwoom refused: {exc.server_message}"[:300], kiwoom_code=code)
    return errors.BadGateway(f"Kiwoom call failed ({type(exc).__name__})")


async def _kiwoom_error(request: Request, exc: Exception) -> JSONResponse:
    """A Kiwoom failure no area mapped itself is never a 500 (the areas that call Kiwoom
    map their own; this catches the rest, e.g. a quote's ka10001 fallback)."""
    assert isinstance(exc, KiwoomError)  # noqa: S101 - registered for KiwoomError only
    err = kiwoom_failure(exc, stock_route="code" in request.path_params)
    log.warning(
        "api_kiwoom_error %s %s error=%s", request.method, request.url.path, type(exc).__name__
    )
    name = next(c.__name__ for c in type(err).__mro__ if c.__module__ == errors.__name__)
    return errors.error_response(
        name, err.detail, err.status, err.headers, field=err.field,
        detail_ko=err.detail_ko, kiwoom_code=err.kiwoom_code,
    )  # fmt: skip


#: the routers of the areas, in the order the OpenAPI document lists them
ROUTERS = (
    auth.router,
    orders.router,
    market.router,
    charts.router,
    account.router,
    sectors_routes.router,
    ws.router,
)


#: the dashboard's static export (``make frontend`` builds it: frontend/out)
FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend" / "out"

#: first path segments that belong to the API: never answered with a dashboard page
_API_PREFIXES = ("api", "ws", "metrics", "docs", "redoc", "openapi.json")


class DashboardFiles(StaticFiles):
    """The dashboard's files at ``/`` (``html=True``: ``/stock/`` → ``stock/index.html``,
    unknown pages → its ``404.html``), except under the API's prefixes: an unknown
    ``/api/...`` path still answers the one JSON error shape (404 ``NotFound``)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.split("/", 1)[0] in _API_PREFIXES:
            # a route of this path with other methods: 405 (this mount matched first)
            allow = errors.allowed_methods(Request(scope))
            if allow:
                raise StarletteHTTPException(status_code=405, headers={"Allow": allow})
            raise StarletteHTTPException(status_code=404)
        return await super().get_response(path, scope)


def mount_dashboard(app: FastAPI, directory: Path | None) -> bool:
    """Serve the dashboard at ``/`` when it has been built: as the router's fallback, so
    it answers only what no route matched — also routes added after :func:`create_app`
    (a catch-all mount at ``/`` would shadow those) — and only GET/HEAD outside the API's
    prefixes; everything else keeps the JSON 404/405."""
    if directory is None or not (directory / "index.html").is_file():
        return False
    files = DashboardFiles(directory=directory, html=True)
    fallback = app.router.default

    async def dashboard_or_not_found(scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "/")).lstrip("/")
        if (
            scope["type"] == "http"
            and scope.get("method") in ("GET", "HEAD")
            and path.split("/", 1)[0] not in _API_PREFIXES
        ):
            await files(scope, receive, send)
            return
        await fallback(scope, receive, send)

    app.router.default = dashboard_or_not_found
    return True


class BusHealth(BaseModel):
    """The backend's subscription to the hub's bus."""

    transport: Literal["stream", "redis"]
    source: str = Field(description="where it follows (no credentials)")
    connected: bool
    epoch: str | None = Field(description="the hub run it follows (new at every hub start)")
    received: int = Field(description="events received")
    gaps: int = Field(description="times it was told it may have missed events")
    connects: int
    last_event_age_s: float | None
    last_error: str | None
    events: dict[str, int] = Field(description="events received per kind")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    reasons: list[str]
    mode: str = Field(description="KIWOOM_MODE: sim, mock or real")
    uptime_s: float
    bus: BusHealth


def create_app(
    settings: BackendSettings | None = None,
    *,
    follower_factory: Callable[[BackendSettings], Follower] | None = None,
    kiwoom_factory: Callable[[BackendSettings], KiwoomClient] | None = None,
    frontend_dir: Path | None = FRONTEND_DIR,
) -> FastAPI:
    """The backend app. ``follower_factory`` / ``kiwoom_factory`` let tests choose the bus
    follower and the Kiwoom client; ``frontend_dir`` the dashboard's static export served
    at ``/`` (None: none; a directory without ``index.html`` is skipped)."""
    settings = settings or BackendSettings()
    started = time.monotonic()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url())
        upgrade(engine)
        ensure_admin(make_session_factory(engine), settings)  # auth: the first admin
        follower = (follower_factory or follower_for)(settings)
        live = LiveData(follower, source=source_of(settings))
        svc = Services(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            live=live,
            kiwoom_factory=kiwoom_factory or make_kiwoom_client,
        )
        app.state.services = svc
        app.state.live = live
        live.start()
        try:
            yield
        finally:
            live.close()
            svc.close()

    app = FastAPI(title="GSLTS main server", lifespan=lifespan)
    errors.install(app, name_the_field=True)
    app.add_exception_handler(KiwoomError, _kiwoom_error)
    errors.declare_one_error_shape(app)
    for router in ROUTERS:
        app.include_router(router)
    install_security(app, settings)  # auth: CORS (closed by default), /metrics

    @app.get("/api/health", response_model=Health)
    def health(request: Request) -> dict[str, Any]:
        """Always 200 while the process serves; ``degraded`` (with the reasons) while it
        has no live data from the hub."""
        live: LiveData = request.app.state.live
        bus = live.stats()
        reasons = []
        if not bus["connected"]:
            why = f" ({bus['last_error']})" if bus["last_error"] else ""
            reasons.append(f"bus: not following the hub ({bus['source']}){why}")
        return {
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "mode": settings.kiwoom_mode,
            "uptime_s": round(time.monotonic() - started, 1),
            "bus": bus,
        }

    mount_dashboard(app, frontend_dir)  # last: every API route above wins
    return app
