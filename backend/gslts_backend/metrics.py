"""Prometheus metrics of the main server, served at ``GET /metrics`` (text format).

Unauthenticated on purpose, like the hub's: the backend binds to loopback by default
(there is no Host guard yet: ``BACKEND_ALLOWED_HOSTS`` is not enforced); behind a proxy,
do not route ``/metrics`` to the outside.

* ``gslts_backend_request_seconds{method,route,status}`` — request latency by route
  *template* (``/api/orders/{order_id}``, never the raw path: bounded label values).
* :data:`ORDER_LATENCY` — ``gslts_backend_order_seconds{action,outcome}``: the order area
  observes each broker round trip / order request::

      with ORDER_LATENCY.labels(action="place", outcome="ok").time(): ...
      # or ORDER_LATENCY.labels("place", "rejected").observe(seconds)

Metrics live in a registry of their own (:data:`REGISTRY`), so several apps in one test
process share them without "duplicated timeseries" errors.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_LATENCY = Histogram(
    "gslts_backend_request_seconds",
    "HTTP request latency by route template and status",
    ("method", "route", "status"),
    buckets=BUCKETS,
    registry=REGISTRY,
)
ORDER_LATENCY = Histogram(
    "gslts_backend_order_seconds",
    "Order request latency (place/modify/cancel) by outcome",
    ("action", "outcome"),
    buckets=BUCKETS,
    registry=REGISTRY,
)


def route_template(scope: Scope) -> str:
    """The matched route's path template, or ``unmatched`` (never the raw path)."""
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class RequestMetrics:
    """Pure ASGI: times each HTTP request (not WebSockets) into :data:`REQUEST_LATENCY`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            REQUEST_LATENCY.labels(scope["method"], route_template(scope), str(status)).observe(
                time.perf_counter() - started
            )


def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
