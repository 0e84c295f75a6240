"""Leases at the hub's interest API for the stocks browsers watch that the hub does not
collect (``PUT {HUB_URL}/api/interest/{code}`` with ``{"asker", "ttl_s"}``; docs/hub).

The browser stream reference-counts the stocks its connections subscribe to and tells
this :class:`InterestLeaser` which are *wanted*. One asyncio task reconciles: a wanted stock
that the hub does not collect (its ``/api/status`` ``collecting_stocks``) is leased; a
leased one is renewed every third of the TTL; one no longer wanted (the last browser left)
is released at once (``DELETE``). A hub that cannot be reached is tried again on the next
round; a refusal (409: a cap, 404: no listed stock) is told to the watchers once.
On close every lease is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import httpx

log = logging.getLogger(__name__)

#: seconds between rounds while the hub cannot be reached
RETRY_S = 2.0


class InterestLeaser:
    def __init__(
        self,
        hub_url: str,
        *,
        asker: str,
        ttl_s: int,
        on_refused: Callable[[str, str], None],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=hub_url.rstrip("/"), timeout=30, transport=transport
        )
        self.asker = asker
        self.ttl_s = ttl_s
        self._on_refused = on_refused
        self.wanted: set[str] = set()
        #: code → loop time of the last grant/renewal
        self.leased: dict[str, float] = {}
        #: wanted stocks the hub refused (not asked again until wanted anew)
        self.refused: dict[str, str] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.errors = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ws-interest")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for code in list(self.leased):
            with contextlib.suppress(httpx.HTTPError):
                await self._release(code)
        await self._http.aclose()

    def want(self, code: str) -> None:
        self.wanted.add(code)
        self._changed.set()

    def unwant(self, code: str) -> None:
        self.wanted.discard(code)
        self.refused.pop(code, None)
        self._changed.set()

    def stats(self) -> dict[str, object]:
        return {"wanted": sorted(self.wanted), "leased": sorted(self.leased), "errors": self.errors}

    async def _run(self) -> None:
        period = self.ttl_s / 3
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=period)
            self._changed.clear()
            try:
                await self.reconcile()
            except httpx.HTTPError as exc:
                self.errors += 1
                log.warning("ws_interest_hub_unreachable error=%s", type(exc).__name__)
                await asyncio.sleep(RETRY_S)
                self._changed.set()

    async def reconcile(self) -> None:
        loop = asyncio.get_running_loop()
        for code in [c for c in self.leased if c not in self.wanted]:
            await self._release(code)
        todo = [c for c in self.wanted if c not in self.leased and c not in self.refused]
        collecting: set[str] = set()
        if todo:
            r = await self._http.get("/api/status")
            r.raise_for_status()
            collecting = set(r.json().get("collecting_stocks") or ())
        due = loop.time() - self.ttl_s / 3
        for code in sorted(self.wanted):
            if code in self.refused:
                continue
            at = self.leased.get(code)
            if at is None and code in collecting:
                continue  # the hub collects it anyway (top N, watchlist)
            if at is not None and at > due:
                continue
            await self._lease(code)

    async def _lease(self, code: str) -> None:
        r = await self._http.put(
            f"/api/interest/{code}", json={"asker": self.asker, "ttl_s": self.ttl_s}
        )
        if r.status_code in (200, 201):
            if code not in self.leased:
                log.info("ws_interest_leased code=%s ttl_s=%d", code, self.ttl_s)
            self.leased[code] = asyncio.get_running_loop().time()
            return
        if r.status_code in (404, 409, 422):
            detail = _detail(r)
            self.refused[code] = detail
            self.leased.pop(code, None)
            log.warning("ws_interest_refused code=%s status=%d", code, r.status_code)
            self._on_refused(code, detail)
            return
        r.raise_for_status()
        raise httpx.HTTPError(f"unexpected status {r.status_code}")

    async def _release(self, code: str) -> None:
        self.leased.pop(code, None)
        r = await self._http.delete(f"/api/interest/{code}", params={"asker": self.asker})
        if r.status_code not in (204, 404):  # 404: it had expired already
            r.raise_for_status()
        log.info("ws_interest_released code=%s", code)


def _detail(r: httpx.Response) -> str:
    try:
        return str(r.json().get("detail") or r.status_code)[:200]
    except ValueError:
        return str(r.status_code)
