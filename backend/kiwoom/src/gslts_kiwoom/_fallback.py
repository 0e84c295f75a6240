"""Shared state that may go away: a token cache and a rate limiter with a local fallback.

Redis holds the token and the per-api-id request budget that several processes share,
but it is a cache, never the source of truth: when it cannot be reached, a client must go
on with a local token cache and a local limiter rather than stop. The wrappers here try
the shared implementation and, on any error from it, use the local one; after a failure
the shared one is tried again at most every ``retry_s`` (so a dead Redis costs one
connection attempt per interval, not one per call). :attr:`ok` and :attr:`last_error`
say whether the shared state is in use; each change is logged once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from gslts_kiwoom._ratelimit import Limiter
from gslts_kiwoom._token import Token, TokenCache

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Degradable:
    """Runs calls on the shared side while it works, else on the local side."""

    def __init__(self, what: str, retry_s: float, clock: Callable[[], float]) -> None:
        self._what = what
        self._retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until = 0.0
        self.ok = True
        self.last_error: str | None = None
        self.failures = 0

    def run(self, shared: Callable[[], T], local: Callable[[], T]) -> T:
        if not self.ok and self._clock() < self._down_until:
            return local()
        try:
            result = shared()
        except Exception as exc:  # any failure of the shared store: never the caller's
            self._failed(exc)
            return local()
        if not self.ok:
            with self._lock:
                self.ok = True
            log.info("shared_state_recovered what=%s", self._what)
        return result

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            self._down_until = self._clock() + self._retry_s
            was_ok, self.ok = self.ok, False
        if was_ok:
            log.warning(
                "shared_state_unavailable what=%s error=%s; using the local fallback",
                self._what,
                self.last_error,
            )


class FallbackTokenCache(_Degradable):
    """A shared token cache (e.g. :class:`~gslts_kiwoom.RedisTokenCache`) in front of a
    local one (e.g. :class:`~gslts_kiwoom.FileTokenCache`).

    Every token is also kept locally, so the process keeps its token while the shared
    cache is away, and puts it back when the shared cache returns.

    Args:
        shared: the cache other processes see.
        local: this machine's cache, used while ``shared`` fails.
        retry_s: after a failure, try ``shared`` again at most this often.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        shared: TokenCache,
        local: TokenCache,
        *,
        retry_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__("token_cache", retry_s, clock)
        self.shared = shared
        self.local = local

    def get(self, key: str) -> Token | None:
        """The shared token (or the local one while the shared cache is away)."""

        def shared() -> Token | None:
            tok = self.shared.get(key)
            if tok is None:  # e.g. Redis restarted empty: offer what this process holds
                tok = self.local.get(key)
                if tok is not None:
                    self.shared.set(key, tok)
            return tok

        return self.run(shared, lambda: self.local.get(key))

    def set(self, key: str, token: Token) -> None:
        self.local.set(key, token)
        self.run(lambda: self.shared.set(key, token), lambda: None)

    def delete(self, key: str) -> None:
        self.local.delete(key)
        self.run(lambda: self.shared.delete(key), lambda: None)


class FallbackRateLimiter(_Degradable):
    """A shared limiter (e.g. :class:`~gslts_kiwoom.RedisRateLimiter`) in front of a local
    :class:`~gslts_kiwoom.RateLimiter`, used while the shared one fails.

    Args:
        shared: the budget other processes draw from.
        local: this process's own limiter (give it this process's share of the budget).
        retry_s: after a failure, try ``shared`` again at most this often.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        shared: Limiter,
        local: Limiter,
        *,
        retry_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__("rate_limiter", retry_s, clock)
        self.shared = shared
        self.local = local

    def acquire(self, key: str) -> float:
        """Block until a request for ``key`` may be sent; returns the seconds waited."""
        return self.run(lambda: self.shared.acquire(key), lambda: self.local.acquire(key))
