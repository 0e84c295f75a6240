"""What ``GET /api/session`` tells, and the one rule order routes check first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gslts_backend.services import Services
from gslts_backend.settings import BackendSettings


def orders_refusal(settings: BackendSettings) -> str | None:
    """Why order routes must refuse before any broker call, or None when they may proceed.

    With ``KIWOOM_MODE=real`` and no ``KIWOOM_ALLOW_REAL_ORDERS=true`` every order route
    answers 403 with this text (the Kiwoom library refuses too; the API says it first)."""
    if settings.kiwoom_mode == "real" and not settings.kiwoom_allow_real_orders:
        return (
            "real-money orders are disabled: KIWOOM_MODE=real without KIWOOM_ALLOW_REAL_ORDERS=true"
        )
    return None


def kiwoom_token_expiry(svc: Services) -> datetime | None:
    """When the Kiwoom token expires, if one was issued (never asks for a token)."""
    client = svc._kiwoom  # built only when a route needed Kiwoom; don't build it here
    if client is None:
        return None
    expires = getattr(client, "token_expires_at", None)
    try:
        value = expires() if callable(expires) else expires
    except Exception:
        return None
    return value if isinstance(value, datetime) else None


def session_info(svc: Services) -> dict[str, Any]:
    settings = svc.settings
    refusal = orders_refusal(settings)
    bus = svc.live.stats()
    return {
        "mode": settings.kiwoom_mode,
        "real_orders_enabled": bool(settings.kiwoom_allow_real_orders),
        "orders_allowed": refusal is None,
        "orders_refused_reason": refusal,
        "kiwoom_token_expires_at": kiwoom_token_expiry(svc),
        "hub": {
            "connected": bool(bus.get("connected")),
            "transport": bus.get("transport"),
            "source": bus.get("source"),
            "last_event_age_s": bus.get("last_event_age_s"),
            "last_error": bus.get("last_error"),
        },
    }
