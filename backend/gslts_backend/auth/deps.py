"""Who is asking: the session cookie (browsers, with CSRF on state-changing methods) or an
``Authorization: Bearer`` token (API clients, no CSRF), checked against ``auth_sessions``.

* no credentials, an unknown, expired or revoked token, or a disabled user → 401
* a cookie session on POST/PUT/PATCH/DELETE without a matching ``X-CSRF-Token`` → 403
  (double submit: the page reads the non-HttpOnly CSRF cookie and sends it back; it must
  hash to the session's ``csrf_hash``, so a cookie planted by another site does not help)
* a role weaker than the route needs (:data:`gslts_backend.deps.ROLE_ORDER`) → 403
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, cast
from urllib.parse import urlsplit

from fastapi import Depends, Request, WebSocket
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from gslts_backend.auth.store import LiveSession, find_session, same_hash
from gslts_backend.deps import ROLE_ORDER, Principal, Role, services
from gslts_backend.services import Services
from gslts_backend.settings import BackendSettings
from gslts_common.errors import Forbidden, Unauthorized

#: methods that change state: a cookie session needs the CSRF header on them
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"

# declared for the OpenAPI document (security schemes); the checks are done below
_bearer = HTTPBearer(auto_error=False, description="a token from POST /api/auth/login")
_cookie = APIKeyCookie(
    name="gslts_session", auto_error=False, description="the browser session cookie"
)


def client_ip(conn: HTTPConnection) -> str | None:
    return conn.client.host[:45] if conn.client else None


def _bearer_token(conn: HTTPConnection) -> str | None:
    value = conn.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def _live_session(conn: HTTPConnection, svc: Services) -> LiveSession:
    """The connection's valid session (bearer first, else the cookie), or 401."""
    token = _bearer_token(conn)
    kind = "bearer"
    if token is None:
        token = conn.cookies.get(svc.settings.session_cookie_name)
        kind = "cookie"
    if not token:
        raise Unauthorized("log in first (POST /api/auth/login)")
    with svc.sessions() as db:
        live = find_session(db, token)
    if live is None or live.kind != kind:
        raise Unauthorized("the session is unknown, expired or revoked: log in again")
    return live


def _principal(conn: HTTPConnection, live: LiveSession) -> Principal:
    return Principal(
        user_id=live.user_id,
        username=live.username,
        role=cast(Role, live.role),
        ip=client_ip(conn),
        session_id=live.id,
    )


def _check_role(have: str, need: Role) -> None:
    if have not in ROLE_ORDER or ROLE_ORDER.index(have) < ROLE_ORDER.index(need):
        raise Forbidden(f"this needs the {need} role (you are {have})")


def current_session(request: Request, svc: Services) -> tuple[Principal, LiveSession]:
    live = _live_session(request, svc)
    if live.kind == "cookie" and request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not same_hash(sent, live.csrf_hash):
            raise Forbidden(
                f"missing or wrong {CSRF_HEADER} header (send the {svc.settings.csrf_cookie_name}"
                " cookie's value)"
            )
    return _principal(request, live), live


def role_dependency(role: Role) -> Callable[..., Principal]:
    """The dependency behind :func:`gslts_backend.deps.require_role`."""
    if role not in ROLE_ORDER:
        raise ValueError(f"unknown role {role!r}")

    def dep(
        request: Request,
        svc: Annotated[Services, Depends(services)],
        _b: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        _c: Annotated[str | None, Depends(_cookie)],
    ) -> Principal:
        principal, _ = current_session(request, svc)
        _check_role(principal.role, role)
        request.state.principal = principal
        return principal

    dep.__name__ = f"require_{role}"
    return dep


def ws_origin_allowed(origin: str | None, host: str | None, settings: BackendSettings) -> bool:
    """No Origin (not a browser), the page's own origin (Origin host = Host), or one of
    ``BACKEND_WS_ORIGINS``."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in settings.ws_origins():
        return True
    return bool(host) and urlsplit(origin).netloc == (host or "").strip().lower()


def authenticate_websocket(websocket: WebSocket, svc: Services) -> Principal:
    """The :class:`Principal` of a browser WebSocket, checked before it is accepted.

    Contract (the caller closes the socket with the code): raises
    :class:`~gslts_common.errors.Forbidden` (close 4403) when the ``Origin`` is neither the
    backend's own origin nor one of ``BACKEND_WS_ORIGINS``; raises
    :class:`~gslts_common.errors.Unauthorized` (close 4401) without a valid session cookie
    or ``Authorization: Bearer`` token. No CSRF check: the Origin check is what stops
    another site's page (browsers cannot forge Origin). Synchronous (one indexed query)."""
    if not ws_origin_allowed(
        websocket.headers.get("origin"), websocket.headers.get("host"), svc.settings
    ):
        raise Forbidden("foreign Origin (BACKEND_WS_ORIGINS)")
    live = _live_session(websocket, svc)
    return _principal(websocket, live)
