"""RedisTokenCache against a real Redis: shared across clients, TTL = time to expiry."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
import redis

from gslts_kiwoom import RedisTokenCache, Token, token_cache_key
from gslts_kiwoom._token import KST

pytestmark = pytest.mark.integration


def test_redis_token_cache_roundtrip(redis_server_url: str) -> None:
    client = redis.Redis.from_url(redis_server_url)
    prefix = f"test:{uuid.uuid4().hex}:"
    cache = RedisTokenCache(client, prefix=prefix)
    other = RedisTokenCache(redis.Redis.from_url(redis_server_url), prefix=prefix)
    key = token_cache_key("sim", "http://127.0.0.1:8002", "PSredisAppKey0001")
    try:
        expires = datetime.now(KST) + timedelta(minutes=10)
        cache.set(key, Token("REDISINTEGRATIONTOKEN", expires))
        got = other.get(key)  # another client (process) sees it
        assert got is not None
        assert got.value == "REDISINTEGRATIONTOKEN"
        assert got.expires_at == expires
        (stored,) = client.keys(prefix + "*")
        assert b"PSredisAppKey0001" not in stored
        assert 590 <= int(client.ttl(stored)) <= 600
        other.delete(key)
        assert cache.get(key) is None
    finally:
        for k in client.keys(prefix + "*"):
            client.delete(k)
