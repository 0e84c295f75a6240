"""The e2e harness itself: hubs under test are kept away from a developer's ``.env`` and
environment (what a test proves must not depend on who runs it), and the exactly-once
comparison catches what it claims to (wrong trade times, a stock with nothing stored)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from gslts_db import TickRow, ensure_partitions, insert_ticks, upgrade
from gslts_hub.settings import HubSettings
from gslts_kiwoom.krx import KST
from gslts_kiwoom.sim import Trade
from tests.e2e.harness import HubProcess, compare, isolated_settings

#: settings a developer might have in ``.env`` or exported in their shell
DEV_ENV_FILE = "KIWOOM_MODE=mock\nHUB_FLUSH_INTERVAL_S=7\nDATABASE_URL=sqlite:////dev/null/x\n"
DEV_EXPORTS = {
    "HUB_UNIVERSE_SIZE": "3",
    "HUB_BOOK_SAMPLE_S": "9",
    "KIWOOM_APP_KEY": "developer-app-key",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}
GIVEN = {
    "KIWOOM_MODE": "sim",
    "KIWOOM_REST_URL": "http://127.0.0.1:1",
    "DATABASE_URL": "mysql+pymysql://root@127.0.0.1:3306/gslts_e2e_x",
    "REDIS_URL": "",
    "HUB_UNIVERSE_SIZE": "12",
}


@pytest.fixture
def developer_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test process as a developer's shell: a ``.env`` in the working directory and
    settings exported."""
    home = tmp_path / "checkout"
    home.mkdir()
    (home / ".env").write_text(DEV_ENV_FILE, "utf-8")
    monkeypatch.chdir(home)
    for k, v in DEV_EXPORTS.items():
        monkeypatch.setenv(k, v)
    return home


def _defaults() -> dict[str, object]:
    return {name: f.default for name, f in HubSettings.model_fields.items()}


def test_in_process_settings_read_neither_env_file_nor_environment(
    developer_shell: Path,
) -> None:
    assert HubSettings().hub_universe_size == 3  # the shell really is poisoned …
    s = isolated_settings(GIVEN)  # … and the harness does not listen to it
    assert s.kiwoom_mode == "sim"
    assert s.hub_universe_size == 12
    assert s.redis_url is None
    assert s.database_url == GIVEN["DATABASE_URL"]
    assert s.kiwoom_app_key is None
    assert s.hub_flush_interval_s == _defaults()["hub_flush_interval_s"]
    assert s.hub_book_sample_s == _defaults()["hub_book_sample_s"]


def test_hub_subprocess_gets_only_explicit_settings_and_an_empty_cwd(
    developer_shell: Path, tmp_path: Path
) -> None:
    hub = HubProcess(GIVEN, 8999, tmp_path / "logs" / "hub.log")
    kwargs = hub.popen_kwargs()
    assert Path(kwargs["cwd"]).resolve() != developer_shell.resolve()
    assert list(Path(kwargs["cwd"]).iterdir()) == []
    dump = "from gslts_hub.settings import HubSettings; print(HubSettings().model_dump_json())"
    out = subprocess.run(  # what `gslts sub-server` would load, run the same way
        [sys.executable, "-c", dump], check=True, capture_output=True, text=True, **kwargs
    )
    got = json.loads(out.stdout)
    assert got["kiwoom_mode"] == "sim"
    assert got["hub_universe_size"] == 12
    assert got["hub_port"] == 8999
    assert got["redis_url"] is None
    assert got["kiwoom_app_key"] is None
    assert got["database_url"] == GIVEN["DATABASE_URL"]
    assert got["hub_flush_interval_s"] == _defaults()["hub_flush_interval_s"]
    assert got["hub_book_sample_s"] == _defaults()["hub_book_sample_s"]
    assert (set(DEV_EXPORTS) - set(GIVEN)) & set(kwargs["env"]) == set()


# -- the exactly-once comparison ---------------------------------------------------------
def _truth(day: datetime) -> list[Trade]:
    """Two stocks, five trades each, a second apart (with sub-second times, as the
    simulator makes them)."""
    out = []
    for code in ("005930", "000660"):
        cum = 1_000
        for i in range(5):
            qty = 10 + i
            cum += qty
            out.append(
                Trade(code=code, time=day + timedelta(seconds=i, microseconds=250_000 * i),
                      price=70_000 + 100 * i, volume=qty if i % 2 else -qty, cum_volume=cum,
                      cum_value=cum * 70, open=70_000, high=70_400, low=70_000,
                      base_price=70_000, best_ask=70_500, best_bid=70_400, seq=i + 1)
            )  # fmt: skip
    return out


def _row(t: Trade, source: str) -> TickRow:
    sec = t.time.replace(microsecond=0)
    qty = t.volume if source == "live" else abs(t.volume)  # ka10079 carries no direction
    return TickRow(t.code, sec.date(), "KRX", t.cum_volume, sec, t.time, t.price, qty,
                   t.cum_value, t.best_ask, t.best_bid, Decimal("0.5"), Decimal("100"),
                   "regular", source)  # fmt: skip


@pytest.fixture
def tick_table(db_engine: sa.Engine) -> sa.Engine:
    upgrade(db_engine)
    ensure_partitions(db_engine, 2, datetime.now(KST).date())
    return db_engine


def test_compare_checks_trade_time_and_counts_a_collected_stock_with_nothing_stored(
    tick_table: sa.Engine,
) -> None:
    day = datetime.now(KST).replace(hour=10, minute=0, second=0, microsecond=0)
    truth = _truth(day)
    codes = ["000660", "005930"]
    rows = [_row(t, "backfill" if i % 5 >= 3 else "live") for i, t in enumerate(truth)]
    with tick_table.begin() as conn:
        insert_ticks(conn, rows)
    res = compare(tick_table, truth, codes)
    assert (res.expected, res.stored, res.missing, res.mismatched) == (10, 10, [], [])
    assert (res.unexpected, res.duplicates, res.unstored) == ([], 0, [])
    # every backfilled trade 17 minutes late: same keys, prices and quantities
    with tick_table.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE tick_data SET trade_time = trade_time + INTERVAL 17 MINUTE "
            "WHERE source = 'backfill'"
        )
    res = compare(tick_table, truth, codes)
    backfilled = sorted((r.stock_code, r.cum_volume) for r in rows if r.source == "backfill")
    assert res.mismatched == backfilled
    assert res.missing == []
    # one collected stock with trades and not a row stored: a failure, not a blind spot
    with tick_table.begin() as conn:
        conn.exec_driver_sql("DELETE FROM tick_data WHERE stock_code = '000660'")
    res = compare(tick_table, truth, codes)
    assert res.unstored == ["000660"]
    assert res.missing == sorted((t.code, t.cum_volume) for t in truth if t.code == "000660")
    assert res.expected == 10
