"""Sub-server (tick hub) settings: the shared :class:`Settings` plus the hub's own knobs.

Every field here is documented in ``.env.example`` (``tests/unit/backend/test_settings.py``
checks every settings class of every service against it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from gslts_common.settings import Settings

#: always accepted as ``Host`` (a rebinding attacker's page cannot send these)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
#: HUB_HOST values that are bind-all addresses, not names a client sends
WILDCARD_BIND = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104


class HubSettings(Settings):
    """Settings of ``gslts sub-server``."""

    hub_host: str = "127.0.0.1"
    hub_port: int = 8001
    #: comma-separated ``Host`` names the API answers besides the loopback names
    #: (:data:`LOOPBACK_HOSTS`) and HUB_HOST; ``*`` = any (only behind a proxy that checks
    #: Host itself). A request with another Host gets 400: the DNS-rebinding guard.
    hub_allowed_hosts: str = ""
    #: request bodies over this many bytes get 413 (checked while they stream in)
    hub_max_body_bytes: int = Field(default=64 * 1024, ge=0)
    #: auto = follow the KRX calendar and hours; always = collect around the clock.
    #: Empty: ``always`` in sim mode with SIM_CLOCK=always, else ``auto``.
    hub_schedule: Literal["auto", "always"] | None = None
    #: the writer commits at least this often (seconds) …
    hub_flush_interval_s: float = 0.5
    #: … or as soon as this many ticks are waiting.
    hub_flush_max_rows: int = 10_000
    #: the journal → database writer: ``auto`` = its own process on MySQL/MariaDB (so it
    #: does not share the socket thread's GIL), a thread on SQLite; or ``on`` / ``off``
    hub_writer_process: Literal["auto", "on", "off"] = "auto"
    #: journal directory; empty = DATA_DIR/journal
    hub_journal_dir: Path | None = None
    hub_journal_fsync_s: float = 1.0
    #: while the journal cannot be written (disk full, I/O error) received batches are kept
    #: in memory up to this many MB and journaled when it works again; past it collection
    #: is suspended (loudly: health 503) and the gap is backfilled from ka10079 afterwards
    hub_journal_spool_mb: float = 256.0
    #: health reports the writer stalled when the journal backlog has not moved for this
    #: long while the database is up
    hub_writer_stall_s: float = 60.0
    #: top-N by trading value (ka10032) and the rank a stock must fall below to leave
    hub_universe_size: int = 50
    hub_universe_exit_rank: int = 60
    hub_universe_exit_refreshes: int = 2
    hub_universe_refresh_s: float = 300.0
    #: keep at most one order book per stock per this many seconds
    hub_book_sample_s: float = 1.0
    #: publish at most one order book per stock per this many seconds on the bus (the
    #: latest one: a book is a snapshot); 0 = every book
    hub_book_publish_s: float = 0.1
    #: a stock in a continuous session with no tick for this long is "stale"
    hub_stale_after_s: float = 60.0
    #: WebSocket: reconnect when no frame at all arrives for this long
    hub_ws_watchdog_s: float = 30.0
    hub_ws_max_items_per_group: int = 100
    hub_ws_max_groups: int = 20
    #: the interest API (``/api/interest``, :mod:`gslts_hub.interest`): stocks another
    #: service asks the hub to collect, as leases with a TTL the asker renews. At most
    #: this many stocks collected on interest alone (a stock in the top 50 or on the
    #: watchlist is not counted) …
    hub_interest_max_codes: int = Field(default=20, ge=0)
    #: … at most this many leases per asker …
    hub_interest_max_per_asker: int = Field(default=20, ge=1)
    #: … and no lease longer than this (seconds; renew before it runs out)
    hub_interest_max_ttl_s: int = Field(default=300, ge=1)
    #: gap backfill from ka10079 after every reconnect
    hub_backfill: bool = True
    #: a stock with no live tick this long after a reconnect/restart has its gap filled by
    #: walking forward from its last stored trade (ka10079); 0 = only on its next live tick
    hub_backfill_forward_after_s: float = 30.0
    #: a hole in a stock's live stream (a KRX trade whose cumulative volume minus its own
    #: quantity is past the previous trade's: the trades between never came, e.g. dropped
    #: upstream under load) is a gap, filled from ka10079 like a reconnect's
    hub_stream_gap_check: bool = True
    #: Redis channel/key prefix of the bus (``<prefix>tick:<code>``, ``<prefix>quote:<code>``)
    hub_bus_prefix: str = "gslts:"

    def allowed_hosts(self) -> frozenset[str]:
        """Every ``Host`` name the API accepts (see ``hub_allowed_hosts``)."""
        extra = {h.strip() for h in self.hub_allowed_hosts.split(",") if h.strip()}
        own = set() if self.hub_host.strip() in WILDCARD_BIND else {self.hub_host.strip()}
        return frozenset(LOOPBACK_HOSTS | own | extra)

    def journal_dir(self) -> Path:
        """Where the tick journal lives."""
        return self.hub_journal_dir or (self.data_dir / "journal")

    def schedule_mode(self) -> Literal["auto", "always"]:
        """``always`` or ``auto`` (resolving the empty default from the mode and sim clock)."""
        if self.hub_schedule is not None:
            return self.hub_schedule
        if self.kiwoom_mode == "sim" and self.sim_clock == "always":
            return "always"
        return "auto"
