"""The hub when what it depends on is away: Redis down or restarted, the database down at
start, the journal's disk full. Collection goes on (or is suspended loudly and backfilled),
health names the part that fails, and in the end every trade is stored exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from gslts_hub.hub import Hub
from tests.e2e.harness import Market, PausableProxy, free_port, wait_for
from tests.e2e.test_hub_lossless import _assert_exact, _settle_and_compare
from tests.redis_server import RedisServer
from tests.smallfs import fill, small_filesystem

pytestmark = pytest.mark.e2e


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path).start()
    yield srv
    srv.stop()


def _reasons(hub: Hub, word: str) -> list[str]:
    return [r for r in hub.health_reasons() if word in r]


def test_redis_unreachable_from_the_start_does_not_stop_collection(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine
) -> None:
    hub = make_hub(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    assert wait_for(lambda: hub.writer.stats.ticks_written >= 200, 60), hub.status()["events"]
    assert len(hub.collected_codes()) >= 10  # the universe came (token + ranking via REST)
    assert wait_for(lambda: bool(_reasons(hub, "redis unreachable")), 20)
    st = hub.status()
    assert st["redis"]["configured"]
    assert not st["redis"]["ok"]
    assert not st["redis"]["bus_ok"]
    assert not st["redis"]["token_cache_ok"]
    assert st["ws_state"] == "ready"
    entry, created = hub.add_watchlist("035720", "카카오")  # the REST check works too
    assert created
    assert entry["stock_code"] == "035720"
    assert wait_for(lambda: hub.stocks["035720"].ticks_today > 0, 120)  # and collected
    _assert_exact(_settle_and_compare(hub, market, db_engine))


def test_a_redis_restart_mid_stream_loses_nothing_and_recovers(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine, redis_server: RedisServer
) -> None:
    hub = make_hub(REDIS_URL=redis_server.url)
    assert wait_for(lambda: hub.writer.stats.ticks_written >= 100, 60)
    assert hub.status()["redis"]["ok"]
    redis_server.stop()
    assert wait_for(lambda: not hub.status()["redis"]["bus_ok"], 20)
    assert _reasons(hub, "redis unreachable")
    written = hub.writer.stats.ticks_written
    assert wait_for(lambda: hub.writer.stats.ticks_written > written + 100, 60)  # stores on
    redis_server.start()  # empty, as a restarted cache is
    assert wait_for(lambda: hub.status()["redis"]["bus_ok"], 30)
    assert wait_for(lambda: not _reasons(hub, "redis"), 30), hub.health_reasons()
    # the quote keys are written again once Redis is back
    client = redis.Redis.from_url(redis_server.url)
    assert wait_for(lambda: bool(client.keys("*quote:*")), 20)
    client.close()
    _assert_exact(_settle_and_compare(hub, market, db_engine))


def test_database_down_at_start_collects_into_the_journal_then_stores(
    make_hub: Callable[..., Hub], market: Market, db_url: str, db_engine: sa.Engine
) -> None:
    url = sa.make_url(db_url)
    proxy = PausableProxy(url.host or "127.0.0.1", url.port or 3306).start()
    try:
        proxy.pause()  # down before the hub starts: not even the schema exists yet
        via = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        hub = make_hub(database_url=via)
        assert wait_for(lambda: hub.ticks_received >= 300, 60), hub.status()["events"]
        st = hub.status()
        assert st["journal_backlog_bytes"] > 0
        assert st["ticks_written"] == 0
        assert _reasons(hub, "database unreachable")
        assert any("unreachable at start" in e["message"] for e in st["events"])
        proxy.resume()
        assert wait_for(lambda: hub.writer.stats.ticks_written >= 300, 60)
        assert wait_for(lambda: not _reasons(hub, "database"), 30), hub.health_reasons()
        res = _settle_and_compare(hub, market, db_engine)
        _assert_exact(res)
        assert hub.status()["tick_count_today"] == res.stored
    finally:
        proxy.stop()


def test_journal_disk_full_suspends_loudly_and_the_gap_is_backfilled(
    make_hub: Callable[..., Hub], market: Market, db_engine: sa.Engine, tmp_path: Path
) -> None:
    with small_filesystem(tmp_path / "journalfs", 8 * 1024) as fs:
        hub = make_hub(
            HUB_JOURNAL_DIR=str(fs / "journal"),
            HUB_JOURNAL_SPOOL_MB=str(64 / 1024),  # 64 KB in memory: suspends quickly
        )
        assert wait_for(lambda: hub.writer.stats.ticks_written >= 100, 60)
        ballast = fill(fs)  # the disk is full now
        assert wait_for(lambda: hub.spool.state == "suspended", 60), hub.status()["journal"]
        assert wait_for(lambda: hub.ticks_refused > 50, 60)
        st = hub.status()
        assert "ENOSPC" in st["journal"]["last_error"]
        assert _reasons(hub, "collection suspended")
        ballast.unlink()
        assert wait_for(lambda: hub.spool.state == "ok", 30)
        assert wait_for(lambda: not _reasons(hub, "journal"), 30), hub.health_reasons()
        res = _settle_and_compare(hub, market, db_engine)
        _assert_exact(res)
        st = hub.status()
        assert st["backfill"]["ticks"] > 0  # the refused trades came back from ka10079
        kinds = [e["message"] for e in st["events"] if e["kind"] == "journal"]
        assert len(kinds) == 3  # failing, suspended, writable again: once each
