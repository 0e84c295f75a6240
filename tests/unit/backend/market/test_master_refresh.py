"""``POST /api/stocks/refresh`` starts one refresh however often it is asked while that one
runs (the schemathesis contract run once queued dozens: each request before the thread
had begun started another), and the next may start once it ended."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

from gslts_backend.market.master import MasterService
from gslts_db import make_engine, upgrade
from gslts_kiwoom.models import StockInfo


def _stock(code: str, name: str) -> StockInfo:
    return StockInfo(code, name, 1000, "정상", date(2001, 1, 2), 10_000, (), "0", "거래소",
                     "전기전자", "대형주", "", "0", False)  # fmt: skip


class SlowKiwoom:
    def __init__(self) -> None:
        self.calls = 0
        self.go = threading.Event()

    def list_stocks(self, market: str) -> list[StockInfo]:
        self.calls += 1
        assert self.go.wait(10)
        return [_stock("005930", "삼성전자")] if market == "0" else []


def test_one_refresh_at_a_time(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    kiwoom = SlowKiwoom()
    master = MasterService(engine, lambda: kiwoom)
    assert master.refresh_in_background()
    assert master.status()["state"] == "running"
    assert not any(master.refresh_in_background() for _ in range(20))
    kiwoom.go.set()
    end = time.monotonic() + 10
    while master.status()["state"] == "running" and time.monotonic() < end:
        time.sleep(0.01)
    assert master.status()["state"] == "ok"
    assert master.count == 1
    assert kiwoom.calls == 2  # one refresh: both markets once
    assert master.refresh_in_background()  # the next may start now
    end = time.monotonic() + 10
    while master.status()["state"] == "running" and time.monotonic() < end:
        time.sleep(0.01)
    assert kiwoom.calls == 4
    engine.dispose()
