"""Login sessions in ``auth_sessions``: random tokens (``secrets.token_urlsafe(32)``), stored
only as their SHA-256; a cookie session also has a CSRF token (its SHA-256 in
``csrf_hash``). Expiry is ``expires_at``; logout, disabling a user or a password change sets
``revoked_at``."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gslts_db import KST
from gslts_db.models import AuthSession, User

SessionKind = Literal["cookie", "bearer"]
#: last_seen_at is written at most this often per session (not on every request)
SEEN_EVERY = timedelta(seconds=60)


def now() -> datetime:
    return datetime.now(KST)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(token: str, expected_hash: str | None) -> bool:
    """Whether ``token`` hashes to ``expected_hash`` (constant time)."""
    if not expected_hash or not token:
        return False
    return hmac.compare_digest(token_hash(token), expected_hash)


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just created: the tokens exist only here (and in the client)."""

    id: int
    kind: SessionKind
    token: str
    csrf_token: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A valid (unexpired, unrevoked) session of an active user."""

    id: int
    kind: SessionKind
    csrf_hash: str | None
    user_id: int
    username: str
    role: str


def create_session(
    db: Session,
    user: User,
    kind: SessionKind,
    ttl_s: int,
    *,
    ip: str | None,
    user_agent: str | None,
) -> NewSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32) if kind == "cookie" else None
    at = now()
    row = AuthSession(
        token_hash=token_hash(token),
        csrf_hash=token_hash(csrf) if csrf else None,
        user_id=user.id,
        kind=kind,
        created_at=at,
        expires_at=at + timedelta(seconds=ttl_s),
        last_seen_at=at,
        ip=ip,
        user_agent=(user_agent or "")[:255] or None,
    )
    db.add(row)
    db.flush()
    return NewSession(row.id, kind, token, csrf, row.expires_at)


def find_session(db: Session, token: str) -> LiveSession | None:
    """The valid session of ``token`` (None when unknown, expired, revoked or its user is
    disabled); refreshes ``last_seen_at`` now and then."""
    if not token or len(token) > 256:
        return None
    at = now()
    row = db.execute(
        sa.select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(
            AuthSession.token_hash == token_hash(token),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > at,
            User.is_active.is_(True),
        )
    ).first()
    if row is None:
        return None
    sess, user = row
    if sess.last_seen_at is None or at - sess.last_seen_at > SEEN_EVERY:
        sess.last_seen_at = at
        db.commit()
    kind: SessionKind = "cookie" if sess.kind == "cookie" else "bearer"
    return LiveSession(sess.id, kind, sess.csrf_hash, user.id, user.username, user.role)


def revoke_session(db: Session, session_id: int) -> None:
    db.execute(
        sa.update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )


def revoke_user_sessions(db: Session, user_id: int) -> int:
    """End every session of a user (disabled, or its password changed); how many."""
    result = db.execute(
        sa.update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return int(getattr(result, "rowcount", 0) or 0)
