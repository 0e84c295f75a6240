"""The browser stream, WebSocket ``/ws``: live trades, books and forming candles of the
stocks a browser subscribes to, and the account's order and balance events. The message
protocol is documented in docs/backend.md "Browser stream (/ws)".

The router's lifespan (merged into the app's; it runs after the app's own, so the shared
services exist) builds one :class:`~gslts_backend.ws.fanout.StreamHub` for the app, follows
the bus and the backend's events with it (each once, whatever the number of browsers),
and runs the :class:`~gslts_backend.ws.interest.InterestLeaser` that asks the hub to
collect the stocks browsers watch.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
)
from starlette.websockets import WebSocketState

from gslts_backend import auth as auth_area
from gslts_backend.auth.deps import ws_origin_allowed
from gslts_backend.deps import Principal
from gslts_backend.services import Services
from gslts_backend.ws.fanout import CHANNELS, Connection, StreamHub
from gslts_backend.ws.interest import InterestLeaser
from gslts_common.errors import AppError, Forbidden
from gslts_kiwoom.krx import STOCK_CODE_PATTERN

log = logging.getLogger(__name__)

_CODE_RE = re.compile(STOCK_CODE_PATTERN)
#: a client message longer than this is refused (an op is a few hundred bytes)
MAX_MESSAGE_CHARS = 16_384
OPS = ("subscribe", "unsubscribe", "ping")
#: close codes (docs/backend.md)
NO_SESSION = 4401
FOREIGN_ORIGIN = 4403
TRY_AGAIN_LATER = 1013


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    svc: Services = app.state.services
    s = svc.settings

    def refused(code: str, detail: str) -> None:
        hub.refused(code, detail)

    leaser = InterestLeaser(
        s.hub_url, asker=s.ws_interest_asker, ttl_s=s.ws_interest_ttl_s, on_refused=refused
    )
    hub = BrowserStream(
        max_codes=s.ws_max_codes,
        max_connections=s.ws_max_connections,
        max_pending_trades=s.ws_max_pending_trades,
        max_pending_messages=s.ws_max_pending_messages,
        fallback_quote=svc.live.quotes.get,
        fallback_book=svc.live.books.get,
        fallback_vi=svc.live.vi.get,
        on_watch=leaser.want,
        on_unwatch=leaser.unwant,
    )
    hub.attach(asyncio.get_running_loop())
    unsubscribe_bus = svc.live.follower.subscribe(hub.on_bus)
    unsubscribe_events = svc.events.subscribe(hub.on_backend_event)
    leaser.start()
    app.state.ws_hub = hub
    app.state.ws_interest = leaser
    try:
        yield
    finally:
        unsubscribe_bus()
        unsubscribe_events()
        for conn in list(hub.connections):
            hub.remove(conn)
        await leaser.close()


class BrowserStream(StreamHub):
    """The fan-out plus what the protocol adds: refusals of the hub told to the watchers."""

    def refused(self, code: str, detail: str) -> None:
        msg = {
            "type": "error",
            "error": "Conflict",
            "op": "subscribe",
            "code": code,
            "detail": f"the hub does not collect {code}: {detail}",
        }
        for conn in list(self.connections):
            if code in conn.codes:
                self.send(conn, msg)


router = APIRouter(lifespan=lifespan)


def origin_allowed(websocket: WebSocket) -> bool:
    """No Origin (not a browser), the page's own origin, or one of BACKEND_WS_ORIGINS (the
    auth area's rule, :func:`gslts_backend.auth.deps.ws_origin_allowed`)."""
    svc: Services = websocket.app.state.services
    return ws_origin_allowed(
        websocket.headers.get("origin"), websocket.headers.get("host"), svc.settings
    )


async def ws_origin(websocket: WebSocket) -> bool:
    """Refuses (closes with 4403) a page of another site; checked before the session."""
    if origin_allowed(websocket):
        return True
    await _refuse(websocket, FOREIGN_ORIGIN, "foreign Origin")
    return False


async def ws_principal(websocket: WebSocket) -> Principal | None:
    """Who is connecting: the session cookie or bearer token (auth's
    ``authenticate_websocket``). None when refused; the socket is then closed (4401 no
    session, 4403 foreign Origin)."""
    svc: Services = websocket.app.state.services
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return None  # refused already (Origin)
    authenticate = getattr(auth_area, "authenticate_websocket", None)
    if authenticate is None:
        await _refuse(websocket, NO_SESSION, "log in first (POST /api/auth/login)")
        return None
    try:
        result = authenticate(websocket, svc)
        if inspect.isawaitable(result):
            result = await result
    except WebSocketException as exc:
        await _refuse(websocket, exc.code, exc.reason or "refused")
        return None
    except Forbidden as exc:
        await _refuse(websocket, FOREIGN_ORIGIN, exc.detail)
        return None
    except AppError as exc:
        await _refuse(websocket, NO_SESSION, exc.detail)
        return None
    if isinstance(result, Principal):
        return result
    await _refuse(websocket, NO_SESSION, "log in first (POST /api/auth/login)")
    return None


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    """Close with ``code`` (accepted first, so a browser sees the code and reason)."""
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return  # the authenticator closed it already
    if websocket.application_state == WebSocketState.CONNECTING:
        await websocket.accept()
    await websocket.close(code, reason[:120])


@router.websocket("/ws")
async def browser_stream(
    websocket: WebSocket,
    origin_ok: Annotated[bool, Depends(ws_origin)],
    principal: Annotated[Principal | None, Depends(ws_principal)],
) -> None:
    if not origin_ok or principal is None:
        return
    hub: BrowserStream = websocket.app.state.ws_hub
    if len(hub.connections) >= hub.max_connections:
        await _refuse(websocket, TRY_AGAIN_LATER, "too many connections, try again later")
        return
    if websocket.application_state == WebSocketState.CONNECTING:
        await websocket.accept()
    conn = Connection(websocket, principal)
    hub.add(conn)
    hub.send(
        conn,
        {
            "type": "hello",
            "user": {
                "id": principal.user_id,
                "username": principal.username,
                "role": principal.role,
            },
            "channels": list(CHANNELS),
            "max_codes": hub.max_codes,
        },
    )
    try:
        while conn.dropped is None:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect" or conn.dropped is not None:
                break
            text = message.get("text")
            if text is None:
                hub.send(conn, _error(None, "binary frames are not read: send JSON text"))
                continue
            handle(hub, conn, text)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the browser left (or the socket was closed as slow)
    finally:
        hub.remove(conn)


def _error(op: Any, detail: str, error: str = "BadInput", **extra: Any) -> dict[str, Any]:
    return {"type": "error", "error": error, "op": op, "detail": detail, **extra}


def handle(hub: BrowserStream, conn: Connection, text: str) -> None:
    """One client message: the op, or an error message (never a closed socket)."""
    if len(text) > MAX_MESSAGE_CHARS:
        hub.send(conn, _error(None, f"message over {MAX_MESSAGE_CHARS} characters"))
        return
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        hub.send(conn, _error(None, 'not JSON: send an object like {"op": "ping"}'))
        return
    if not isinstance(msg, dict):
        hub.send(conn, _error(None, "a message is a JSON object with an op"))
        return
    op = msg.get("op")
    reply_id = msg.get("id")
    extra: dict[str, Any] = {} if reply_id is None else {"id": reply_id}
    if op not in OPS:
        shown = op if isinstance(op, str) and len(op) <= 20 else None
        hub.send(conn, _error(shown, f"unknown op; one of {', '.join(OPS)}", **extra))
        return
    if op == "ping":
        hub.send(conn, {"type": "pong", **extra})
        return
    parsed = _codes_channels(msg)
    if isinstance(parsed, str):
        hub.send(conn, _error(op, parsed, field=_field_of(parsed), **extra))
        return
    codes, channels = parsed
    if op == "subscribe":
        total = set(conn.codes) | set(codes)
        if len(total) > hub.max_codes:
            hub.send(
                conn,
                _error(
                    op,
                    f"at most {hub.max_codes} stocks per connection "
                    f"({len(conn.codes)} subscribed); unsubscribe some first",
                    "Conflict",
                    field="codes",
                    **extra,
                ),
            )
            return
        hub.subscribe(conn, codes, channels)
        hub.send(
            conn,
            {"type": "subscribed", "codes": codes, "channels": sorted(channels), **extra},
        )
    else:
        hub.unsubscribe(conn, codes, channels)
        hub.send(
            conn,
            {
                "type": "unsubscribed",
                "codes": codes,
                "channels": sorted(channels),
                "subscribed": sorted(conn.codes),
                **extra,
            },
        )


def _field_of(detail: str) -> str:
    return detail.split(":", 1)[0] if detail.startswith(("codes", "channels")) else "op"


def _codes_channels(msg: dict[str, Any]) -> tuple[list[str], set[str]] | str:
    """The op's codes and channels, or what is wrong with them (the error detail)."""
    codes = msg.get("codes")
    if not isinstance(codes, list) or not codes:
        return 'codes: a non-empty list of stock codes, e.g. ["005930"]'
    if len(codes) > 1000:
        return "codes: too many"
    bad = [c for c in codes if not isinstance(c, str) or not _CODE_RE.match(c)]
    if bad:
        shown = str(bad[0])[:12] if isinstance(bad[0], str) else type(bad[0]).__name__
        return f"codes: not a stock code: {shown!r} (6 characters, e.g. 005930)"
    channels = msg.get("channels", list(CHANNELS))
    if not isinstance(channels, list) or not channels:
        return f"channels: a non-empty list of {', '.join(CHANNELS)}"
    wrong = [c for c in channels if c not in CHANNELS]
    if wrong:
        shown = str(wrong[0])[:20]
        return f"channels: unknown channel {shown!r}; one of {', '.join(CHANNELS)}"
    return list(dict.fromkeys(codes)), set(channels)
