"""The backend's own in-process events: what the browser stream (``/ws``) pushes besides
the hub's market data — order state transitions and balance changes, each for one user.

Producers (the order service, the account service) call :meth:`BackendEvents.publish`
after the change is committed; the browser stream subscribes. Subscribers run on the
publisher's thread and must be quick (hand the event to a queue); one that raises is
logged and kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

log = logging.getLogger(__name__)

Kind = Literal["order", "balance"]
#: (kind, user_id the event belongs to (None = every user), payload)
Subscriber = Callable[[Kind, int | None, dict[str, Any]], None]


class BackendEvents:
    def __init__(self) -> None:
        self._subs: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn`` for every event from now on; returns the unsubscribe function."""
        with self._lock:
            self._subs.append(fn)

        def remove() -> None:
            with self._lock:
                if fn in self._subs:
                    self._subs.remove(fn)

        return remove

    def publish(self, kind: Kind, user_id: int | None, payload: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for fn in subs:
            try:
                fn(kind, user_id, payload)
            except Exception:
                log.exception("backend_event_subscriber_failed kind=%s", kind)
