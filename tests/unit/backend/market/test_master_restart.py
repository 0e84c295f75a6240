"""A backend started on a stored stock master refreshes it when it is a day old.

The stored refresh time reads back aware (KST) and the refresh thread compared it with a
naive "now": the thread died at start-up on ``TypeError`` whenever ``stock_master`` had
rows (every restart), so the list was never refreshed again (found by ``bench_query``
re-using a loaded schema)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from gslts_backend.market import master as master_mod
from gslts_backend.market.master import MasterService, newest, store
from gslts_db import make_engine, upgrade
from gslts_db.models import StockMaster
from gslts_kiwoom.models import StockInfo


def _stock(code: str, name: str) -> StockInfo:
    return StockInfo(code, name, 1000, "정상", date(2001, 1, 2), 10_000, (), "0", "거래소",
                     "전기전자", "대형주", "", "0", False)  # fmt: skip


class Kiwoom:
    def __init__(self) -> None:
        self.calls = 0

    def list_stocks(self, market: str) -> list[StockInfo]:
        self.calls += 1
        return (
            [_stock("005930", "삼성전자"), _stock("000660", "SK하이닉스")] if market == "0" else []
        )


def test_a_restart_on_a_stale_list_refreshes_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    store(engine, [_stock("005930", "삼성전자")])
    stale = master_mod._now() - timedelta(days=2)
    with engine.begin() as conn:
        conn.execute(sa.update(StockMaster).values(updated_at=stale))
    got = newest(engine)
    assert got is not None
    assert got.tzinfo is None
    assert master_mod._now() - got >= timedelta(days=2)
    kiwoom = Kiwoom()
    master = MasterService(engine, lambda: kiwoom)
    master.start()  # the stored list at once, the refresh in the background
    try:
        assert master.count == 1
        end = time.monotonic() + 30
        while master.status()["state"] != "ok" and time.monotonic() < end:
            time.sleep(0.01)
        assert master.status()["state"] == "ok", master.status()
        assert kiwoom.calls == 2
        assert master.count == 2
    finally:
        master.close()
        engine.dispose()


def test_a_restart_on_a_fresh_list_keeps_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    store(engine, [_stock("005930", "삼성전자")])
    kiwoom = Kiwoom()
    master = MasterService(engine, lambda: kiwoom)
    master.start()
    try:
        assert master.count == 1
        assert master.last_refresh is not None
        assert master.last_refresh.tzinfo is None
        assert master.status()["state"] == "idle"  # not due: no Kiwoom call
        assert kiwoom.calls == 0
    finally:
        master.close()
        engine.dispose()
