"""Access-token lifecycle (au10001 접근토큰 발급 / au10002 접근토큰 폐기) and token caches.

A token is re-issued ``token_refresh_margin_s`` before its ``expires_dt`` and, once, when
the server refuses it ([8005] etc.). Tokens are shared through a :class:`TokenCache` so
that several processes using the same app key (backend, sub-server, CLI) do not each
issue their own — the server may invalidate the previous token on a new issue.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import orjson

from gslts_kiwoom._errors import register_secret
from gslts_kiwoom.krx import KST

if TYPE_CHECKING:
    import redis


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and its absolute expiry. ``repr`` never shows the value."""

    value: str = field(repr=False)
    expires_at: datetime

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None:
            raise ValueError("Token.expires_at must be timezone-aware")
        register_secret(self.value)

    def to_json(self) -> bytes:
        return orjson.dumps({"token": self.value, "expires_at": self.expires_at.isoformat()})

    @classmethod
    def from_json(cls, raw: bytes | str) -> Token | None:
        """The token stored by :meth:`to_json`, or None if ``raw`` is not one."""
        try:
            data = orjson.loads(raw)
            return cls(str(data["token"]), datetime.fromisoformat(str(data["expires_at"])))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


def token_cache_key(mode: str, rest_url: str, app_key: str) -> str:
    """Cache key for one app key on one server; contains a hash, never the key itself."""
    digest = hashlib.sha256(app_key.encode()).hexdigest()[:24]
    return f"{mode}:{digest}:{hashlib.sha256(rest_url.encode()).hexdigest()[:8]}"


@runtime_checkable
class TokenCache(Protocol):
    """Where issued tokens are kept so that other clients/processes can reuse them."""

    def get(self, key: str) -> Token | None:
        """The cached token for ``key`` (possibly expired), or None."""

    def set(self, key: str, token: Token) -> None:
        """Store ``token`` under ``key``."""

    def delete(self, key: str) -> None:
        """Forget the token under ``key`` (no error when absent)."""


class MemoryTokenCache:
    """In-process cache (the default)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}

    def get(self, key: str) -> Token | None:
        with self._lock:
            return self._tokens.get(key)

    def set(self, key: str, token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def delete(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)


class FileTokenCache:
    """One JSON file per key in ``directory``, written atomically with mode 0600.

    Used by the CLI so that repeated ``gslts kiwoom …`` calls reuse one token.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        # The key holds only hashes and the mode; make it filename-safe anyway.
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)
        return self.directory / f"kiwoom-token-{safe}.json"

    def get(self, key: str) -> Token | None:
        try:
            raw = self._path(key).read_bytes()
        except OSError:
            return None
        return Token.from_json(raw)

    def set(self, key: str, token: Token) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self._path(key)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tok-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(token.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()


class RedisTokenCache:
    """Tokens in Redis, shared by every process using the same app key.

    Args:
        client: a ``redis.Redis`` instance (the caller owns it).
        prefix: key prefix; the full key is ``prefix + token_cache_key(...)``.
        now: clock (aware datetimes) used to compute the TTL.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "gslts:kiwoom:token:",
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._now = now or (lambda: datetime.now(KST))

    def get(self, key: str) -> Token | None:
        raw = self._redis.get(self._prefix + key)
        if not isinstance(raw, bytes | str):
            return None
        return Token.from_json(raw)

    def set(self, key: str, token: Token) -> None:
        ttl = int((token.expires_at - self._now()).total_seconds())
        if ttl <= 0:
            self.delete(key)
            return
        self._redis.set(self._prefix + key, token.to_json(), ex=ttl)

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)


class TokenManager:
    """Hands out a valid token, issuing one through ``issue`` when needed.

    Thread-safe: concurrent callers wait on one lock, so only one of them calls au10001.

    Args:
        issue: performs au10001 and returns the new token.
        cache: where tokens are shared.
        cache_key: this app key's cache key (see :func:`token_cache_key`).
        refresh_margin_s: re-issue this long before expiry.
        now: clock returning aware datetimes (injectable for tests).
    """

    def __init__(
        self,
        issue: Callable[[], Token],
        cache: TokenCache,
        cache_key: str,
        *,
        refresh_margin_s: float,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._issue = issue
        self._cache = cache
        self._key = cache_key
        self._margin = timedelta(seconds=refresh_margin_s)
        self._now = now or (lambda: datetime.now(KST))
        self._lock = threading.Lock()
        self._current: Token | None = None

    @property
    def cache(self) -> TokenCache:
        """The shared cache behind this manager."""
        return self._cache

    def _fresh(self, token: Token | None) -> bool:
        return token is not None and token.expires_at - self._margin > self._now()

    def get(self) -> str:
        """A token valid for at least the refresh margin (issues one if needed)."""
        token = self._current
        if token is not None and self._fresh(token):
            return token.value
        with self._lock:
            if not self._fresh(self._current):
                cached = self._cache.get(self._key)
                self._current = cached if self._fresh(cached) else None
            if self._current is None:
                self._current = self._issue()
                self._cache.set(self._key, self._current)
            return self._current.value

    def invalidate(self, value: str) -> None:
        """Drop ``value`` (the server refused it); the next :meth:`get` issues a new token.

        Does nothing when another caller already replaced that token.
        """
        with self._lock:
            if self._current is not None and self._current.value != value:
                return
            self._current = None
            cached = self._cache.get(self._key)
            if cached is None or cached.value == value:
                self._cache.delete(self._key)

    def current(self) -> Token | None:
        """The token held right now (may be stale), without issuing."""
        return self._current

    def forget(self) -> None:
        """Drop the current token locally and in the cache (after au10002 revoke)."""
        with self._lock:
            self._current = None
            self._cache.delete(self._key)
