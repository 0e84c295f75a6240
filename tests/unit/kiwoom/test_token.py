"""Token caches and the token manager."""

from __future__ import annotations

import stat
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gslts_kiwoom import (
    FileTokenCache,
    MemoryTokenCache,
    RedisTokenCache,
    Token,
    TokenCache,
    token_cache_key,
)
from gslts_kiwoom._token import TokenManager

KST = ZoneInfo("Asia/Seoul")
T0 = datetime(2025, 3, 4, 9, 0, tzinfo=KST)


def test_token_repr_hides_value() -> None:
    tok = Token("VERYSECRETTOKEN123", T0)
    assert "VERYSECRETTOKEN123" not in repr(tok)


def test_naive_expiry_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        Token("abcdefgh", datetime(2025, 1, 1))  # noqa: DTZ001


def test_cache_key_never_contains_the_app_key() -> None:
    key = token_cache_key("mock", "https://mockapi.kiwoom.com", "PSappKEY0123456789")
    assert "PSappKEY0123456789" not in key
    assert key != token_cache_key("mock", "https://mockapi.kiwoom.com", "other-key-123")
    assert key != token_cache_key("real", "https://api.kiwoom.com", "PSappKEY0123456789")


def test_file_cache_roundtrip_is_private(tmp_path: Path) -> None:
    cache = FileTokenCache(tmp_path / "tokens")
    assert cache.get("k") is None
    cache.set("k", Token("FILETOKEN12345", T0))
    got = cache.get("k")
    assert got is not None
    assert got.value == "FILETOKEN12345"
    assert got.expires_at == T0
    (path,) = (tmp_path / "tokens").iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cache.set("k", Token("FILETOKEN67890", T0))  # overwrite atomically, no temp files left
    assert [p.name for p in (tmp_path / "tokens").iterdir()] == [path.name]
    cache.delete("k")
    cache.delete("k")
    assert cache.get("k") is None


def test_file_cache_ignores_corrupt_file(tmp_path: Path) -> None:
    cache = FileTokenCache(tmp_path)
    cache.set("k", Token("FILETOKEN12345", T0))
    (path,) = tmp_path.iterdir()
    path.write_text("{not json")
    assert cache.get("k") is None


class FakeRedis:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.ttl: dict[str, int] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes, ex: int | None = None) -> None:
        self.data[key] = value
        if ex is not None:
            self.ttl[key] = ex

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def test_redis_cache_ttl_is_time_to_expiry() -> None:
    fake = FakeRedis()
    cache = RedisTokenCache(fake, now=lambda: T0)  # type: ignore[arg-type]
    key = token_cache_key("sim", "http://x", "PSappKEY0123456789")
    cache.set(key, Token("REDISTOKEN1234", T0 + timedelta(hours=2)))
    (stored,) = fake.data
    assert stored.startswith("gslts:kiwoom:token:")
    assert "PSappKEY" not in stored
    assert fake.ttl[stored] == 7200
    got = cache.get(key)
    assert got is not None
    assert got.value == "REDISTOKEN1234"
    cache.set(key, Token("EXPIREDTOKEN12", T0 - timedelta(seconds=1)))
    assert cache.get(key) is None


def test_caches_satisfy_protocol() -> None:
    for cache in (MemoryTokenCache(), FileTokenCache("/nonexistent"), RedisTokenCache(FakeRedis())):  # type: ignore[arg-type]
        assert isinstance(cache, TokenCache)


def _manager(issue: Any, now: list[datetime], cache: TokenCache | None = None) -> TokenManager:
    return TokenManager(
        issue, cache or MemoryTokenCache(), "k", refresh_margin_s=300, now=lambda: now[0]
    )


def test_manager_reissues_within_margin_of_expiry() -> None:
    now = [T0]
    issued: list[str] = []

    def issue() -> Token:
        issued.append(f"TOKENNUMBER{len(issued)}")
        return Token(issued[-1], now[0] + timedelta(hours=1))

    m = _manager(issue, now)
    assert m.get() == "TOKENNUMBER0"
    now[0] = T0 + timedelta(minutes=54)
    assert m.get() == "TOKENNUMBER0"  # 6 min left > 5 min margin
    now[0] = T0 + timedelta(minutes=56)
    assert m.get() == "TOKENNUMBER1"
    assert len(issued) == 2


def test_manager_reuses_token_from_shared_cache() -> None:
    now = [T0]
    cache = MemoryTokenCache()
    cache.set("k", Token("SHAREDTOKEN12", T0 + timedelta(hours=5)))

    def issue() -> Token:
        raise AssertionError("must not issue while the cached token is valid")

    assert _manager(issue, now, cache).get() == "SHAREDTOKEN12"


def test_invalidate_drops_only_the_refused_token() -> None:
    now = [T0]
    n = [0]

    def issue() -> Token:
        n[0] += 1
        return Token(f"TOKENNUMBER{n[0]}", T0 + timedelta(hours=5))

    cache = MemoryTokenCache()
    m = _manager(issue, now, cache)
    first = m.get()
    m.invalidate("SOMEOTHERTOKEN")  # stale report from another thread: ignored
    assert m.get() == first
    m.invalidate(first)
    assert cache.get("k") is None
    assert m.get() == "TOKENNUMBER2"


def test_concurrent_callers_issue_once() -> None:
    now = [T0]
    calls = [0]

    def issue() -> Token:
        calls[0] += 1
        time.sleep(0.05)  # widen the race window
        return Token("ONLYONETOKEN", T0 + timedelta(hours=5))

    m = _manager(issue, now)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(m.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls[0] == 1
    assert results == ["ONLYONETOKEN"] * 8
