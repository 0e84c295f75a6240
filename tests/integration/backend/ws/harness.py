"""The main server on a real port (uvicorn in a thread) for the account and browser-stream
tests, and browser clients (the ``websockets`` library) that record what they receive.

Authentication belongs to the auth area; these tests stand in for it with a test principal
taken from an ``Authorization: Bearer test:<user_id>:<role>`` header (see
:func:`test_principal`). A socket without that header goes through the real
``ws_principal`` (so "no session → 4401" is the real code's answer), and the Origin check
(``ws_origin``) is never replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, WebSocket
from websockets.asyncio.client import ClientConnection, connect

from gslts_backend import account as account_area
from gslts_backend import ws as ws_area
from gslts_backend.app import create_app
from gslts_backend.deps import ROLE_ORDER, Principal
from gslts_backend.settings import BackendSettings
from gslts_common.errors import Forbidden, Unauthorized

DEADLINE_S = 60.0


def wait_for(pred: Callable[[], bool], timeout: float = DEADLINE_S, poll: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(poll)
    return pred()


async def until(pred: Callable[[], bool], deadline_s: float = DEADLINE_S) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return pred()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _parse(header: str | None) -> Principal | None:
    if not header or not header.startswith("Bearer test:"):
        return None
    _, uid, role = header.removeprefix("Bearer ").split(":")
    assert role in ROLE_ORDER
    return Principal(int(uid), f"user{uid}", role, "127.0.0.1", int(uid))  # type: ignore[arg-type]


def test_principal(role: str) -> Callable[[Request], Principal]:
    def dep(request: Request) -> Principal:
        p = _parse(request.headers.get("authorization"))
        if p is None:
            raise Unauthorized("log in first")
        if ROLE_ORDER.index(p.role) < ROLE_ORDER.index(role):  # type: ignore[arg-type]
            raise Forbidden(f"needs {role}")
        return p

    return dep


async def _ws_test_principal(websocket: WebSocket) -> Principal | None:
    p = _parse(websocket.headers.get("authorization"))
    if p is None:
        return await ws_area.ws_principal(websocket)
    return p


def backend_app(settings: BackendSettings) -> FastAPI:
    app = create_app(settings)
    app.dependency_overrides[account_area.viewer] = test_principal("viewer")
    app.dependency_overrides[account_area.admin] = test_principal("admin")
    app.dependency_overrides[ws_area.ws_principal] = _ws_test_principal
    return app


def auth(user_id: int, role: str = "viewer") -> dict[str, str]:
    return {"Authorization": f"Bearer test:{user_id}:{role}"}


class BackendServer:
    """``create_app(settings)`` served by uvicorn on a free port, in a thread."""

    def __init__(self, settings: BackendSettings, *, sndbuf: int | None = None) -> None:
        self.app = backend_app(settings)
        self.port = free_port()
        #: ``sndbuf``: the accepted sockets' kernel send buffer (they inherit the listening
        #: socket's), so a browser that stops reading backs the server up within a few KB
        #: instead of the megabytes loopback buffers hold
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if sndbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.sock.bind(("127.0.0.1", self.port))
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True, name="backend"
        )

    def start(self) -> BackendServer:
        self._thread.start()
        assert wait_for(lambda: self.server.started, 30), "the backend did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(30)
        self.sock.close()

    @property
    def hub(self) -> Any:
        return self.app.state.ws_hub


@contextlib.contextmanager
def serve(settings: BackendSettings, *, sndbuf: int | None = None) -> Iterator[BackendServer]:
    srv = BackendServer(settings, sndbuf=sndbuf).start()
    try:
        yield srv
    finally:
        srv.stop()


@dataclass
class Browser:
    """A browser's socket: everything received, in order (read by a background task)."""

    conn: ClientConnection
    received: list[dict[str, Any]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None
    closed_code: int | None = None
    closed_reason: str | None = None

    async def send(self, **msg: Any) -> None:
        await self.conn.send(json.dumps(msg))

    def of(self, type_: str, code: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.received
            if m.get("type") == type_ and (code is None or m.get("code") == code)
        ]

    def cums(self, code: str) -> list[int]:
        return [c for m in self.of("trades", code) for c in m["cum_volume"]]

    async def read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.conn:
                self.received.append(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            rcvd = self.conn.protocol.close_rcvd
            self.closed_code = rcvd.code if rcvd is not None else 1006
            self.closed_reason = rcvd.reason if rcvd is not None else None

    async def wait(self, pred: Callable[[Browser], bool], deadline_s: float = DEADLINE_S) -> bool:
        return await until(lambda: pred(self), deadline_s)

    async def close(self) -> None:
        await self.conn.close()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader


async def browser(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    reading: bool = True,
    sock: socket.socket | None = None,
    origin: str | None = None,
) -> Browser:
    kwargs: dict[str, Any] = {"additional_headers": headers or {}, "open_timeout": 30}
    if sock is not None:
        kwargs["sock"] = sock
    if origin is not None:
        kwargs["origin"] = origin
    conn = await connect(url, **kwargs)
    b = Browser(conn)
    if reading:
        b.reader = asyncio.get_running_loop().create_task(b.read())
    return b
