"""ASGI guards in front of the hub's routes (pure ASGI: nothing is buffered).

* :class:`HostGuard` — answers 400 to a request whose ``Host`` is not an allowed name
  (``HubSettings.allowed_hosts``). A page on an attacker's domain that re-resolves to
  127.0.0.1 (DNS rebinding) reaches the hub with the attacker's name in ``Host``; without
  this check it could read the API of a trading service on localhost.
* :class:`BodyLimit` — a request body over ``max_bytes`` gets 413: at once when
  ``Content-Length`` says so, else as soon as the received chunks add up to more (a
  chunked body, or one the server frames by a smaller ``Content-Length``). The limit is
  enforced on ``receive`` itself, so at most ``max_bytes`` plus one chunk is ever held.
* :class:`HeadAsGet` — ``HEAD`` is answered as ``GET`` with the body dropped (load
  balancers probe with ``HEAD``; FastAPI routes answer only the methods they declare).

All answer in the API's one error shape (:func:`gslts_common.errors.error_response`).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gslts_common import errors


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return bytes(v).decode("latin-1")
    return None


def host_name(host: str) -> str:
    """``Host`` header value (or an allowed-hosts entry) → the bare lower-case name:
    ``LocalHost:8001`` → ``localhost``, ``[::1]:8001`` and ``[::1]`` → ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        host = host.split(":", 1)[0]
    return host.rstrip(".")


class HostGuard:
    """Let through only requests whose ``Host`` is one of ``allowed`` (``*`` = any)."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        names = set(allowed)
        self.any = "*" in names
        self.allowed = frozenset(host_name(h) for h in names if h != "*")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.any:
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if host is not None and host_name(host) in self.allowed:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect; closing before accept answers 403
            await send({"type": "websocket.close", "code": 1008})
            return
        detail = (
            "the request has no Host header"
            if host is None
            else f"Host {errors.clip(host)!r} is not allowed (HUB_ALLOWED_HOSTS)"
        )
        await errors.error_response("HostNotAllowed", detail, 400)(scope, receive, send)


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once a body passes the limit; an HTTP exception, so the
    route's body reading re-raises it and :mod:`gslts_common.errors` maps it to 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413, f"request body over {max_bytes} bytes", headers={"Connection": "close"}
        )


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, never buffering one."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)  # the body is never read
            return
        total = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # routes map it themselves (errors.py); this catches a reader outside FastAPI
            if started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = BodyTooLarge(self.max_bytes)
        response = errors.error_response("ContentTooLarge", exc.detail, 413, exc.headers)
        await response(scope, receive, send)


class HeadAsGet:
    """Answer ``HEAD`` like ``GET``: same status and headers, no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
