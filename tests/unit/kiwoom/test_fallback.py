"""Shared token cache and rate limiter with a local fallback: a dead Redis costs one try
per interval, the local side carries on, and the shared side is used again when it answers."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from gslts_kiwoom import (
    FallbackRateLimiter,
    FallbackTokenCache,
    MemoryTokenCache,
    RateLimiter,
    Token,
)
from gslts_kiwoom.realtime import KST


class Flaky(MemoryTokenCache):
    """A shared cache that raises (like a Redis ConnectionError) while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    def get(self, key: str) -> Token | None:
        self._check()
        return super().get(key)

    def set(self, key: str, token: Token) -> None:
        self._check()
        super().set(key, token)

    def delete(self, key: str) -> None:
        self._check()
        super().delete(key)


def _token(v: str) -> Token:
    return Token(v, datetime(2030, 1, 1, tzinfo=KST) + timedelta(hours=1))


def test_token_cache_falls_back_then_returns_to_the_shared_side(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    shared, local = Flaky(), MemoryTokenCache()
    cache = FallbackTokenCache(shared, local, retry_s=5.0, clock=lambda: now[0])
    cache.set("k", _token("one"))
    assert shared.get("k") == local.get("k") == _token("one")
    shared.down = True
    with caplog.at_level(logging.WARNING):
        assert cache.get("k") == _token("one")  # from the local copy
        cache.set("k", _token("two"))
        for _ in range(50):
            assert cache.get("k") == _token("two")
    assert not cache.ok
    assert "Connection refused" in (cache.last_error or "")
    calls_before_outage = 2  # the set above and the direct check
    assert shared.calls == calls_before_outage + 1  # one failed try, none until retry_s
    assert sum("shared_state_unavailable" in r.message for r in caplog.records) == 1
    shared.down = False
    now[0] += 5.0
    # Redis came back empty (restarted): it gets this process's token again
    shared._tokens.clear()
    assert cache.get("k") == _token("two")
    assert cache.ok
    assert shared.get("k") == _token("two")


def test_rate_limiter_uses_its_local_share_while_the_shared_one_fails() -> None:
    class Dead:
        calls = 0

        def acquire(self, key: str) -> float:
            Dead.calls += 1
            raise TimeoutError("Timeout reading from socket")

    waits: list[float] = []
    local = RateLimiter(2.0, 1, clock=lambda: 0.0, sleep=waits.append)
    limiter = FallbackRateLimiter(Dead(), local, retry_s=60.0, clock=lambda: 0.0)
    for _ in range(3):
        limiter.acquire("ka10001")
    assert Dead.calls == 1
    assert not limiter.ok
    assert waits == [0.5, 1.0]  # the local bucket paces the calls
