"""The collector: the one upstream Kiwoom WebSocket, its life and its registrations.

It opens the socket (:meth:`Collector.start`) and closes it (:meth:`Collector.stop`) as the
control loop's schedule says, registers 0B trades and 0D books per stock under an **owner**
(``top`` = the top-N ranking, ``watchlist``, ``interest`` = leased by another service: the
socket reference-counts per owner, so one owner never releases another's stock), the
account's 00/04 events, and 1h VI for every stock (or, when the server refuses the item
``""``, per collected stock beside 0B/0D). Registrations die with a socket: a new socket
registers every owner's stocks again. Decoded frames go straight to the ingest callback on
the socket's thread.

A socket state change is a gap boundary: a disconnect after the socket was ready opens
each stock's gap at its last trade (:meth:`~gslts_hub.gaps.GapTracker.mark_all`), and a
stock's gap seeded from the restart anchors is armed before its REG is sent
(:meth:`~gslts_hub.gaps.GapTracker.seed`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from gslts_hub.gaps import GapTracker
from gslts_hub.settings import HubSettings
from gslts_hub.stocks import StockState
from gslts_hub.vi import VI_TYPE
from gslts_kiwoom import KiwoomWebSocket, WsConfig

MARKET_TYPES = ("0B", "0D")
#: 0D books come undecoded: a batch keeps only each stock's latest book (a snapshot
#: supersedes the ones before it), so under load most are never decoded (gslts_hub.books)
WS_DEFER_TYPES = frozenset({"0D"})
ACCOUNT_TYPES = ("00", "04")
OWNER_TOP = "top"
OWNER_WATCH = "watchlist"
#: stocks leased through the interest API (gslts_hub.interest)
OWNER_INTEREST = "interest"
#: the account's own registrations (00/04, and 1h for every stock)
OWNER_HUB = "hub"


class Collector:
    """Owns the WebSocket: start/stop, subscriptions with owners, VI, socket states.

    Args:
        settings: hub settings (socket limits, the Kiwoom mode's WebSocket URL).
        get_token: the token provider (re-issued when the server refuses it).
        on_events: each batch of decoded events, on the socket's thread.
        gaps: the gap tracker (seeds restart gaps; a disconnect opens gaps).
        stocks: the per-stock live state (a subscribed stock gets one).
        owned: every owner's stocks now, in registration order (watchlist, top, interest).
        clock: epoch seconds (the hub's clock).
        event: ``(kind, message)`` for the monitoring page.
    """

    def __init__(
        self,
        settings: HubSettings,
        *,
        get_token: Callable[[bool], str],
        on_events: Callable[[list[Any]], None],
        gaps: GapTracker,
        stocks: dict[str, StockState],
        owned: Callable[[], Sequence[tuple[str, Collection[str]]]],
        clock: Callable[[], float],
        event: Callable[[str, str], None],
    ) -> None:
        self.settings = settings
        self._get_token = get_token
        self._on_events = on_events
        self.gaps = gaps
        self.stocks = stocks
        self._owned = owned
        self._clock = clock
        self._event = event
        #: the socket while collecting (tests may put a stand-in here)
        self.ws: KiwoomWebSocket | None = None
        self.ws_state = "stopped"
        self.collecting = False
        #: True when the server refused 1h for every stock (item ""): 1h goes per stock
        self.vi_per_stock = False
        #: the socket has been ready since it was started (a later disconnect is a gap)
        self.was_ready = False
        #: when the socket last became ready (epoch s)
        self.ready_at = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Open the socket and register everything (no-op while one is open)."""
        if self.ws is not None:
            return
        s = self.settings
        cfg = WsConfig(
            watchdog_s=s.hub_ws_watchdog_s,
            max_items_per_group=s.hub_ws_max_items_per_group,
            max_groups=s.hub_ws_max_groups,
            backoff_max_s=5.0,
            defer_types=WS_DEFER_TYPES,
        )
        self.ws = KiwoomWebSocket(
            s.kiwoom_config().ws_url,
            self._get_token,
            cfg,
            on_events=self._on_events,
            on_error=lambda e: self._event("ws_error", type(e).__name__),
            on_state=self.on_ws_state,
            name="hub-ws",
        )
        self.ws.start()
        self.collecting = True
        with contextlib.suppress(Exception):
            self.ws.subscribe([""], ACCOUNT_TYPES, owner=OWNER_HUB)
        # after a scheduled stop too: registrations died with the old socket, the next
        # ranking only reports changes to the membership, and leases granted while the
        # socket was down wait for it
        for owner, codes in self._owned():
            if codes:
                self.subscribe(sorted(codes), owner)
        self.subscribe_vi()

    def stop(self) -> None:
        """Close the socket (collection stops; registrations die with it)."""
        ws, self.ws = self.ws, None
        self.collecting = False
        if ws is not None:
            ws.close()

    def end_session(self) -> None:
        """After the scheduled stop: the next socket's first ready is no reconnect."""
        self.was_ready = False

    def relogin(self) -> None:
        """Drop the socket so it reconnects and LOGINs again (a fresh token)."""
        if self.ws is not None:
            self.ws._abort_socket()

    def on_ws_state(self, state: str) -> None:
        """The socket's state changes (its thread): a disconnect after it was ready opens
        a gap for every stock; a ready after that is a reconnect."""
        self.ws_state = state
        if state == "disconnected" and self.was_ready:
            self.gaps.mark_all(self._clock())
            self._event("ws", "disconnected")
        elif state == "ready":
            if self.was_ready:
                self._event("ws", f"reconnected; backfilling {len(self.gaps.await_first)} stocks")
            self.was_ready = True
            self.ready_at = self._clock()

    # ------------------------------------------------------------------ registrations
    def market_types(self) -> tuple[str, ...]:
        """What each collected stock is registered for (0B, 0D, and 1h when per stock)."""
        return (*MARKET_TYPES, VI_TYPE) if self.vi_per_stock else MARKET_TYPES

    def subscribe(self, codes: Iterable[str], owner: str) -> list[str]:
        """Register 0B+0D of ``codes`` under ``owner``; returns the codes refused
        (registration caps) — an event, not an exception. No-op without a socket."""
        ws = self.ws
        failed: list[str] = []
        codes = list(codes)
        if ws is None or not codes:
            return failed
        for c in codes:
            self.stocks.setdefault(c, StockState(c))
        # Seed *before* REG: the first live frame can arrive while subscribe() still waits
        # for the ack, and that tick must be the one that closes the restart gap.
        seeded = self.gaps.seed(codes)
        try:
            ws.subscribe(codes, self.market_types(), owner=owner)
        except Exception as exc:
            self._event("subscribe_failed", f"{len(codes)} stocks: {exc}")
            failed = codes
            self.gaps.unseed(seeded)  # nothing was registered: keep them for a later try
        return failed

    def unsubscribe(self, codes: Iterable[str], owner: str) -> None:
        """Release ``owner``'s registration of ``codes`` (another owner's stays)."""
        ws = self.ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.unsubscribe(list(codes), self.market_types(), owner=owner)

    def subscribe_vi(self) -> None:
        """1h VI발동/해제 for every stock (item ``""``, PROTOCOL §5.6); when the server
        refuses that, 1h is registered per collected stock alongside 0B/0D instead."""
        ws = self.ws
        if ws is None or self.vi_per_stock:
            return
        ws.wait_ready(5.0)  # registered live, so a refusal reaches us (not only the log)
        try:
            ws.subscribe([""], (VI_TYPE,), owner=OWNER_HUB)
            return
        except Exception as exc:
            self._event("vi", f"VI for all stocks refused ({exc}); registering per stock")
        self.vi_per_stock = True
        for owner, codes in self._owned():
            if codes:
                with contextlib.suppress(Exception):
                    ws.subscribe(sorted(codes), (VI_TYPE,), owner=owner)

    def collected_codes(self) -> list[str]:
        """The stocks registered for trades now (without a socket: every owner's)."""
        ws = self.ws
        if ws is None:
            out: set[str] = set()
            for _owner, codes in self._owned():
                out |= set(codes)
            return sorted(out)
        return sorted({item for (typ, item) in ws.subscriptions() if typ == "0B" and item})

    def malformed(self) -> dict[str, int]:
        """Frames and items this socket's decoder dropped as malformed, by reason."""
        ws = self.ws
        return {} if ws is None else dict(ws.stats.malformed)
