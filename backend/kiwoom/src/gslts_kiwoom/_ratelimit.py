"""Client-side rate limiting: one token bucket per api-id.

Kiwoom limits requests per api-id ([1700]), in total ([1701]) and per group ([1702]) and
publishes no numbers (PROTOCOL.md §3.6), so the rate and burst come from
``KiwoomConfig.rate_per_s`` / ``rate_burst``. Waiting here is cheaper than a 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class TokenBucket:
    """A token bucket: ``burst`` tokens, refilled at ``rate`` per second.

    :meth:`reserve` takes a token and returns how long the caller must wait before using
    it; the reservation is made under a lock so concurrent callers queue fairly and the
    sleep happens outside it.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; seconds to wait before it may be used (0 when available)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            # Negative balance = callers queued ahead; each waits for its own refill.
            return -self._tokens / self.rate


class RateLimiter:
    """Per-key (api-id) token buckets sharing one rate/burst setting. Thread-safe.

    Args:
        rate: sustained requests per second per api-id.
        burst: requests allowed back to back.
        clock: monotonic seconds (injectable for tests).
        sleep: how to wait (injectable for tests).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, key: str) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
            return bucket

    def acquire(self, key: str) -> float:
        """Block until a request for ``key`` may be sent; returns the seconds waited."""
        wait = self._bucket(key).reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


class Limiter(Protocol):
    """What :class:`~gslts_kiwoom.KiwoomClient` needs from a rate limiter."""

    def acquire(self, key: str) -> float:
        """Block until a request for ``key`` may be sent; returns the seconds waited."""
        ...


# The same reservation arithmetic as TokenBucket.reserve, done atomically inside Redis with
# Redis's own clock, so every process using one app key draws from one bucket per api-id.
# Floats are returned as strings: Redis truncates Lua numbers to integers in replies.
_RESERVE_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(v[1]) or burst
local updated = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 60)
if tokens >= 0 then return '0' end
return tostring(-tokens / rate)
"""


class RedisRateLimiter:
    """Per-api-id token buckets kept in Redis, shared by every process using one app key.

    Kiwoom counts requests per app key, so the sub-server, the backend and the CLI must
    share one budget; an in-process :class:`RateLimiter` per process would let them
    together exceed it and collect 429s.

    Args:
        redis: a ``redis.Redis`` client (the library never reads ``REDIS_URL`` itself).
        rate: sustained requests per second per api-id.
        burst: requests allowed back to back.
        namespace: identifies the app key without revealing it (e.g.
            :func:`~gslts_kiwoom.token_cache_key`); buckets of different keys never mix.
        sleep: how to wait (injectable for tests).
    """

    def __init__(
        self,
        redis: Any,
        rate: float,
        burst: int,
        *,
        namespace: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._redis = redis
        self._prefix = f"gslts:ratelimit:{namespace}:"
        self._sleep = sleep
        self._script = redis.register_script(_RESERVE_LUA)

    def acquire(self, key: str) -> float:
        """Block until a request for ``key`` may be sent; returns the seconds waited."""
        reply = self._script(keys=[self._prefix + key], args=[self.rate, self.burst])
        wait = float(reply.decode() if isinstance(reply, bytes) else reply)
        if wait > 0:
            self._sleep(wait)
        return wait
