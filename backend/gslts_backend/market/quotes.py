"""A stock's quote and order book: the hub's live data first, Kiwoom REST otherwise.

When the hub does not collect a stock whose book is asked for, the backend leases it at
the hub's interest API (``PUT {HUB_URL}/api/interest/{code}`` with ``{"asker", "ttl_s"}``),
renewing the lease while the book keeps being asked for (also once the hub's book answers),
and answers from ka10004 meanwhile.

The lease is held under an asker of its own (:func:`book_asker`: the browser stream's
``WS_INTEREST_ASKER`` plus ``:book``): the hub keys leases by ``(code, asker)``, so sharing
the browser stream's name would let its release (the last browser leaving) end this lease
too, and its shorter renewals cut this one's TTL.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

import httpx

from gslts_kiwoom.krx import KST
from gslts_kiwoom.models import OrderBookSnapshot, Quote

log = logging.getLogger(__name__)

ASKER = "backend:book"
LEASE_TTL_S = 300


def book_asker(ws_asker: str) -> str:
    """The book route's asker beside the browser stream's (the hub's asker pattern allows
    64 characters, so a long ``WS_INTEREST_ASKER`` is cut to make room for ``:book``)."""
    return f"{ws_asker[:59]}:book"


def age_s(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=KST)
    return round(max(0.0, time.time() - t.timestamp()), 3)


def quote_from_kiwoom(q: Quote) -> dict[str, Any]:
    return {
        "source": "kiwoom",
        "age_s": 0.0,
        "price": q.price,
        "change": q.change,
        "change_rate": float(q.change_rate),
        "open": q.open,
        "high": q.high,
        "low": q.low,
        "base_price": q.base_price,
        "upper_limit": q.upper_limit,
        "lower_limit": q.lower_limit,
        "volume": q.volume,
        "cum_value": None,
        "expected_price": q.expected_price,
        "expected_qty": q.expected_qty,
        "time": None,
    }


def _int_or_none(v: Any) -> int | None:
    return int(v) if isinstance(v, (int, float)) and v else None


def with_base_price(quote: dict[str, Any], base: int | None) -> None:
    """Fill a quote's 기준가 and its change against it (when ``base`` is known)."""
    if base is None or base <= 0:
        return
    price = int(quote["price"])
    quote["base_price"] = base
    quote["change"] = price - base
    quote["change_rate"] = round((price - base) * 100 / base, 2)


def quote_from_hub(q: dict[str, Any]) -> dict[str, Any]:
    t = q.get("time")
    iso = t if isinstance(t, str) else None
    if isinstance(t, (int, float)):
        iso = datetime.fromtimestamp(t, KST).isoformat()
    quote: dict[str, Any] = {
        "source": "hub",
        "age_s": age_s(iso),
        "price": int(q["price"]),
        "change": None,
        "change_rate": None,
        "open": _int_or_none(q.get("open")),
        "high": _int_or_none(q.get("high")),
        "low": _int_or_none(q.get("low")),
        "base_price": None,
        "upper_limit": None,
        "lower_limit": None,
        "volume": q.get("cum_volume"),
        "cum_value": q.get("cum_value"),
        "expected_price": None,
        "expected_qty": None,
        "time": iso,
    }
    # against the 기준가 the hub sends (hubs before 2026-12-04 did not: None)
    with_base_price(quote, _int_or_none(q.get("base_price")))
    return quote


def _levels(levels: Any) -> list[dict[str, int]]:
    out = [{"price": int(p), "qty": int(v)} for p, v in list(levels)[:10]]
    out += [{"price": 0, "qty": 0}] * (10 - len(out))
    return out


def book_from_hub(code: str, b: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": code,
        "source": "hub",
        "age_s": age_s(b.get("time")),
        "time": b.get("time"),
        "venue": b.get("venue"),
        "asks": _levels(b.get("asks") or ()),
        "bids": _levels(b.get("bids") or ()),
        "total_ask_qty": int(b.get("total_ask") or 0),
        "total_bid_qty": int(b.get("total_bid") or 0),
        "expected_price": b.get("expected_price"),
        "expected_qty": b.get("expected_qty"),
    }


def book_from_kiwoom(
    code: str, b: OrderBookSnapshot, expected: tuple[int | None, int | None]
) -> dict[str, Any]:
    return {
        "code": code,
        "source": "kiwoom",
        "age_s": age_s(b.time.isoformat()) if b.time else 0.0,
        "time": b.time.isoformat() if b.time else None,
        "venue": "KRX",
        "asks": _levels((lv.price, lv.qty) for lv in b.asks),
        "bids": _levels((lv.price, lv.qty) for lv in b.bids),
        "total_ask_qty": b.total_ask_qty,
        "total_bid_qty": b.total_bid_qty,
        "expected_price": expected[0],
        "expected_qty": expected[1],
    }


class InterestClient:
    """Leases stocks at the hub for the book route (one lease per stock, renewed when a
    request comes after a third of its TTL)."""

    def __init__(self, hub_url: str, *, asker: str = ASKER, ttl_s: int = LEASE_TTL_S) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.asker = asker
        self.ttl_s = ttl_s
        self.leased: dict[str, float] = {}
        self.refused: set[str] = set()
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.hub_url, timeout=5.0)

    def holds(self, code: str) -> bool:
        """True when this client leases ``code`` (granted or asked for)."""
        with self._lock:
            return code in self.leased

    def live(self, code: str) -> bool:
        """True when this client asked for ``code`` within the TTL (its lease may still
        live); False for one never asked for or whose lease has lapsed since."""
        with self._lock:
            at = self.leased.get(code)
        return at is not None and time.monotonic() - at < self.ttl_s

    def want(self, code: str) -> None:
        """Asks the hub (in a background thread) unless a fresh lease exists."""
        now = time.monotonic()
        with self._lock:
            at = self.leased.get(code)
            if code in self.refused or (at is not None and now - at < self.ttl_s / 3):
                return
            self.leased[code] = now  # one request in flight per stock
        threading.Thread(target=self._lease, args=(code,), daemon=True).start()

    def _lease(self, code: str) -> None:
        try:
            r = self._put(code)
            if r.status_code == 422 and self._fit_ttl():
                r = self._put(code)
        except httpx.HTTPError as exc:
            log.warning("market_interest_unreachable error=%s", type(exc).__name__)
            with self._lock:
                self.leased.pop(code, None)
            return
        with self._lock:
            if r.status_code in (200, 201):
                log.info("market_interest_leased code=%s ttl_s=%d", code, self.ttl_s)
            elif r.status_code in (404, 409, 422):
                self.refused.add(code)
                self.leased.pop(code, None)
                log.warning("market_interest_refused code=%s status=%d", code, r.status_code)
            else:
                self.leased.pop(code, None)

    def _put(self, code: str) -> httpx.Response:
        return self._http.put(
            f"/api/interest/{code}", json={"asker": self.asker, "ttl_s": self.ttl_s}
        )

    def _fit_ttl(self) -> bool:
        """After a 422: when the hub allows a shorter TTL than asked
        (``HUB_INTEREST_MAX_TTL_S``), ask for that from now on; True when it changed."""
        r = self._http.get("/api/interest")
        if r.status_code != 200:
            return False
        try:
            most = int(r.json()["max_ttl_s"])
        except (ValueError, KeyError, TypeError):
            return False
        if not 1 <= most < self.ttl_s:
            return False
        log.warning("market_interest_ttl_capped ttl_s=%d hub_max_ttl_s=%d", self.ttl_s, most)
        self.ttl_s = most
        return True

    def close(self) -> None:
        self._http.close()
