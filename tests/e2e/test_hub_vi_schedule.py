"""Simulator → hub: per-stock VI shows as health ``vi`` then ``ok``; and the hub's reaction
to the KRX schedule (connect 07:50, token + re-LOGIN 08:25, stop + flush 18:10) driven by an
injected clock through ``Hub.control_step()``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gslts_hub.hub import Hub
from gslts_hub.settings import HubSettings
from gslts_kiwoom import krx
from gslts_kiwoom.realtime import KST
from tests.e2e.harness import Market, hub_env, wait_for

pytestmark = pytest.mark.e2e


def _settings(env: dict[str, str]) -> HubSettings:
    kwargs: dict[str, Any] = {k.lower(): v for k, v in env.items()}
    kwargs["redis_url"] = None
    return HubSettings(_env_file=None, **kwargs)


def test_stock_in_vi_shows_vi_then_ok_after_release(db_url: str, tmp_path: Path) -> None:
    # a tight static VI band so top stocks hit it within seconds; short interruptions
    market = Market(vi_threshold=0.002, vi_duration_s=1.5).start()
    hub = Hub(_settings(hub_env(market, db_url, tmp_path / "data")))
    try:
        hub.start()
        seen: dict[str, list[str]] = {}
        done: list[str] = []

        def vi_then_ok() -> bool:
            for s in hub.status()["stocks"]:
                h = seen.setdefault(s["code"], [])
                if not h or h[-1] != s["health"]:
                    h.append(s["health"])
                released = s["vi"] is not None and not s["vi"]["active"]
                if "vi" in h[:-1] and h[-1] == "ok" and released:
                    done.append(s["code"])
                    return True
            return False

        assert wait_for(vi_then_ok, 30, poll=0.05), seen
        code = done[0]
        st = next(s for s in hub.status()["stocks"] if s["code"] == code)
        assert st["vi"]["release_at"] is not None
        assert st["vi"]["trigger_price"] > 0
        messages = [e["message"] for e in hub.status()["events"] if e["kind"] == "vi"]
        assert any(m.startswith(code) and "VI 발동" in m for m in messages), messages
        assert any(m.startswith(code) and "VI 해제" in m for m in messages), messages
    finally:
        hub.close()
        market.stop()


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.now = at.timestamp()

    def set(self, at: datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sched_market() -> Iterator[Market]:
    # re-issuing a token invalidates the old one (PROTOCOL §2.1 source B), so a new token
    # is visible as a different value
    m = Market(token_reissue_invalidates_old=True).start()
    yield m
    m.stop()


def _stored(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT COUNT(*) FROM tick_data").scalar() or 0)


def test_schedule_connects_refreshes_token_stops_and_flushes(
    sched_market: Market, db_url: str, db_engine: sa.Engine, tmp_path: Path
) -> None:
    market = sched_market
    day, next_day, holiday = date(2025, 11, 3), date(2025, 11, 4), date(2025, 11, 2)
    assert krx.is_trading_day(day)
    assert krx.is_trading_day(next_day)
    assert not krx.is_trading_day(holiday)

    def at(d: date, hh: int, mm: int) -> datetime:
        return datetime.combine(d, dtime(hh, mm), KST)

    clock = FakeClock(at(holiday, 10, 0))
    env = hub_env(market, db_url, tmp_path / "data", HUB_SCHEDULE="auto")
    hub = Hub(_settings(env), connect=False, clock=clock)
    logins = market.sim.ws_hub.stats
    try:
        hub.start()
        # a holiday, then a trading day before 07:50: no connection
        for t in (at(holiday, 10, 0), at(day, 7, 49)):
            clock.set(t)
            hub.control_step()
            assert hub.ws is None
            assert not hub.status()["collecting"]
        assert logins["login_ok"] == 0

        # 07:50: connects, subscribes the top stocks, ticks flow
        clock.set(at(day, 7, 50))
        hub.control_step()
        assert hub.status()["collecting"]
        assert wait_for(lambda: hub.ws_state == "ready", 10)
        codes = hub.collected_codes()
        assert len(codes) == 12
        assert wait_for(lambda: hub.ticks_received > 50, 10)
        assert logins["login_ok"] == 1
        token = hub.get_token(False)

        # 08:25: a new token and a re-LOGIN with it; collection goes on
        clock.set(at(day, 8, 25))
        hub.control_step()
        assert any(e["kind"] == "token" for e in hub.status()["events"])
        assert hub.get_token(False) != token
        assert wait_for(lambda: logins["login_ok"] == 2 and hub.ws_state == "ready", 10)
        received = hub.ticks_received
        assert wait_for(lambda: hub.ticks_received > received + 50, 10)
        clock.set(at(day, 9, 0))
        hub.control_step()  # once a day only
        assert logins["login_ok"] == 2

        # 18:10: stops, flushes everything received, disconnects
        clock.set(at(day, 18, 10))
        hub.control_step()
        st = hub.status()
        assert hub.ws is None
        assert not st["collecting"]
        assert st["journal_backlog_bytes"] == 0
        assert _stored(db_engine) == hub.ticks_received  # every received tick is stored
        assert st["events"][-1]["kind"] == "schedule"
        assert "flushed" in st["events"][-1]["message"]
        received = hub.ticks_received
        time.sleep(0.5)
        assert hub.ticks_received == received  # disconnected: the market goes on unheard
        clock.set(at(day, 23, 0))
        hub.control_step()
        assert hub.ws is None

        # the next trading day's 07:50: the same universe again, no gap left over from
        # the deliberate stop
        clock.set(at(next_day, 7, 50))
        hub.control_step()
        assert wait_for(lambda: hub.ws_state == "ready", 10)
        assert hub.collected_codes() == codes
        assert wait_for(lambda: hub.ticks_received > received + 50, 10)
        assert hub.gaps.await_first == {}
    finally:
        hub.close()
