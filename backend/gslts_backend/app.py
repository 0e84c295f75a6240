"""The main server's FastAPI app (skeleton): health, and the hub's live data followed over
the bus. Orders, account, search, charts and the browser stream come in the next step.

Built by :func:`create_app`; the lifespan starts following the hub's bus (Redis when
``REDIS_URL`` is set, else the hub's ``/bus/stream``) and stops it. Errors answer in the
one shape of :mod:`gslts_common.errors`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from gslts_backend.live import LiveData, follower_for, source_of
from gslts_backend.settings import BackendSettings
from gslts_common import errors
from gslts_common.bus_follow import Follower


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
) -> FastAPI:
    """The backend app. ``follower_factory`` lets tests choose the bus follower."""
    settings = settings or BackendSettings()
    started = time.monotonic()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        follower = (follower_factory or follower_for)(settings)
        live = LiveData(follower, source=source_of(settings))
        live.start()
        app.state.live = live
        try:
            yield
        finally:
            live.close()

    app = FastAPI(title="GSLTS main server", lifespan=lifespan)
    errors.install(app)

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
