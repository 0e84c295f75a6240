"""The one way services build their Kiwoom REST client from settings.

With ``REDIS_URL`` set, the token cache and the per-api-id rate limiter live in Redis, so
the sub-server, the backend and ``gslts kiwoom`` share one token and one request budget per
app key (Kiwoom counts both per key). Redis is a cache, never a requirement: while it
cannot be reached the client falls back to ``DATA_DIR/tokens`` and its own limiter
(:class:`~gslts_kiwoom.FallbackTokenCache`, :class:`~gslts_kiwoom.FallbackRateLimiter`)
and goes back to Redis when it answers. Without Redis, tokens are cached in
``DATA_DIR/tokens`` (shared by processes on this box) and each process keeps to its share
of the key's request budget (``KIWOOM_RATE_SHARE``, half each for the hub and the backend).
"""

from __future__ import annotations

from gslts_common.settings import Settings
from gslts_kiwoom import (
    FallbackRateLimiter,
    FallbackTokenCache,
    FileTokenCache,
    KiwoomClient,
    RateLimiter,
    RedisRateLimiter,
    RedisTokenCache,
    token_cache_key,
)

REDIS_TIMEOUT_S = 2.0


def local_limiter(settings: Settings) -> RateLimiter:
    """This process's own share of the per-app-key budget (``KIWOOM_RATE_SHARE``): used
    without Redis, and while Redis is away. The hub and the backend take half each by
    default, so together they never exceed what Kiwoom allows one key."""
    share = settings.kiwoom_rate_share
    rate = settings.kiwoom_rate_per_s * share
    burst = max(1, int(settings.kiwoom_rate_burst * share))
    return RateLimiter(rate, burst)


def make_kiwoom_client(settings: Settings) -> KiwoomClient:
    """A :class:`KiwoomClient` for the configured mode (see the module docstring).

    Raises:
        ValueError: the mode needs keys that are not configured.
    """
    config = settings.kiwoom_config()
    local = local_limiter(settings)
    if not settings.redis_url:
        return KiwoomClient(
            config, token_cache=FileTokenCache(settings.data_dir / "tokens"), rate_limiter=local
        )
    import redis

    # short timeouts: a Redis that hangs must cost a call seconds, not forever
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )
    namespace = token_cache_key(config.mode, config.rest_url, config.app_key.get_secret_value())
    return KiwoomClient(
        config,
        token_cache=FallbackTokenCache(
            RedisTokenCache(client), FileTokenCache(settings.data_dir / "tokens")
        ),
        rate_limiter=FallbackRateLimiter(
            RedisRateLimiter(client, config.rate_per_s, config.rate_burst, namespace=namespace),
            local,
        ),
        on_close=client.close,  # the Redis connection pool lives as long as the client
    )
