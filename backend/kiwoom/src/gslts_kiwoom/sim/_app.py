"""The simulator's ASGI app: the Kiwoom REST paths (``_app_dispatch``), the admin hooks
(``_app_admin``) and the WebSocket endpoint (``_ws``), with the ticker in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import BaseRoute, WebSocketRoute

from gslts_kiwoom.sim._app_admin import admin_routes
from gslts_kiwoom.sim._app_dispatch import kiwoom_routes
from gslts_kiwoom.sim._simulator import Simulator


def create_app(sim: Simulator) -> Starlette:
    """The simulator's ASGI app (Starlette). Serve it with uvicorn, or test it with
    ``starlette.testclient.TestClient``. The ticker runs from the lifespan when
    ``sim.config.ticker`` is set."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if sim.config.ticker:
            sim.start()
        try:
            yield
        finally:
            sim.stop()

    routes: list[BaseRoute] = [
        *kiwoom_routes(sim),
        *admin_routes(sim),
        WebSocketRoute("/api/dostk/websocket", sim.ws_hub.endpoint),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
