"""``Server-Timing: app;dur=<ms>`` on every HTTP response (the W3C Server Timing header).

The time from the request's arrival at the app to the start of its response: what the
server spent on it, without the client's side or the network. Browsers' developer tools
show it; the query benchmark (``tests/bench/bench_query.py``) reads it to report
server-side latency beside the round trip, the figure the targets are stated in. Pure
ASGI (no ``BaseHTTPMiddleware``: that would add a task and a copy of the body per request).
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"server-timing"


class ServerTiming:
    """Adds ``server-timing: app;dur=<ms>`` to HTTP responses (not WebSockets)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000.0
                headers = list(message.get("headers", ()))
                headers.append((HEADER, f"app;dur={ms:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


def parse(value: str | None) -> float | None:
    """The ``app`` duration (ms) of a ``Server-Timing`` header value; None without one."""
    if not value:
        return None
    for metric in value.split(","):
        name, _, params = metric.strip().partition(";")
        if name.strip() != "app":
            continue
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "dur":
                try:
                    return float(v)
                except ValueError:
                    return None
    return None
