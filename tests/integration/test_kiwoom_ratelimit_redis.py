"""The Redis rate limiter: processes sharing one app key share one budget per api-id."""

from __future__ import annotations

import uuid

import pytest
import redis

from gslts_kiwoom import RedisRateLimiter

pytestmark = pytest.mark.integration


@pytest.fixture
def rds(redis_server_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_server_url)


def test_two_limiters_share_one_bucket(rds: redis.Redis) -> None:
    """Two processes' limiters (same namespace) together get burst, then the sustained rate."""
    ns = uuid.uuid4().hex
    waits_a: list[float] = []
    waits_b: list[float] = []
    a = RedisRateLimiter(rds, 2.0, 2, namespace=ns, sleep=waits_a.append)
    b = RedisRateLimiter(rds, 2.0, 2, namespace=ns, sleep=waits_b.append)
    assert a.acquire("ka10001") == 0.0
    assert b.acquire("ka10001") == 0.0  # burst of 2 used up, across both
    third = a.acquire("ka10001")
    fourth = b.acquire("ka10001")
    # queued behind each other: about 0.5 s and 1.0 s at 2 requests/s
    assert 0.3 < third < 0.6
    assert 0.8 < fourth < 1.1
    assert waits_a == [third]
    assert waits_b == [fourth]


def test_api_ids_and_app_keys_have_separate_buckets(rds: redis.Redis) -> None:
    ns1, ns2 = uuid.uuid4().hex, uuid.uuid4().hex
    lim = RedisRateLimiter(rds, 1.0, 1, namespace=ns1, sleep=lambda s: None)
    other_key = RedisRateLimiter(rds, 1.0, 1, namespace=ns2, sleep=lambda s: None)
    assert lim.acquire("ka10001") == 0.0
    assert lim.acquire("ka10080") == 0.0  # another api-id: its own bucket
    assert other_key.acquire("ka10001") == 0.0  # another app key: its own bucket
    assert lim.acquire("ka10001") > 0.5
    assert not any(ns1.encode() in k for k in rds.keys(f"gslts:ratelimit:{ns2}:*"))
