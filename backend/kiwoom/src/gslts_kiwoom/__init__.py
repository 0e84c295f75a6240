"""gslts_kiwoom — the one shared Kiwoom Securities library of GSLTS.

REST client, WebSocket client, wire models, KRX market rules and a protocol-faithful
simulator (``gslts_kiwoom.sim``). The public API is what ``__all__`` lists; modules whose
names start with ``_`` are private.
"""

from gslts_kiwoom._config import DEFAULT_REST_URLS, DEFAULT_WS_URLS, KiwoomConfig, KiwoomMode

__all__ = [
    "DEFAULT_REST_URLS",
    "DEFAULT_WS_URLS",
    "KiwoomConfig",
    "KiwoomMode",
]
