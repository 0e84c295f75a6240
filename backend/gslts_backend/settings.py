"""Main server (backend) settings: the shared :class:`Settings` plus the backend's own.

Every field here is documented in ``.env.example`` (``tests/unit/backend/test_settings.py``
checks every settings class of every service against it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from gslts_common.settings import Settings

#: Host names always accepted (the API binds to loopback by default)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
#: BACKEND_HOST values that mean "every interface" (not a name a client sends)
WILDCARD_BIND = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104


class BackendSettings(Settings):
    """Settings of ``python -m gslts_backend`` / ``gslts backend``."""

    backend_host: str = "127.0.0.1"
    backend_port: int = 8000
    #: the tick hub: without REDIS_URL the backend follows the hub's bus stream there
    #: (``<HUB_URL>/bus/stream``); ``gslts run`` sets it to the hub it starts
    hub_url: str = "http://127.0.0.1:8001"
    #: with REDIS_URL: the hub's channel/key prefix (the same setting as the hub's)
    hub_bus_prefix: str = "gslts:"

    # --- account (GET /api/account) and the browser stream (/ws): docs/backend.md
    #: seconds a fetched kt00018/kt00001 answer serves GET /api/account before it is asked
    #: again (04 balance and 00 fill events refresh it sooner)
    account_cache_ttl_s: float = Field(default=5.0, ge=0)
    #: browser WebSocket connections served at once (more: closed 1013 "too many connections")
    ws_max_connections: int = Field(default=200, ge=1)
    #: stocks one browser connection may subscribe to
    ws_max_codes: int = Field(default=20, ge=1)
    #: trades waiting to be sent to one browser; past it the browser is dropped (4008
    #: "slow consumer") so it never holds back the bus or the other browsers
    ws_max_pending_trades: int = Field(default=20_000, ge=1)
    #: other messages (order, balance, snapshots, errors) waiting for one browser, likewise
    ws_max_pending_messages: int = Field(default=1_000, ge=1)
    #: the lease asked at the hub (PUT HUB_URL/api/interest) for a stock a browser watches
    #: that the hub does not collect; renewed every third of it while any browser watches
    ws_interest_ttl_s: int = Field(default=60, ge=3)
    #: the asker name of those leases (several backends on one hub: give each its own)
    ws_interest_asker: str = Field(default="backend", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

    # --- orders (POST/PATCH/DELETE /api/orders): docs/backend.md "Orders"
    #: the largest quantity one order may carry (a fat-finger guard)
    order_max_quantity: int = Field(default=100_000, ge=1)
    #: the buy commission rate counted when checking orderable cash (0.00015 = 0.015 %)
    order_fee_rate: float = Field(default=0.00015, ge=0, le=0.01)
    #: which session rules an order type is checked against: ``krx`` the KRX calendar and
    #: hours (NXT hours for NXT), ``always`` a continuous session at any hour (the
    #: simulator's default clock), ``auto`` = ``always`` in KIWOOM_MODE=sim, else ``krx``
    order_session_rules: Literal["auto", "krx", "always"] = "auto"
    #: an order whose broker call timed out (state ``unknown``) and that ka10075/ka10076 do
    #: not show this many seconds after the call is taken as never placed (``rejected``);
    #: until then it is never sent again
    order_unknown_settle_s: float = Field(default=30.0, ge=1)

    # --- sector link (/api/sectors/...): docs/sectors-data.md
    #: compute and store the coming KRX session's recommendations every morning (after
    #: the US close, before 08:30 KST); off unless set (the shipped .env.example sets it)
    sectors_schedule: bool = False
    #: how often the morning job looks whether a list is due, in seconds
    sectors_schedule_interval_s: float = Field(default=300.0, ge=1)
    #: in KIWOOM_MODE=sim, the morning job first fetches the simulator's US feed and the
    #: linked stocks' ka10081 bars (the whole history on an empty database)
    sectors_sim_fetch: bool = False

    # --- auth, sessions and security (docs/backend.md "Auth and sessions")
    #: the first admin, created at start-up when no active admin exists; the password must
    #: be a real one (12+ characters, no placeholder) unless KIWOOM_MODE=sim, where an empty
    #: or weak one is replaced by a generated one-time password (logged once, and written to
    #: DATA_DIR/admin-password.txt with mode 0600)
    gslts_admin_user: str = Field(default="admin", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    gslts_admin_password: SecretStr | None = None
    #: the browser session cookie (HttpOnly, SameSite=Strict) and its CSRF companion (read
    #: by the page and sent back as X-CSRF-Token on POST/PUT/PATCH/DELETE)
    session_cookie_name: str = "gslts_session"
    csrf_cookie_name: str = "gslts_csrf"
    #: mark both cookies Secure (only sent over HTTPS): set it behind a TLS proxy
    session_cookie_secure: bool = False
    #: lifetime of a browser (cookie) session and of an API bearer token, in seconds
    session_cookie_ttl_s: int = Field(default=12 * 3600, ge=60)
    session_bearer_ttl_s: int = Field(default=3600, ge=60)
    #: failed logins per username and per client address within the window before 429
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: float = Field(default=300.0, gt=0)
    #: order routes per user: a token bucket of this rate (per second) and burst
    order_rate_per_s: float = Field(default=5.0, gt=0)
    order_rate_burst: int = Field(default=10, ge=1)
    #: extra Host names the API answers besides loopback and BACKEND_HOST (comma-separated;
    #: ``*`` = any): a guard against DNS rebinding
    backend_allowed_hosts: str = ""
    #: origins allowed by CORS (comma-separated); empty = CORS closed (same-origin only)
    backend_cors_origins: str = ""
    #: origins a browser WebSocket (/ws) may come from, besides the backend's own origin
    backend_ws_origins: str = "http://127.0.0.1:3000,http://localhost:3000"
    #: request bodies over this many bytes get 413
    backend_max_body_bytes: int = Field(default=1_048_576, ge=1024)

    def allowed_hosts(self) -> frozenset[str]:
        """Every ``Host`` name the API accepts (see ``backend_allowed_hosts``)."""
        extra = {h.strip() for h in self.backend_allowed_hosts.split(",") if h.strip()}
        own = set() if self.backend_host.strip() in WILDCARD_BIND else {self.backend_host.strip()}
        return frozenset(LOOPBACK_HOSTS | own | extra)

    def cors_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.backend_cors_origins.split(",") if o.strip()]

    def ws_origins(self) -> frozenset[str]:
        """Origins (``scheme://host:port``, lower case) /ws accepts besides its own."""
        return frozenset(
            o.strip().rstrip("/").lower() for o in self.backend_ws_origins.split(",") if o.strip()
        )
