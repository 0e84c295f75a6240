"""What the backend's routes share, built once per app by the lifespan of
:func:`gslts_backend.app.create_app` and reached through :func:`gslts_backend.deps.services`.

One database engine (the same schema as the hub's, migrated at start-up), one Kiwoom REST
client (built on first use: a token is only asked for when a route needs Kiwoom), and the
hub's live data over the bus. Routes never build their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gslts_backend.events import BackendEvents
from gslts_backend.live import LiveData
from gslts_backend.settings import BackendSettings
from gslts_kiwoom import KiwoomClient


@dataclass
class Services:
    settings: BackendSettings
    engine: Engine
    sessions: sessionmaker[Session]
    live: LiveData
    #: builds the Kiwoom client (tests may pass another factory)
    kiwoom_factory: Callable[[BackendSettings], KiwoomClient]
    #: order and balance changes for the browser stream
    events: BackendEvents = field(default_factory=BackendEvents)
    _kiwoom: KiwoomClient | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def kiwoom(self) -> KiwoomClient:
        """The one Kiwoom REST client of this process (built on first use)."""
        with self._lock:
            if self._kiwoom is None:
                self._kiwoom = self.kiwoom_factory(self.settings)
            return self._kiwoom

    def close(self) -> None:
        with self._lock:
            client, self._kiwoom = self._kiwoom, None
        if client is not None:
            client.close()
        self.engine.dispose()
