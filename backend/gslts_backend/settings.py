"""Main server (backend) settings: the shared :class:`Settings` plus the backend's own.

Every field here is documented in ``.env.example`` (``tests/unit/backend/test_settings.py``
checks every settings class of every service against it).
"""

from __future__ import annotations

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
