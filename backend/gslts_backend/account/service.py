"""The account: holdings and cash from Kiwoom (kt00018 + kt00001), cached, refreshed by the
account events the hub relays, valued at live prices.

* **Cached.** One fetch (kt00018 계좌평가잔고내역요청 then kt00001 예수금상세현황요청) serves
  ``GET /api/account`` for ``ACCOUNT_CACHE_TTL_S``; concurrent requests wait for one fetch.
* **Refreshed by events.** A ``04`` (잔고) event, or a ``00`` event carrying a fill, on the
  bus's ``order`` channel marks the cache stale and wakes the refresher thread, which
  fetches again (events arriving together are served by one fetch) and, when the account
  changed, publishes a ``balance`` event (:class:`~gslts_backend.events.BackendEvents`)
  for **every** user: one Kiwoom account serves the whole system, so every logged-in user
  sees the same account. A bus gap (events may be lost) marks it stale too.
* **Valued live.** Each holding is valued at the stock's latest trade the hub relayed
  (``price_source: "live"``), else at kt00018's current price (``"kiwoom"``); P&L is the
  evaluation minus the purchase amount (before the sell commission and tax), the return
  is that over the purchase amount, in percent.

Kiwoom failures answer in the one error shape: 429 rate limited, 503 unreachable, 502
refused (with Kiwoom's code).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gslts_backend.events import BackendEvents
from gslts_common.bus import GAP_CHANNEL, ORDER_CHANNEL, Event
from gslts_common.errors import AppError, BadGateway, TooManyRequests, Unavailable
from gslts_kiwoom import (
    APIError,
    Balance,
    Cash,
    KiwoomClient,
    KiwoomError,
    RateLimitError,
    TransportError,
)
from gslts_kiwoom.krx import KST

log = logging.getLogger(__name__)

#: events arriving within this many seconds of the first are served by one fetch
DEBOUNCE_S = 0.2
_CENT = Decimal("0.01")


def kiwoom_failure(exc: KiwoomError, what: str) -> AppError:
    """The one error shape for a failed Kiwoom call (the message is already masked)."""
    if isinstance(exc, RateLimitError):
        return TooManyRequests(f"{what}: Kiwoom rate limit, try again", kiwoom_code=_code(exc))
    if isinstance(exc, TransportError):
        return Unavailable(f"{what}: Kiwoom unreachable ({type(exc).__name__})")
    if isinstance(exc, APIError):
        return BadGateway(
            f"{what}: Kiwoom refused: {exc.server_message}"[:300], kiwoom_code=_code(exc)
        )
    return BadGateway(f"{what}: Kiwoom call failed ({type(exc).__name__})")


def _code(exc: APIError) -> str | None:
    return exc.detail_code or (str(exc.return_code) if exc.return_code is not None else None)


def pct(num: int, den: int) -> Decimal:
    """``num / den`` in percent, two decimals (0 when ``den`` is 0)."""
    if den == 0:
        return Decimal("0.00")
    return (Decimal(num) * 100 / Decimal(den)).quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One fetch of the account from Kiwoom."""

    balance: Balance
    cash: Cash
    fetched_at: datetime
    #: monotonic time of the fetch (for the TTL)
    fetched_mono: float


def is_account_change(event: Event) -> bool:
    """A bus ``order`` event that changes holdings or cash: a 04 balance event, or a 00
    event with a fill (a quantity filled by this event)."""
    if event.get("kind") == "balance":
        return True
    qty = event.get("fill_qty")
    return event.get("kind") == "order" and isinstance(qty, int) and qty > 0


class AccountService:
    """See the module docstring. ``kiwoom`` gives the one client; ``prices`` the latest live
    price of a stock (or None)."""

    def __init__(
        self,
        kiwoom: Callable[[], KiwoomClient],
        prices: Callable[[str], int | None],
        events: BackendEvents,
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kiwoom = kiwoom
        self._prices = prices
        self._events = events
        self._ttl = ttl_s
        self._clock = clock
        self._snap: Snapshot | None = None
        #: positions and cash as last pushed (``balance``), None before the first push
        self._pushed_key: tuple[Any, ...] | None = None
        #: set by an event: the next read fetches, whatever its age
        self._stale = False
        self._fetch_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: counters for tests and status: fetches made, refreshes triggered by events
        self.fetches = 0
        self.event_refreshes = 0
        self.pushes = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="account-refresh", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)

    # ------------------------------------------------------------------ bus
    def on_bus(self, channel: str, event: Event) -> None:
        """The follower's callback (its thread: quick)."""
        if channel == GAP_CHANNEL:
            self._stale = True
        elif channel == ORDER_CHANNEL and is_account_change(event):
            self._stale = True
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            if self._stop.is_set():
                return
            self._stop.wait(DEBOUNCE_S)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.event_refreshes += 1
            try:
                snap = self._fetch()
            except KiwoomError as exc:
                log.warning("account_refresh_failed error=%s", type(exc).__name__)
                continue
            self._push_if_changed(snap)

    def _push_if_changed(self, snap: Snapshot) -> None:
        """Publish ``balance`` when positions or cash differ from what was last *pushed*
        — not from the last fetch: a request that fetched the change first (a page
        refetching its own account after a fill) must not swallow the push every other
        browser waits for."""
        key = _key(snap)
        if key != self._pushed_key:
            self._pushed_key = key
            self.pushes += 1
            self._events.publish("balance", None, self.view(snap))

    # ------------------------------------------------------------------ reads
    def _fetch(self) -> Snapshot:
        """Ask Kiwoom (one caller at a time)."""
        with self._fetch_lock:
            return self._fetch_locked()

    def _fetch_locked(self) -> Snapshot:
        self._stale = False  # an event during the fetch marks it stale again
        client = self._kiwoom()
        balance = client.get_balance()
        cash = client.get_cash()
        self.fetches += 1
        snap = Snapshot(balance, cash, datetime.now(KST), self._clock())
        self._snap = snap
        log.info("account_fetched holdings=%d orderable=%d", len(balance.holdings), cash.orderable)
        return snap

    def _fresh(self, snap: Snapshot | None) -> bool:
        return (
            snap is not None and not self._stale and self._clock() - snap.fetched_mono < self._ttl
        )

    def current(self) -> Snapshot:
        """The cached account, fetched when older than the TTL or marked stale; requests
        arriving during a fetch use its answer."""
        snap = self._snap
        if snap is not None and self._fresh(snap):
            return snap
        with self._fetch_lock:
            snap = self._snap
            if snap is not None and self._fresh(snap):
                return snap
            try:
                return self._fetch_locked()
            except KiwoomError as exc:
                raise kiwoom_failure(exc, "account") from exc

    def account(self) -> dict[str, Any]:
        """``GET /api/account``: the cached account valued at live prices."""
        return self.view(self.current())

    def view(self, snap: Snapshot) -> dict[str, Any]:
        holdings = []
        tot_pur = tot_eval = 0
        for h in snap.balance.holdings:
            if h.qty <= 0:
                continue
            live = self._prices(h.code)
            price = live if live is not None and live > 0 else h.current_price
            evaluation = h.qty * price
            profit = evaluation - h.purchase_amount
            tot_pur += h.purchase_amount
            tot_eval += evaluation
            holdings.append(
                {
                    "stock_code": h.code,
                    "name": h.name,
                    "quantity": h.qty,
                    "sellable_quantity": h.sellable_qty,
                    "avg_price": h.avg_price,
                    "purchase_amount": h.purchase_amount,
                    "price": price,
                    "price_source": "live" if price == live else "kiwoom",
                    "prev_close": h.prev_close,
                    "evaluation": evaluation,
                    "profit": profit,
                    "return_pct": pct(profit, h.purchase_amount),
                }
            )
        cash = snap.cash
        return {
            "cash": cash.deposit,
            "orderable_cash": cash.orderable,
            "withdrawable_cash": cash.withdrawable,
            "d2_cash": cash.d2_deposit,
            "total_purchase": tot_pur,
            "total_evaluation": tot_eval,
            "total_profit": tot_eval - tot_pur,
            "total_return_pct": pct(tot_eval - tot_pur, tot_pur),
            "estimated_assets": cash.d2_deposit + tot_eval,
            "holdings": holdings,
            "fetched_at": snap.fetched_at,
            "valued_at": datetime.now(KST),
        }


def _key(snap: Snapshot) -> tuple[Any, ...]:
    """What makes two fetches the same account (positions and cash, not prices)."""
    held = tuple((h.code, h.qty, h.sellable_qty, h.avg_price) for h in snap.balance.holdings)
    c = snap.cash
    return held, c.deposit, c.orderable, c.d2_deposit
