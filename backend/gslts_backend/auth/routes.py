"""Routes of the auth area: login, logout, me, the session's mode, users, the audit trail."""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, SecretStr

from gslts_backend.auth.audit import record_audit
from gslts_backend.auth.deps import client_ip, current_session
from gslts_backend.auth.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from gslts_backend.auth.session_info import session_info
from gslts_backend.auth.store import (
    create_session,
    now,
    revoke_session,
    revoke_user_sessions,
)
from gslts_backend.deps import Principal, Role, require_role, services
from gslts_backend.security import FailureLimiter, RateLimited
from gslts_backend.services import Services
from gslts_common.errors import BadInput, Conflict, NotFound, Unauthorized, responses
from gslts_db.models import AuditEntry, User

log = logging.getLogger("gslts_backend.auth")
router = APIRouter()
viewer = require_role("viewer")
admin = require_role("admin")

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


_USER_EXAMPLE: dict[str, JsonValue] = {
    "id": 2,
    "username": "trader1",
    "role": "trader",
    "is_active": True,
    "created_at": "2026-03-03T09:00:00+09:00",
    "last_login_at": "2026-03-03T09:10:00+09:00",
}


class LoginIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"username": "trader1", "password": "correct-horse-battery-9", "token": "cookie"},
                {"username": "bot1", "password": "correct-horse-battery-9", "token": "bearer"},
            ]
        }
    )

    username: str = Field(min_length=1, max_length=64, examples=["trader1"])
    password: SecretStr = Field(min_length=1, max_length=1024)
    token: Literal["cookie", "bearer"] = Field(
        default="cookie",
        description="cookie: a browser session (cookies set, CSRF token in the body); "
        "bearer: an API token in the body (send it as Authorization: Bearer <token>)",
    )


class UserOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_USER_EXAMPLE]})

    id: int
    username: str
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class LoginOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user": _USER_EXAMPLE,
                    "kind": "cookie",
                    "expires_at": "2026-03-03T21:10:00+09:00",
                    "token": None,
                    "csrf_token": "kq3Xb0v3Yc2mZl9f0m0bQk1n3JXc6s0d8Vt4ZyQ2w1E",
                },
                {
                    "user": {**_USER_EXAMPLE, "username": "bot1"},
                    "kind": "bearer",
                    "expires_at": "2026-03-03T10:10:00+09:00",
                    "token": "Zp3q9V0hV8eQ2mFj3sN1c5xw0l7Ry4Kt6bUo2aPd9Ms",
                    "csrf_token": None,
                },
            ]
        }
    )

    user: UserOut
    kind: Literal["cookie", "bearer"]
    expires_at: datetime
    token: str | None = Field(default=None, description="the bearer token (bearer logins only)")
    csrf_token: str | None = Field(
        default=None,
        description="cookie logins: send it back as X-CSRF-Token on POST/PUT/PATCH/DELETE "
        "(also in the CSRF cookie)",
    )


class MeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": 2,
                    "username": "trader1",
                    "role": "trader",
                    "session_id": 17,
                    "kind": "cookie",
                }
            ]
        }
    )

    user_id: int
    username: str
    role: Role
    session_id: int
    kind: Literal["cookie", "bearer"]


class HubState(BaseModel):
    connected: bool
    transport: str | None
    source: str | None
    last_event_age_s: float | None
    last_error: str | None


class SessionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mode": "sim",
                    "real_orders_enabled": False,
                    "orders_allowed": True,
                    "orders_refused_reason": None,
                    "kiwoom_token_expires_at": "2026-03-04T09:00:00+09:00",
                    "hub": {
                        "connected": True,
                        "transport": "stream",
                        "source": "http://127.0.0.1:8001",
                        "last_event_age_s": 0.2,
                        "last_error": None,
                    },
                }
            ]
        }
    )

    mode: Literal["sim", "mock", "real"]
    real_orders_enabled: bool = Field(description="KIWOOM_ALLOW_REAL_ORDERS")
    orders_allowed: bool
    orders_refused_reason: str | None
    kiwoom_token_expires_at: datetime | None = Field(
        description="expiry of the Kiwoom token held now (null before one is issued)"
    )
    hub: HubState


class UserIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"username": "trader1", "password": "correct-horse-battery-9", "role": "trader"},
                {"username": "viewer1", "password": "another-good-lamp-1", "role": "viewer"},
            ]
        }
    )

    username: str = Field(pattern=USERNAME_PATTERN, examples=["trader1"])
    password: SecretStr = Field(min_length=1, max_length=1024)
    role: Role = "viewer"


class UserPatch(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"role": "viewer"},
                {"is_active": False},
                {"password": "another-good-lamp-1"},
            ]
        }
    )

    role: Role | None = None
    is_active: bool | None = None
    password: SecretStr | None = Field(default=None, min_length=1, max_length=1024)


class AuditOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    username: str | None
    action: str
    target: str | None
    outcome: str
    ip: str | None
    detail: dict[str, Any] | None


class AuditPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 41,
                            "at": "2026-03-03T09:10:00+09:00",
                            "user_id": 2,
                            "username": "trader1",
                            "action": "auth.login",
                            "target": "trader1",
                            "outcome": "ok",
                            "ip": "127.0.0.1",
                            "detail": {"kind": "cookie"},
                        }
                    ],
                    "next_cursor": "eyJiZWZvcmVfaWQiOiA0MX0",
                }
            ]
        }
    )

    items: list[AuditOut]
    next_cursor: str | None = Field(description="pass as cursor for the next (older) page")


def _user_out(u: User) -> UserOut:
    return UserOut(
        id=u.id,
        username=u.username,
        role=u.role,
        is_active=u.is_active,
        created_at=u.created_at,
        last_login_at=u.last_login_at,
    )


def _limiters(request: Request) -> tuple[FailureLimiter, FailureLimiter]:
    state = request.app.state
    pair: tuple[FailureLimiter, FailureLimiter] | None = getattr(state, "login_limiters", None)
    if pair is None:
        s = state.services.settings
        pair = (
            FailureLimiter(s.login_max_failures, s.login_window_s),
            FailureLimiter(s.login_max_failures, s.login_window_s),
        )
        state.login_limiters = pair
    return pair


def _set_cookies(response: Response, svc: Services, token: str, csrf: str, ttl: int) -> None:
    s = svc.settings
    common: dict[str, Any] = {
        "max_age": ttl,
        "path": "/",
        "samesite": "strict",
        "secure": s.session_cookie_secure,
    }
    response.set_cookie(s.session_cookie_name, token, httponly=True, **common)
    response.set_cookie(s.csrf_cookie_name, csrf, httponly=False, **common)


@router.post(
    "/api/auth/login",
    response_model=LoginOut,
    tags=["auth"],
    responses=responses(401, 422, 429),
)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    svc: Annotated[Services, Depends(services)],
) -> LoginOut:
    """Log in. ``token=cookie`` (browsers) sets the HttpOnly session cookie and the CSRF
    cookie; ``token=bearer`` (API clients) returns a short-lived token. Failed attempts are
    limited per username and per client address (429 with Retry-After)."""
    by_user, by_ip = _limiters(request)
    ip = client_ip(request) or "?"
    name = body.username.strip()
    user_key, ip_key = f"user:{name.lower()}", f"ip:{ip}"
    wait = max(by_user.blocked_for(user_key), by_ip.blocked_for(ip_key))
    if wait > 0:
        log.warning("login throttled for user %r from %s (too many failures)", name[:64], ip)
        raise RateLimited(
            "too many failed logins: retry after Retry-After seconds",
            wait,
            detail_ko="로그인 실패가 너무 많습니다. 잠시 후 다시 시도하세요",
        )
    password = body.password.get_secret_value()
    with svc.sessions() as db:
        user = db.scalar(sa.select(User).where(User.username == name))
        ok = verify_password(user.password_hash if user else None, password)
        if user is None or not ok or not user.is_active:
            by_user.failed(user_key)
            by_ip.failed(ip_key)
            log.warning("failed login for user %r from %s", name[:64], ip)
            record_audit(
                db, None, "auth.login", name[:64], "failed", None, username=name[:64], ip=ip
            )
            db.commit()
            raise Unauthorized("wrong username or password")
        by_user.reset(user_key)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        s = svc.settings
        ttl = s.session_cookie_ttl_s if body.token == "cookie" else s.session_bearer_ttl_s  # noqa: S105
        new = create_session(
            db,
            user,
            body.token,
            ttl,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
        user.last_login_at = now()
        principal = Principal(user.id, user.username, user.role, client_ip(request), new.id)  # type: ignore[arg-type]
        record_audit(db, principal, "auth.login", user.username, "ok", {"kind": body.token})
        db.commit()
        out = _user_out(user)
    if body.token == "cookie":  # noqa: S105 - the kind, not a secret
        _set_cookies(response, svc, new.token, new.csrf_token or "", ttl)
        return LoginOut(
            user=out, kind="cookie", expires_at=new.expires_at, csrf_token=new.csrf_token
        )
    return LoginOut(user=out, kind="bearer", expires_at=new.expires_at, token=new.token)


@router.post("/api/auth/logout", status_code=204, tags=["auth"], responses=responses(401, 403))
def logout(
    request: Request,
    response: Response,
    svc: Annotated[Services, Depends(services)],
    _: Annotated[Principal, Depends(viewer)],
) -> Response:
    """End this session (the token or cookie no longer works) and clear the cookies."""
    principal, _live = current_session(request, svc)
    with svc.sessions() as db:
        revoke_session(db, principal.session_id)
        record_audit(db, principal, "auth.logout", principal.username, "ok")
        db.commit()
    out = Response(status_code=204)
    s = svc.settings
    for name in (s.session_cookie_name, s.csrf_cookie_name):
        out.delete_cookie(name, path="/", samesite="strict", secure=s.session_cookie_secure)
    return out


@router.get("/api/auth/me", response_model=MeOut, tags=["auth"], responses=responses(401))
def me(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    p: Annotated[Principal, Depends(viewer)],
) -> MeOut:
    """Who this session belongs to."""
    _, live = current_session(request, svc)
    return MeOut(
        user_id=p.user_id, username=p.username, role=p.role, session_id=p.session_id, kind=live.kind
    )


@router.get("/api/session", response_model=SessionOut, tags=["auth"], responses=responses(401))
def session(
    svc: Annotated[Services, Depends(services)], _: Annotated[Principal, Depends(viewer)]
) -> dict[str, Any]:
    """The trading mode, whether real orders are enabled (and why orders are refused if
    not), the Kiwoom token's expiry and the hub connection."""
    return session_info(svc)


# --- users (admin) ----------------------------------------------------------------------


def _check_password(password: SecretStr) -> str:
    value = password.get_secret_value()
    problem = password_problem(value)
    if problem:
        raise BadInput(problem, field="password", detail_ko="비밀번호가 너무 약합니다")
    return value


@router.get(
    "/api/users", response_model=list[UserOut], tags=["users"], responses=responses(401, 403)
)
def list_users(
    svc: Annotated[Services, Depends(services)], _: Annotated[Principal, Depends(admin)]
) -> list[UserOut]:
    """Every user (admin)."""
    with svc.sessions() as db:
        return [_user_out(u) for u in db.scalars(sa.select(User).order_by(User.id))]


@router.post(
    "/api/users",
    response_model=UserOut,
    status_code=201,
    tags=["users"],
    responses=responses(401, 403, 409, 422),
)
def add_user(
    body: UserIn,
    svc: Annotated[Services, Depends(services)],
    p: Annotated[Principal, Depends(admin)],
) -> UserOut:
    """Add a user (admin); the password must be 12+ characters and not a placeholder."""
    password = _check_password(body.password)
    with svc.sessions() as db:
        if db.scalar(sa.select(User.id).where(User.username == body.username)):
            raise Conflict(f"user {body.username!r} exists", field="username")
        user = User(
            username=body.username,
            password_hash=hash_password(password),
            role=body.role,
            is_active=True,
            created_at=now(),
        )
        db.add(user)
        db.flush()
        record_audit(db, p, "user.add", body.username, "ok", {"role": body.role})
        db.commit()
        return _user_out(user)


@router.patch(
    "/api/users/{user_id}",
    response_model=UserOut,
    tags=["users"],
    responses=responses(401, 403, 404, 409, 422),
)
def update_user(
    user_id: int,
    body: UserPatch,
    svc: Annotated[Services, Depends(services)],
    p: Annotated[Principal, Depends(admin)],
) -> UserOut:
    """Change a user's role, active flag or password (admin). Disabling a user, changing
    its password or its role ends its sessions. The last active admin cannot be demoted
    or disabled."""
    password = _check_password(body.password) if body.password is not None else None
    with svc.sessions() as db:
        user = db.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        demoting = body.role not in (None, "admin") or body.is_active is False
        if user.role == "admin" and user.is_active and demoting:
            admins = db.scalar(
                sa.select(sa.func.count())
                .select_from(User)
                .where(User.role == "admin", User.is_active.is_(True))
            )
            if (admins or 0) <= 1:
                raise Conflict("the last active admin cannot be demoted or disabled")
        changed: dict[str, Any] = {}
        if body.role is not None and body.role != user.role:
            user.role = body.role
            changed["role"] = body.role
        if body.is_active is not None and body.is_active != user.is_active:
            user.is_active = body.is_active
            changed["is_active"] = body.is_active
        if password is not None:
            user.password_hash = hash_password(password)
            changed["password_changed"] = True
        if changed.keys() & {"role", "password_changed"} or changed.get("is_active") is False:
            changed["sessions_revoked"] = revoke_user_sessions(db, user.id)
        record_audit(db, p, "user.update", user.username, "ok", changed)
        db.commit()
        return _user_out(user)


# --- audit trail (admin) ----------------------------------------------------------------


def _iso_only(value: object) -> object:
    """A time given as a number (pydantic reads ``0.5`` as a Unix time) is refused: the
    document says an ISO 8601 date-time."""
    if isinstance(value, (int, float)) or (
        isinstance(value, str)
        and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", value)
    ):
        raise ValueError("an ISO 8601 date-time, e.g. 2026-03-03T09:00:00+09:00")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]


def _cursor(value: str | None) -> int | None:
    if not value:
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(value.encode("ascii") + b"==="))
        return int(doc["before_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput("invalid cursor", field="cursor") from exc


@router.get(
    "/api/audit", response_model=AuditPage, tags=["audit"], responses=responses(401, 403, 422)
)
def audit(
    svc: Annotated[Services, Depends(services)],
    _: Annotated[Principal, Depends(admin)],
    user: Annotated[str | None, Query(max_length=64, description="username")] = None,
    action: Annotated[str | None, Query(max_length=32, examples=["order.place"])] = None,
    from_: Annotated[
        IsoDateTime | None,
        Query(alias="from", description="inclusive", examples=["2026-03-03T09:00:00+09:00"]),
    ] = None,
    to: Annotated[
        IsoDateTime | None,
        Query(description="exclusive", examples=["2026-03-03T15:30:00+09:00"]),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """The audit trail, newest first (admin): filter by username, action (an exact name,
    or a prefix ending in ``.``: ``order.``), time range; page with ``next_cursor``."""
    q = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if user:
        q = q.where(AuditEntry.username == user)
    if action:
        q = q.where(
            AuditEntry.action.startswith(action)
            if action.endswith(".")
            else AuditEntry.action == action
        )
    if from_ is not None:
        q = q.where(AuditEntry.at >= from_)
    if to is not None:
        q = q.where(AuditEntry.at < to)
    before = _cursor(cursor)
    if before is not None:
        q = q.where(AuditEntry.id < before)
    with svc.sessions() as db:
        rows = list(db.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    items = []
    for r in rows:
        try:
            detail = json.loads(r.detail) if r.detail else None
        except ValueError:
            detail = {"text": r.detail}
        items.append(
            AuditOut(
                id=r.id,
                at=r.at,
                user_id=r.user_id,
                username=r.username,
                action=r.action,
                target=r.target,
                outcome=r.outcome,
                ip=r.ip,
                detail=detail if isinstance(detail, dict) else {"value": detail},
            )
        )
    nxt = None
    if more and rows:
        nxt = (
            base64.urlsafe_b64encode(json.dumps({"before_id": rows[-1].id}).encode())
            .decode()
            .rstrip("=")
        )
    return AuditPage(items=items, next_cursor=nxt)
