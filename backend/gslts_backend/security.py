"""Rate limits of the main server (in-memory, per process; one backend process serves a
deployment, so no Redis is needed — several backends would each count on their own).

* :class:`RateLimiter` — a thread-safe token bucket per key (``rate`` per second, ``burst``).
* :class:`FailureLimiter` — a sliding window of failures per key (login attempts).
* :func:`order_rate_limit` — the dependency order routes add: ``ORDER_RATE_PER_S`` /
  ``ORDER_RATE_BURST`` per user, 429 with ``Retry-After`` past it::

      @router.post("/api/orders", dependencies=[Depends(order_rate_limit)])
      def place(p: Principal = Depends(require_role("trader"))): ...

  (or take ``p: Principal = Depends(order_rate_limit)``: it gives the trader principal).
* :class:`BodyLimit` — request bodies over ``BACKEND_MAX_BODY_BYTES`` get 413.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gslts_backend.deps import Principal, require_role
from gslts_backend.settings import BackendSettings
from gslts_common.errors import TooManyRequests, error_response

#: keys idle this long are forgotten (bounds the memory of per-user/per-address state)
IDLE_FORGET_S = 3600.0


class RateLimited(TooManyRequests):
    """429 with the seconds to wait in ``Retry-After``."""

    def __init__(self, detail: str, retry_after_s: float, **kw: str | None) -> None:
        super().__init__(detail, **kw)
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        self.headers: Mapping[str, str] = {"Retry-After": str(self.retry_after_s)}


class RateLimiter:
    """Token buckets by key: each key may take ``burst`` at once, refilled at ``rate``/s."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)

    def try_acquire(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens for ``key``: 0.0 when taken, else the seconds until it could
        be (nothing is taken then)."""
        with self._lock:
            at = self._clock()
            tokens, last = self._buckets.get(key, (self.burst, at))
            tokens = min(self.burst, tokens + (at - last) * self.rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, at)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, at)
                wait = (cost - tokens) / self.rate
            if len(self._buckets) > 10_000:
                self._forget(at)
            return wait

    def _forget(self, at: float) -> None:
        idle = [k for k, (_, last) in self._buckets.items() if at - last > IDLE_FORGET_S]
        for k in idle:
            del self._buckets[k]


class FailureLimiter:
    """At most ``max_failures`` failures per key within ``window_s`` (a sliding window)."""

    def __init__(
        self, max_failures: int, window_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _trim(self, key: str, at: float) -> deque[float] | None:
        q = self._failures.get(key)
        if q is None:
            return None
        while q and at - q[0] >= self.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
            return None
        return q

    def blocked_for(self, key: str) -> float:
        """Seconds ``key`` must wait (0.0: it may try)."""
        with self._lock:
            at = self._clock()
            q = self._trim(key, at)
            if q is None or len(q) < self.max_failures:
                return 0.0
            return q[len(q) - self.max_failures] + self.window_s - at

    def failed(self, key: str) -> None:
        with self._lock:
            at = self._clock()
            self._trim(key, at)
            self._failures.setdefault(key, deque()).append(at)
            if len(self._failures) > 10_000:
                for k in list(self._failures):
                    self._trim(k, at)

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


def _order_limiter(request: Request) -> RateLimiter:
    state = request.app.state
    limiter: RateLimiter | None = getattr(state, "order_limiter", None)
    if limiter is None:
        settings = state.services.settings
        limiter = RateLimiter(settings.order_rate_per_s, settings.order_rate_burst)
        state.order_limiter = limiter
    return limiter


def order_rate_limit(
    request: Request, p: Annotated[Principal, Depends(require_role("trader"))]
) -> Principal:
    """The trader principal of an order route, or 429 past the user's order rate."""
    wait = _order_limiter(request).try_acquire(f"user:{p.user_id}")
    if wait > 0:
        raise RateLimited(
            "too many order requests: retry after Retry-After seconds (ORDER_RATE_PER_S)",
            wait,
            detail_ko="주문 요청이 너무 많습니다. 잠시 후 다시 시도하세요",
        )
    return p


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once a body passes the limit; an HTTP exception, so the
    route's body reading re-raises it and :mod:`gslts_common.errors` maps it to 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            f"request body over {max_bytes} bytes (BACKEND_MAX_BODY_BYTES)",
            headers={"Connection": "close"},
        )


class BodyLimit:
    """Pure ASGI: a request body over ``max_bytes`` gets 413 ``ContentTooLarge`` — at once
    when ``Content-Length`` says so, else as soon as the received chunks add up to more (a
    chunked body), so at most ``max_bytes`` plus one chunk is ever held. (The hub has the
    same guard of its own; services share no code but gslts_common.)"""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next(
            (bytes(v) for k, v in scope.get("headers", ()) if k == b"content-length"), None
        )
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
            if started:  # routes map it themselves (errors.py); this catches the rest
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = BodyTooLarge(self.max_bytes)
        response = error_response("ContentTooLarge", exc.detail, 413, exc.headers)
        await response(scope, receive, send)


def install_security(app: FastAPI, settings: BackendSettings) -> None:
    """The backend's middleware and ``/metrics``: CORS only for ``BACKEND_CORS_ORIGINS``
    (closed by default), request latency metrics, ``GET /metrics``, request bodies capped
    at ``BACKEND_MAX_BODY_BYTES`` (413)."""
    from gslts_backend.metrics import RequestMetrics, metrics_endpoint
    from gslts_common.server_timing import ServerTiming

    origins = settings.cors_origins()
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Content-Type", "Authorization", "X-CSRF-Token"],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.backend_max_body_bytes)
    app.add_middleware(RequestMetrics)
    app.add_middleware(ServerTiming)  # outermost of these: the whole server-side time
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
