"""Authentication dependencies (to be implemented by the auth work: sessions, CSRF,
bearer tokens). Until then every protected route refuses with 401."""

from __future__ import annotations

from collections.abc import Callable

from gslts_backend.deps import Principal, Role
from gslts_common.errors import Unauthorized


def role_dependency(role: Role) -> Callable[..., Principal]:
    def dep() -> Principal:
        raise Unauthorized("log in first (POST /api/auth/login)")

    return dep
