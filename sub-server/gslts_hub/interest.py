"""Interest leases: another service asks the hub to collect a stock for a while.

The main server opens a stock page for a user; the hub may not collect that stock (it is
not in the top 50, not on the watchlist). The server then holds a **lease** on the stock:
``PUT /api/interest/{code}`` with its name (the *asker*) and a TTL, renewed by asking again
before the TTL runs out. The hub collects the stock while at least one lease on it lives:

* **Reference-counted across askers.** A lease is keyed by ``(code, asker)``; the stock is
  subscribed when its first lease is granted and released when its last one ends.
* **A crashed asker leaks nothing.** It stops renewing; its leases expire
  (:meth:`InterestManager.expire`, called by the hub's control loop every second) and the
  stock is released.
* **Within the caps; a refusal says why** (:class:`InterestRefused`, 409): at most
  ``max_per_asker`` leases per asker, at most ``max_codes`` stocks that interest alone
  keeps collected (a stock the hub collects anyway, top 50 or watchlist, costs no
  registration and is not counted), at most :data:`MAX_LEASES` leases in all, and the
  Kiwoom WebSocket's registration cap (a REG the client or the server refuses, ``등록
  종목수 초과``: PROTOCOL.md §5.4 — the real limit is not documented, so it is whatever the
  server answers and the hub's ``HUB_WS_MAX_GROUPS`` × ``HUB_WS_MAX_ITEMS_PER_GROUP``).

The subscription is made under its own owner tag (the hub's ``OWNER_INTEREST``): the
WebSocket client reference-counts owners per ``(type, item)``, so releasing the interest
owner never drops a stock the top 50 or the watchlist still holds, and a stock that leaves
the top 50 while leased stays collected. That is why :class:`InterestManager` always
subscribes a newly leased stock and always releases an ended one, whether or not it is
collected for another reason: skipping either would leak (or lose) the interest owner's
hold when the other reason changes.

Two pieces: :class:`LeaseTable` (pure bookkeeping, thread-safe, injected clock) and
:class:`InterestManager` (the table plus the hub's subscribe / unsubscribe callbacks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gslts_common.errors import BadInput, Conflict
from gslts_kiwoom.krx import KST

log = logging.getLogger(__name__)

#: an asker names itself: a service name, optionally with an instance (``backend:web-1``)
ASKER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
#: the shortest lease (seconds): the control loop sweeps once a second
MIN_TTL_S = 1
#: every lease of every asker together (bounds the table when many askers ask)
MAX_LEASES = 10_000


class InterestRefused(Conflict):
    """A lease the caps do not allow (409); the detail names the cap."""


@dataclass(frozen=True, slots=True)
class Lease:
    """One asker's lease on one stock (times are epoch seconds of the table's clock)."""

    code: str
    asker: str
    ttl_s: float
    #: when this asker's lease on the stock was first granted (kept across renewals)
    granted_at: float
    expires_at: float
    #: 0 = granted by this call; n = renewed n times
    renewals: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "asker": self.asker,
            "ttl_s": self.ttl_s,
            "granted_at": _iso(self.granted_at),
            "expires_at": _iso(self.expires_at),
            "renewals": self.renewals,
        }


class LeaseTable:
    """Leases keyed by ``(code, asker)``, with the caps; thread-safe.

    Pure bookkeeping: it subscribes nothing (see :class:`InterestManager`). A lease lives
    until :meth:`expire` sweeps it past its ``expires_at`` (or :meth:`release`).

    Args:
        max_codes: stocks that leases alone may keep collected (``held`` ones not counted).
        max_per_asker: leases one asker may hold.
        max_ttl_s: the longest TTL one acquire may ask for.
        max_leases: leases of all askers together.
        clock: epoch seconds (tests inject one).
    """

    def __init__(
        self,
        *,
        max_codes: int,
        max_per_asker: int,
        max_ttl_s: float,
        max_leases: int = MAX_LEASES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_codes = max_codes
        self.max_per_asker = max_per_asker
        self.max_ttl_s = max_ttl_s
        self.max_leases = max_leases
        self.clock = clock
        self._lock = threading.Lock()
        self._by_code: dict[str, dict[str, Lease]] = {}
        self._per_asker: dict[str, int] = {}
        self._count = 0

    def acquire(self, code: str, asker: str, ttl_s: float, *, held: Collection[str] = ()) -> Lease:
        """Grant ``asker`` a lease on ``code`` for ``ttl_s`` from now, or renew its lease
        (the new expiry is now + ``ttl_s``, shorter or longer than before).

        Args:
            held: codes collected for another reason (top 50, watchlist): a new stock among
                them does not count against ``max_codes``.

        Raises:
            BadInput: ``ttl_s`` outside ``MIN_TTL_S..max_ttl_s``.
            InterestRefused: a cap is reached (the detail names it).
        """
        if not MIN_TTL_S <= ttl_s <= self.max_ttl_s:
            raise BadInput(
                f"ttl_s: {ttl_s} is outside {MIN_TTL_S}..{self.max_ttl_s} (HUB_INTEREST_MAX_TTL_S)"
            )
        now = self.clock()
        with self._lock:
            leases = self._by_code.get(code)
            if leases is not None and (old := leases.get(asker)) is not None:
                lease = replace(old, ttl_s=ttl_s, expires_at=now + ttl_s, renewals=old.renewals + 1)
                leases[asker] = lease
                return lease
            if self._per_asker.get(asker, 0) >= self.max_per_asker:
                raise InterestRefused(
                    f"asker cap reached: {asker!r} holds {self.max_per_asker} leases "
                    "(HUB_INTEREST_MAX_PER_ASKER); release one or let it expire"
                )
            if self._count >= self.max_leases:
                raise InterestRefused(f"lease table full: {self.max_leases} leases in all")
            if leases is None and code not in held:
                counted = sum(1 for c in self._by_code if c not in held)
                if counted >= self.max_codes:
                    raise InterestRefused(
                        f"interest cap {self.max_codes} reached: {counted} stocks are "
                        "collected on interest alone (HUB_INTEREST_MAX_CODES)"
                    )
            lease = Lease(code, asker, ttl_s, now, now + ttl_s, 0)
            self._by_code.setdefault(code, {})[asker] = lease
            self._per_asker[asker] = self._per_asker.get(asker, 0) + 1
            self._count += 1
            return lease

    def release(self, code: str, asker: str) -> bool:
        """End ``asker``'s lease on ``code`` now; False when it held none."""
        with self._lock:
            leases = self._by_code.get(code)
            if leases is None or asker not in leases:
                return False
            self._drop(code, leases, asker)
            return True

    def expire(self, now: float) -> list[str]:
        """Remove every lease whose ``expires_at`` is at or before ``now``; returns the
        codes whose last lease that was (sorted): the stocks no asker wants any more."""
        ended: list[str] = []
        with self._lock:
            for code, leases in list(self._by_code.items()):
                for asker in [a for a, lease in leases.items() if lease.expires_at <= now]:
                    self._drop(code, leases, asker)
                if code not in self._by_code:
                    ended.append(code)
        return sorted(ended)

    def _drop(self, code: str, leases: dict[str, Lease], asker: str) -> None:
        del leases[asker]
        self._count -= 1
        left = self._per_asker[asker] - 1
        if left:
            self._per_asker[asker] = left
        else:
            del self._per_asker[asker]
        if not leases:
            del self._by_code[code]

    def holds(self, code: str) -> bool:
        """True while any lease on ``code`` lives (expired ones until swept)."""
        with self._lock:
            return code in self._by_code

    def codes(self) -> list[str]:
        """Every stock with a lease (sorted)."""
        with self._lock:
            return sorted(self._by_code)

    def leases(self, code: str) -> list[Lease]:
        """The leases on ``code`` (by asker)."""
        with self._lock:
            return sorted(self._by_code.get(code, {}).values(), key=lambda lease: lease.asker)

    def snapshot(self, held: Collection[str] = ()) -> dict[str, Any]:
        """The table for ``/api/status`` and ``GET /api/interest``: the caps, and per stock
        its askers and when its last lease ends (ISO, KST)."""
        now = self.clock()
        with self._lock:
            by_code = {
                c: sorted(ls.values(), key=lambda x: x.asker) for c, ls in self._by_code.items()
            }
            leases = self._count
        stocks = []
        for code in sorted(by_code):
            until = max(lease.expires_at for lease in by_code[code])
            stocks.append(
                {
                    "stock_code": code,
                    "expires_at": _iso(until),
                    "expires_in_s": round(max(0.0, until - now), 1),
                    "held_elsewhere": code in held,
                    "askers": [lease.as_dict() for lease in by_code[code]],
                }
            )
        return {
            "max_codes": self.max_codes,
            "max_per_asker": self.max_per_asker,
            "max_ttl_s": self.max_ttl_s,
            "codes_counted": sum(1 for c in by_code if c not in held),
            "leases": leases,
            "stocks": stocks,
        }


class InterestManager:
    """The lease table wired to the hub's subscriptions.

    Args:
        table: the leases.
        subscribe: register 0B/0D for ``codes`` under the interest owner; returns the codes
            refused (the hub's ``_subscribe``: a registration cap, logged as an event).
        unsubscribe: release the interest owner's hold on ``codes`` (owner-tagged, so a
            stock held for another reason stays registered).
        held_elsewhere: codes the hub collects for another reason now (top 50, watchlist):
            not counted against ``max_codes``, and marked in the snapshot.

    One lock serializes the transitions (grant → subscribe, last release → unsubscribe) so
    a stock re-leased while its last lease ends can never end up unsubscribed; reads
    (:meth:`codes`, :meth:`snapshot`) take only the table's short lock.
    """

    def __init__(
        self,
        table: LeaseTable,
        *,
        subscribe: Callable[[list[str]], list[str]],
        unsubscribe: Callable[[list[str]], None],
        held_elsewhere: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self.table = table
        self._subscribe = subscribe
        self._unsubscribe = unsubscribe
        self._held = held_elsewhere
        self._ops = threading.Lock()

    def acquire(self, code: str, asker: str, ttl_s: float) -> Lease:
        """Grant or renew ``asker``'s lease on ``code``; a stock leased for the first time
        is subscribed before this returns (the REG acknowledged when the socket is up;
        while it is down the registration is sent on connect).

        Raises:
            BadInput: ``ttl_s`` out of bounds.
            InterestRefused: a cap is reached, or the WebSocket refused the registration.
        """
        with self._ops:
            self._end(self.table.expire(self.table.clock()))
            new = not self.table.holds(code)
            lease = self.table.acquire(code, asker, ttl_s, held=self._held())
            if new:
                refused = self._subscribe([code])
                if code in refused:
                    self.table.release(code, asker)
                    raise InterestRefused(
                        f"registration cap reached: the Kiwoom WebSocket refused {code} "
                        "(등록 종목수 초과, or HUB_WS_MAX_GROUPS x HUB_WS_MAX_ITEMS_PER_GROUP "
                        "items registered); see the hub's events"
                    )
                log.info("interest_subscribed code=%s asker=%s ttl_s=%s", code, asker, ttl_s)
            return lease

    def release(self, code: str, asker: str) -> bool:
        """End ``asker``'s lease on ``code`` now (the stock is released when it was the
        last); False when ``asker`` held none."""
        with self._ops:
            if not self.table.release(code, asker):
                return False
            if not self.table.holds(code):
                self._end([code])
            return True

    def expire(self, now: float) -> list[str]:
        """Sweep the leases ended at ``now`` and release their stocks; returns the codes
        released. Never waits: while an acquire holds the lock (a REG waits for its ack)
        this sweep is skipped, and the next one (a second later) does it."""
        if not self._ops.acquire(blocking=False):
            return []
        try:
            ended = self.table.expire(now)
            self._end(ended)
            return ended
        finally:
            self._ops.release()

    def _end(self, codes: list[str]) -> None:
        if codes:
            self._unsubscribe(codes)
            log.info("interest_released codes=%s", ",".join(codes))

    def codes(self) -> list[str]:
        """Every stock with a lease (the hub registers these on connect)."""
        return self.table.codes()

    def holds(self, code: str) -> bool:
        return self.table.holds(code)

    def leases(self, code: str) -> list[Lease]:
        return self.table.leases(code)

    def held_elsewhere(self, code: str) -> bool:
        """True when the hub collects ``code`` for another reason now."""
        return code in self._held()

    def snapshot(self) -> dict[str, Any]:
        """The ``interest`` part of ``/api/status`` (and ``GET /api/interest``)."""
        return self.table.snapshot(held=self._held())


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, KST).isoformat()
