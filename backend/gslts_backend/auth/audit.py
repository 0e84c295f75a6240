"""The audit trail (``audit_log``): who did what, when and from where.

:func:`record_audit` is what every area calls for an action worth a trail (orders: each
place/modify/cancel, its outcome; auth: logins, logouts, user changes)."""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from gslts_backend.auth.store import now
from gslts_backend.deps import Principal
from gslts_db.models import AuditEntry

#: detail keys never stored (their value is replaced by "***")
SECRET_KEY = re.compile(r"pass|token|secret|app_?key|authorization|cookie|csrf", re.IGNORECASE)
MAX_DETAIL_CHARS = 4000


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): "***" if SECRET_KEY.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def record_audit(
    db: Session | Connection,
    principal: Principal | None,
    action: str,
    target: str | None,
    outcome: str,
    detail: dict[str, Any] | None = None,
    *,
    username: str | None = None,
    ip: str | None = None,
) -> None:
    """Add one ``audit_log`` row in ``db``'s transaction (the caller commits, so the row
    lands with the change it records, or not at all).

    ``principal``: who acted (None for an anonymous attempt such as a failed login: then
    ``username`` / ``ip`` say who tried); ``action``: a dotted name such as
    ``order.place``, ``order.modify``, ``order.cancel``, ``auth.login``, ``user.update``
    (≤ 32 chars); ``target``: what it acted on (an order id, a username; ≤ 64 chars);
    ``outcome``: ``ok``, ``refused``, ``failed``, ``rejected`` … (≤ 16 chars); ``detail``:
    a small JSON-able dict of what matters (never a secret: keys that look like a password,
    token, key, cookie or CSRF value are masked anyway; capped at 4000 characters)."""
    text = None
    if detail:
        text = json.dumps(_scrub(detail), ensure_ascii=False, sort_keys=True)
        if len(text) > MAX_DETAIL_CHARS:
            text = json.dumps({"truncated": text[: MAX_DETAIL_CHARS - 40]}, ensure_ascii=False)
    db.execute(
        sa.insert(AuditEntry).values(
            at=now(),
            user_id=principal.user_id if principal else None,
            username=(principal.username if principal else username or None),
            action=action[:32],
            target=target[:64] if target else None,
            outcome=outcome[:16],
            ip=(principal.ip if principal else ip) or None,
            detail=text,
        )
    )
