"""The auth area of the main server (docs/backend.md "Auth and sessions"): login sessions
(cookie + CSRF, or bearer), roles, users, the audit trail and ``GET /api/session``.

Other areas use :func:`gslts_backend.deps.require_role`, :func:`record_audit`,
:func:`orders_refusal`, :func:`authenticate_websocket` (the browser stream) and
:func:`gslts_backend.security.order_rate_limit`."""

from __future__ import annotations

from gslts_backend.auth.audit import record_audit
from gslts_backend.auth.deps import authenticate_websocket
from gslts_backend.auth.routes import router
from gslts_backend.auth.session_info import orders_refusal

__all__ = ["authenticate_websocket", "orders_refusal", "record_audit", "router"]
