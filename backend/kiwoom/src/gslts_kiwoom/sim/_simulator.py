"""``Simulator``: owns the market, the account, tokens, rate limits and fault switches."""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from gslts_kiwoom import krx
from gslts_kiwoom._apis import ORDER_API_IDS
from gslts_kiwoom.sim._accounts import Broker
from gslts_kiwoom.sim._config import SimConfig
from gslts_kiwoom.sim._events import Listener, MarketTrade
from gslts_kiwoom.sim._feed import WireFeed
from gslts_kiwoom.sim._market import Market
from gslts_kiwoom.sim._replay import Replayer
from gslts_kiwoom.sim._universe import Stock, load_universe
from gslts_kiwoom.sim._ws import SimWsConfig, SimWsHub, WsIdentity

log = logging.getLogger("gslts_kiwoom.sim")

#: Bounds of the run-time knobs (``set_rate``/``set_faults``, ``POST /_sim/rate|faults``).
MAX_TRADES_PER_S = 1_000_000.0
MAX_RATE_LIMIT_STORM_S = 3600.0
MAX_DELAY_MS = 60_000
MAX_REJECT_ORDERS = 1000
MAX_TIME_WARP = 10_000.0

#: ``before``: the order is applied after the delay; ``after``: applied at once, the
#: answer delayed (a client that times out has really placed it).
DelayPhase = Literal["before", "after"]


def _check_range(name: str, value: float, hi: float) -> None:
    """``ValueError`` unless ``value`` is a finite number in ``0..hi`` (NaN fails too)."""
    if isinstance(value, bool) or not math.isfinite(value) or not 0 <= value <= hi:
        raise ValueError(f"{name} must be a finite number in 0..{hi:g}")


@dataclass(slots=True)
class IssuedToken:
    token: str
    app_key: str
    expires_at: float  # wall clock (time.time())


@dataclass(slots=True)
class Faults:
    """Fault switches (``POST /_sim/faults``)."""

    #: every call answers 429 / [1700] until this wall time
    rate_limit_storm_until: float = 0.0
    #: extra latency added to every REST response
    delay_ms: int = 0
    #: extra latency of the order APIs' answers only (``order_delay_api_ids``)
    order_delay_ms: int = 0
    order_delay_phase: DelayPhase = "after"
    order_delay_api_ids: frozenset[str] = ORDER_API_IDS

    def order_delay_s(self, api_id: str, phase: DelayPhase) -> float:
        """Seconds to hold ``api_id``'s answer at ``phase`` (0 when not targeted)."""
        if not self.order_delay_ms or self.order_delay_phase != phase:
            return 0.0
        return self.order_delay_ms / 1000 if api_id in self.order_delay_api_ids else 0.0


class _Bucket:
    __slots__ = ("last", "tokens")

    def __init__(self, burst: int) -> None:
        self.tokens = float(burst)
        self.last = time.monotonic()


class Simulator:
    """The simulated Kiwoom back end, usable in-process (tests) or served over HTTP.

    All public methods are thread-safe (one re-entrant lock). Market time moves only
    through :meth:`step` — called by the background ticker (:meth:`start`) or by tests.
    """

    def __init__(self, config: SimConfig | None = None, universe: tuple[Stock, ...] | None = None):
        self.config = config or SimConfig()
        self.lock = threading.RLock()
        self.universe = universe or load_universe()
        start = self.config.start_time or datetime.now(krx.KST)
        self._wall_origin = time.monotonic()
        self._sim_origin = start.astimezone(krx.KST)
        #: simulated seconds per wall second now (``config.time_warp`` at start; 0 = the
        #: clock stands still: :meth:`set_time_warp`)
        self._warp = self.config.time_warp
        self.market = Market(self.config, self.universe, self._sim_origin)
        self.broker = Broker(self.config, self.market)
        self.faults = Faults()
        self._tokens: dict[str, IssuedToken] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        cfg = self.config
        #: market events → REAL entries (0B/0D/0J/0s/1h/00/04) for the WebSocket hub
        self.feed = WireFeed(self.market, cfg.account_no)
        self.market.add_listener(self.feed)
        #: the ``/api/dostk/websocket`` endpoint (``hub.endpoint``), LOGIN checked here
        self.ws_hub = SimWsHub(
            self,
            SimWsConfig(
                ping_interval_s=cfg.ws_ping_s,
                max_missed_pings=cfg.ws_max_missed_pings,
                login_timeout_s=cfg.ws_login_timeout_s,
                max_items_per_session=cfg.ws_max_items_per_session,
                single_session_per_app_key=cfg.ws_single_session,
                max_items_per_frame=cfg.ws_items_per_frame,
            ),
            feed=self.feed,
        )
        self.feed.hub = self.ws_hub
        self.replayer: Replayer | None = None
        if cfg.replay:
            self.replayer = Replayer(self.market, cfg.replay, cfg.replay_speed)

    # --- clock & driving --------------------------------------------------------------
    @property
    def now(self) -> datetime:
        """Current market time (KST); moves only through :meth:`step`."""
        return self.market.now

    def clock_time(self) -> datetime:
        """The time the ticker steps to: start time + elapsed wall time × time warp."""
        elapsed = (time.monotonic() - self._wall_origin) * self._warp
        return self._sim_origin + timedelta(seconds=elapsed)

    @property
    def time_warp(self) -> float:
        return self._warp

    def set_time_warp(self, warp: float) -> None:
        """Change how fast the simulated clock runs from now on (``POST /_sim/clock``);
        0 stops it where it is (a harness comparing a finished day stops it before the
        simulated midnight rolls the day). The market time never jumps or goes back.

        Raises:
            ValueError: ``warp`` is not a finite number in 0..10,000.
        """
        _check_range("time_warp", warp, MAX_TIME_WARP)
        with self.lock:
            self._sim_origin = self.clock_time()
            self._wall_origin = time.monotonic()
            self._warp = float(warp)

    def step(self, now: datetime | None = None) -> int:
        """Advance the market to ``now`` (default: :meth:`clock_time`); returns trades made."""
        with self.lock:
            self.feed.refresh()  # registrations made since the last step count now
            if self.replayer is not None:
                made = self.replayer.step(now or self.clock_time())
            else:
                made = self.market.step(now or self.clock_time(), self.market.active_codes())
            self.broker.settle(self.market.now)
            self.feed.flush()
            return made

    def flush(self) -> int:
        """Hand pending WebSocket entries to the hub (after REST calls that changed the
        market, e.g. an order); :meth:`step` does it by itself."""
        with self.lock:
            self.market.flush_books()
            return self.feed.flush()

    def set_rate(self, trades_per_s: float) -> None:
        """Change the market-wide trade rate at run time (``POST /_sim/rate``).

        Raises:
            ValueError: ``trades_per_s`` is not a finite number in 0..1,000,000 (a NaN
                rate would stop the market loop).
        """
        _check_range("trades_per_s", trades_per_s, MAX_TRADES_PER_S)
        with self.lock:
            self.market.trades_per_s = float(trades_per_s)

    def validate_token(self, token: str) -> WsIdentity | None:
        """WebSocket LOGIN: the identity of a live au10001 token (``TokenValidator``)."""
        with self.lock:
            t = self._tokens.get(token)
            if t is None or t.expires_at <= time.time():
                return None
            return WsIdentity(app_key=t.app_key, account=self.config.account_no)

    def start(self) -> None:
        """Start the background ticker thread (steps every ``tick_interval_s``)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the ticker thread (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.config.tick_interval_s):
            try:
                self.step()
            except Exception:  # a bug in one step must not stop the market for good
                log.exception("sim_step_failed")

    # --- events -----------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Receive every MarketTrade, BookUpdate, OrderUpdate and HoldingUpdate (synchronously)."""
        with self.lock:
            self.market.add_listener(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self.lock:
            self.market.remove_listener(listener)

    def trades(self, code: str) -> list[MarketTrade]:
        """Ground truth: the kept trades of ``code`` today, oldest first."""
        with self.lock:
            return list(self.market.state(code).trades)

    # --- tokens -----------------------------------------------------------------------
    def check_keys(self, app_key: str, secret_key: str) -> str | None:
        """None when the pair is acceptable, else the detail code ("8001"/"8002")."""
        cfg = self.config
        if cfg.app_key is not None and app_key != cfg.app_key.get_secret_value():
            return "8001"
        if cfg.secret_key is not None and secret_key != cfg.secret_key.get_secret_value():
            return "8002"
        return None

    def issue_token(self, app_key: str) -> IssuedToken:
        """au10001: the valid token of ``app_key`` or a new one."""
        with self.lock:
            now = time.time()
            current = [t for t in self._tokens.values() if t.app_key == app_key]
            valid = [t for t in current if t.expires_at > now]
            if valid and not self.config.token_reissue_invalidates_old:
                return valid[0]
            for t in current:
                del self._tokens[t.token]
            tok = IssuedToken(secrets.token_urlsafe(48), app_key, now + self.config.token_ttl_s)
            self._tokens[tok.token] = tok
            return tok

    def token_valid(self, token: str) -> bool:
        with self.lock:
            t = self._tokens.get(token)
            return t is not None and t.expires_at > time.time()

    def revoke_token(self, token: str) -> bool:
        with self.lock:
            return self._tokens.pop(token, None) is not None

    def expire_tokens(self) -> int:
        """Fault: every issued token becomes invalid now (next call gets 8005)."""
        with self.lock:
            n = len(self._tokens)
            self._tokens.clear()
            return n

    # --- rate limit & faults ------------------------------------------------------------
    def allow(self, api_id: str) -> bool:
        """Per-api-id token bucket; False means answer 429 / [1700]."""
        if time.time() < self.faults.rate_limit_storm_until:
            return False
        with self.lock:
            bucket = self._buckets.setdefault(api_id, _Bucket(self.config.rate_burst))
            now = time.monotonic()
            rate = self.config.rate_for(api_id)
            bucket.tokens = min(
                float(self.config.rate_burst), bucket.tokens + (now - bucket.last) * rate
            )
            bucket.last = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True
            return False

    def set_faults(
        self,
        *,
        expire_tokens: bool = False,
        rate_limit_storm_s: float | None = None,
        delay_ms: int | None = None,
        order_delay_ms: int | None = None,
        order_delay_phase: DelayPhase | None = None,
        order_delay_api_ids: frozenset[str] | None = None,
        reject_orders: int | None = None,
    ) -> None:
        """Switch faults on/off (also ``POST /_sim/faults``); None leaves one as it is.

        Args:
            delay_ms: latency of every REST answer, before it is handled.
            order_delay_ms: latency of the order APIs' answers only (kt10000–kt10003, or
                ``order_delay_api_ids``); ``order_delay_phase`` ``after`` (the default)
                applies the order at once and holds the answer, ``before`` holds the
                request and applies it after the delay.
            reject_orders: the next N new orders (kt10000/kt10001) are accepted (an order
                number, 00 접수), then refused by the exchange (00 거부, 919 the reason).

        Raises:
            ValueError: ``rate_limit_storm_s`` not finite in 0..3600, ``delay_ms`` or
                ``order_delay_ms`` not an int in 0..60,000, ``reject_orders`` not an int
                in 0..1000, a phase other than before/after, or an api-id that is not an
                order API; nothing is changed then.
        """
        if rate_limit_storm_s is not None:
            _check_range("rate_limit_storm_s", rate_limit_storm_s, MAX_RATE_LIMIT_STORM_S)
        for name, value, hi in (
            ("delay_ms", delay_ms, MAX_DELAY_MS),
            ("order_delay_ms", order_delay_ms, MAX_DELAY_MS),
            ("reject_orders", reject_orders, MAX_REJECT_ORDERS),
        ):
            if value is not None:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError(f"{name} must be an integer")
                _check_range(name, value, hi)
        if order_delay_phase is not None and order_delay_phase not in ("before", "after"):
            raise ValueError("order_delay_phase must be before or after")
        if order_delay_api_ids is not None and not (
            order_delay_api_ids and order_delay_api_ids <= ORDER_API_IDS
        ):
            raise ValueError(f"order_delay_api_ids must be some of {sorted(ORDER_API_IDS)}")
        if order_delay_ms is not None:
            self.faults.order_delay_ms = order_delay_ms
        if order_delay_phase is not None:
            self.faults.order_delay_phase = order_delay_phase
        if order_delay_api_ids is not None:
            self.faults.order_delay_api_ids = frozenset(order_delay_api_ids)
        if reject_orders is not None:
            with self.lock:
                self.broker.refuse_next = reject_orders
        if expire_tokens:
            self.expire_tokens()
        if rate_limit_storm_s is not None:
            self.faults.rate_limit_storm_until = time.time() + rate_limit_storm_s
        if delay_ms is not None:
            self.faults.delay_ms = delay_ms

    def state(self) -> dict[str, Any]:
        """A JSON-able summary (``GET /_sim/state``); never contains a token or key."""
        with self.lock:
            acct = self.broker.account
            storm = max(0.0, self.faults.rate_limit_storm_until - time.time())
            return {
                "clock": self.config.clock,
                "time_warp": self._warp,
                "now": self.now.isoformat(),
                "universe": len(self.universe),
                "touched_stocks": len(self.market.touched()),
                "tokens": len(self._tokens),
                "faults": {
                    "rate_limit_storm_s": round(storm, 3),
                    "delay_ms": self.faults.delay_ms,
                    "order_delay_ms": self.faults.order_delay_ms,
                    "order_delay_phase": self.faults.order_delay_phase,
                    "order_delay_api_ids": sorted(self.faults.order_delay_api_ids),
                    "reject_orders": self.broker.refuse_next,
                },
                "trades_per_s": self.market.trades_per_s,
                "phase_code": self.market.phase_code,
                "ground_truth": {
                    "trades": len(self.market.ground_truth),
                    "cap": self.market.ground_truth.cap,
                    "dropped": self.market.ground_truth.dropped,
                },
                "ws": {
                    "sessions": len(self.ws_hub.sessions()),
                    "entries": self.feed.entries,
                    "stats": dict(self.ws_hub.stats),
                },
                "replay": self.replayer.state() if self.replayer is not None else None,
                "account": {
                    "account_no": acct.account_no,
                    "cash": acct.cash,
                    "orderable_cash": acct.orderable_cash,
                    "holdings": {c: h.qty for c, h in acct.holdings.items() if h.qty},
                    "orders": len(acct.orders),
                    "open_orders": sum(1 for o in acct.orders.values() if o.open_qty > 0),
                },
            }
