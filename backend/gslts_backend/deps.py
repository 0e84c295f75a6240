"""FastAPI dependencies every route uses: the shared services and who is asking.

``current_principal`` is implemented by :mod:`gslts_backend.auth` (session cookie with
CSRF for browsers, bearer token for API clients); routes declare the role they need with
``Depends(require_role("trader"))`` and get the :class:`Principal`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import Request

from gslts_backend.services import Services

Role = Literal["admin", "trader", "viewer"]
#: what each role may do, weakest first: a role may do everything of the roles before it
ROLE_ORDER: tuple[Role, ...] = ("viewer", "trader", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user of a request."""

    user_id: int
    username: str
    role: Role
    #: the client's address (for the audit trail)
    ip: str | None
    #: the session's id (auth_sessions.id)
    session_id: int


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def require_role(role: Role) -> Callable[..., Principal]:
    """A dependency giving the request's :class:`Principal` when its role is at least
    ``role`` (401 without a session, 403 with a weaker role)."""
    from gslts_backend.auth.deps import role_dependency

    return role_dependency(role)
