"""The main server's FastAPI app: health, auth, orders, market data, charts, account and
the browser stream, each a router of its own package (``gslts_backend.<area>.router``).

Built by :func:`create_app`; the lifespan builds the shared :class:`~gslts_backend.services.
Services` (database engine migrated to head, the Kiwoom client on first use, the hub's
bus followed over Redis when ``REDIS_URL`` is set, else the hub's ``/bus/stream``) and
closes them. Errors answer in the one shape of :mod:`gslts_common.errors`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from gslts_backend import account, auth, charts, market, orders, ws
from gslts_backend.auth.bootstrap import ensure_admin
from gslts_backend.live import LiveData, follower_for, source_of
from gslts_backend.security import install_security
from gslts_backend.services import Services
from gslts_backend.settings import BackendSettings
from gslts_common import errors
from gslts_common.bus_follow import Follower
from gslts_common.kiwoom_client import make_kiwoom_client
from gslts_db import make_engine, make_session_factory, upgrade
from gslts_kiwoom import KiwoomClient

#: the routers of the areas, in the order the OpenAPI document lists them
ROUTERS = (auth.router, orders.router, market.router, charts.router, account.router, ws.router)


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
) -> FastAPI:
    """The backend app. ``follower_factory`` / ``kiwoom_factory`` let tests choose the bus
    follower and the Kiwoom client."""
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
    errors.install(app)
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

    return app
