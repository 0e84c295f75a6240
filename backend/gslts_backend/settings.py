"""Main server (backend) settings: the shared :class:`Settings` plus the backend's own.

Every field here is documented in ``.env.example`` (``tests/unit/backend/test_settings.py``
checks every settings class of every service against it).
"""

from __future__ import annotations

from pydantic import Field

from gslts_common.settings import Settings


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
