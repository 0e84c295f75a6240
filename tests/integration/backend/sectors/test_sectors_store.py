"""The sector link's storage on both engines (MariaDB and SQLite): the migration up and
down, the CSV import (a good file stored once however often imported; a bad row named by
its line and nothing stored), link validation against the stock master, the morning
schedule on an injected clock, and the ``gslts sectors`` commands as a user runs them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gslts_backend.app import create_app
from gslts_backend.sectors import importers, store
from gslts_backend.sectors.calendars import KST, kr_sessions, us_sessions
from gslts_backend.sectors.routes import MorningSchedule
from gslts_backend.sectors.service import SectorError, SectorService
from gslts_db import (
    StockMaster,
    current_revision,
    downgrade,
    make_engine,
    schema_drift,
    upgrade,
)
from tests.e2e.harness import free_port, own_schema
from tests.integration.backend.sectors.conftest import World, backend_settings
from tests.integration.backend.ws.harness import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[4]
GSLTS = Path(sys.executable).with_name("gslts")
SECTOR_TABLES = {
    "us_sector_data",
    "us_instruments",
    "kr_daily_bars",
    "sector_links",
    "sector_recommendations",
}


@pytest.fixture(params=["mariadb", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'sectors.sqlite3'}")
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    url = request.getfixturevalue("mysql_server_url")
    with own_schema(url) as db:
        eng = make_engine(db)
        upgrade(eng)
        yield eng
        eng.dispose()


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migration_up_and_down(engine: sa.Engine) -> None:
    assert current_revision(engine) == "0004"
    assert schema_drift(engine) == []
    assert _tables(engine) >= SECTOR_TABLES
    downgrade(engine, "0003")
    tables = _tables(engine)
    assert not {"us_instruments", "kr_daily_bars", "sector_recommendations"} & tables
    cols = {c["name"] for c in sa.inspect(engine).get_columns("sector_links")}
    assert "weight" in cols  # the 0001 placeholder is back
    upgrade(engine)
    assert schema_drift(engine) == []


# --- CSV --------------------------------------------------------------------------------

GOOD = """symbol,date,open,high,low,close,volume,adj_close
SOXX,2026-09-01,100,102,99,101,1000,50.5
SOXX,2026-09-02,101,103,100,102,1100,51
EWY,2026-09-01,60,61,59,60.5,5000,60.5
EWY,2026-09-02,60.5,62,60,61,5200,61
"""


def test_csv_good_file_is_stored_once(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "us.csv"
    path.write_text(GOOD, encoding="utf-8")
    seen: list[tuple[int, int | None]] = []
    res = importers.import_csv(engine, path, "us", lambda n, t: seen.append((n, t)))
    assert (res.rows, res.symbols) == (4, 2)
    assert seen[-1] == (4, 4)
    importers.import_csv(engine, path, "us")  # again: upserts, no duplicates
    with engine.connect() as conn:
        us = store.us_bars(conn)
        kinds = {i.symbol: i.kind for i in store.instruments(conn)}
    assert [b.close for b in us["SOXX"]] == [50.5, 51.0]
    assert us["SOXX"][0].open == pytest.approx(50.0)  # scaled by adj_close / close
    assert len(us["EWY"]) == 2
    assert kinds == {"SOXX": "etf", "EWY": "market"}


def test_csv_bad_rows_are_named_and_nothing_is_stored(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    lines = GOOD.splitlines()
    lines.insert(3, "SOXX,2026-09-03,101,99,100,102,1100,51")  # high below the close: line 4
    lines.append("EWY,2026-13-01,60,61,59,60,10,60")  # line 7: no such month
    lines.append("SOXX,2026-09-01,100,102,99,101,1000,50.5")  # line 8: duplicate of line 2
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(importers.CsvImportError) as err:
        importers.import_csv(engine, path, "us")
    assert [n for n, _ in err.value.errors] == [4, 7, 8]
    assert "line 4: inconsistent bar" in str(err.value)
    assert "duplicate SOXX 2026-09-01 (first on line 2)" in str(err.value)
    with engine.connect() as conn:
        assert store.us_bars(conn) == {}
    path.write_text("symbol,day,open\nSOXX,2026-09-01,1\n", encoding="utf-8")
    with pytest.raises(importers.CsvImportError, match="header lacks date, high"):
        importers.import_csv(engine, path, "us")


def test_kr_csv_drops_days_that_are_no_session(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "kr.csv"
    path.write_text(
        "symbol,date,open,high,low,close,volume\n"
        "005930,20260930,60000,61000,59000,60500,100\n"
        "005930,20261003,60500,61000,60000,60800,100\n",  # a Saturday (개천절)
        encoding="utf-8",
    )
    res = importers.import_csv(engine, path, "kr")
    assert (res.rows, res.dropped_off_calendar) == (1, 1)
    with engine.connect() as conn:
        assert [b.close for b in store.kr_bars(conn)["005930"]] == [60500.0]


# --- links ------------------------------------------------------------------------------


def test_links_are_checked_against_the_stock_master(engine: sa.Engine) -> None:
    svc = SectorService(engine)
    assert svc.ensure_seeded() > 0
    assert svc.ensure_seeded() == 0  # only into an empty table
    link = {"us_symbol": "SOXX", "kr_code": "005930", "confidence": "H", "rationale": "chips"}
    assert len(svc.replace_links([link])) == 1  # no stock master: not checked
    table: sa.Table = StockMaster.__table__  # type: ignore[assignment]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table).values(
                stock_code="000660", name="SK하이닉스", chosung="ㅅㅋㅎㅇㄴㅅ", market="KOSPI",
                sector="전기전자", updated_at=datetime.now(KST),
            )
        )  # fmt: skip
    new = {**link, "kr_code": "999999"}
    with pytest.raises(SectorError, match="999999 is not in the stock master") as err:
        svc.replace_links([link, new])
    assert err.value.field == "links.1.kr_code"
    # a code already in the map stays allowed; a listed one gets the master's name
    out = svc.replace_links([link, {**link, "kr_code": "000660"}])
    assert [(lk.kr_code, lk.kr_name) for lk in out] == [("000660", "SK하이닉스"), ("005930", "")]
    # the master's industry group comes with the link
    assert [lk.kr_sector for lk in svc.links()] == ["전기전자", None]


# --- the morning schedule ----------------------------------------------------------------


def test_morning_schedule_stores_once_when_due(planted: World) -> None:
    svc = SectorService(planted.engine)
    days = [d for d in planted.history if kr_sessions(d, d)]
    day = days[-2]
    with planted.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM sector_recommendations WHERE for_date = :d"), {"d": day})
    last_us = [u for u in us_sessions(day - timedelta(days=5), day) if u < day][-1]
    assert svc.morning_due(datetime.combine(day, time(4, 0), KST)) is None  # US still open
    assert svc.morning_due(datetime.combine(day, time(8, 30), KST)) is None  # past the cutoff
    seven = datetime.combine(day, time(7, 0), KST)
    assert last_us < day
    schedule = MorningSchedule(svc, interval_s=300, clock=lambda: seven)
    assert asyncio.run(schedule.tick()) == day
    assert schedule.last_stored == day
    assert asyncio.run(schedule.tick()) is None  # stored already
    with planted.engine.connect() as conn:
        got = store.stored_recommendations(conn, day)
    assert got is not None
    assert got.items
    assert got.created_at == seven


# --- the CLI ----------------------------------------------------------------------------


def _gslts(
    args: list[str], db_url: str, cwd: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KIWOOM_", "DATABASE_"))},
        "DATABASE_URL": db_url,
        "DATA_DIR": str(cwd / "data"),
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    return subprocess.run(
        [str(GSLTS), "sectors", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_import_refuses_a_bad_file(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "SOXX,2026-09-03,x,1,1,1,1,1\n", encoding="utf-8")
    r = _gslts(["import", str(bad)], db, tmp_path)
    assert r.returncode == 2, r.stderr
    assert "line 6: open: not a number" in r.stderr
    assert "nothing imported" in r.stderr
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    r = _gslts(["import", str(good)], db, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "imported 4 US bars of 2 symbol(s)" in r.stdout


def test_cli_recommend_and_backtest(planted: World, tmp_path: Path) -> None:
    days = [d for d in planted.history if kr_sessions(d, d)]
    r = _gslts(["recommend", "--date", days[-1].isoformat(), "--top", "5"], planted.url, tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"sector watch list for {days[-1]}")
    assert len([ln for ln in lines if ln[:3].strip().isdigit()]) == 5
    r = _gslts(["recommend", "--date", "2026-09-27"], planted.url, tmp_path)  # a Sunday
    assert r.returncode == 2
    assert "not a KRX session" in r.stderr
    r = _gslts(
        ["backtest", "--from", days[150].isoformat(), "--to", days[-1].isoformat(),
         "--top-n", "5", "--permutations", "50"],
        planted.url, tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "rank IC, gap (forecast)" in r.stdout
    assert "p=" in r.stdout
    assert "caution:" in r.stdout


def test_cli_fetch_from_gslts_sim(tmp_path: Path) -> None:
    """The composition root end to end: ``gslts sim`` serves the default map's world,
    ``gslts sectors fetch`` stores its US feed and the ka10081 backfill."""
    port = free_port()
    log = (tmp_path / "sim.log").open("wb")
    sim = subprocess.Popen(
        [str(GSLTS), "sim", "--port", str(port), "--clock", "always", "--seed", "5",
         "--sector-world", "none"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _up(url), 60), "gslts sim did not start"
        info = httpx.get(f"{url}/_sim/us-daily", timeout=60).json()
        assert info["world"] == "none"
        assert {"EWY", "SPY", "SOXX"} <= set(info["symbols"])
        db = f"sqlite:///{tmp_path / 'fetch.sqlite3'}"
        today = datetime.now(KST).date()
        start = (today - timedelta(days=60)).isoformat()
        r = _gslts(
            ["fetch", "--from", start, "--to", today.isoformat()],
            db, tmp_path,
            KIWOOM_MODE="sim", KIWOOM_REST_URL=url, KIWOOM_RATE_PER_S="200",
            KIWOOM_RATE_BURST="200",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert "stored" in r.stdout
        engine = make_engine(db)
        try:
            with engine.connect() as conn:
                us = store.us_bars(conn)
                kr = store.kr_bars(conn)
        finally:
            engine.dispose()
        assert {"EWY", "SPY", "SOXX"} <= set(us)
        assert len(kr) > 80
        assert all(len(bars) > 30 for bars in kr.values())
    finally:
        sim.terminate()
        sim.wait(30)
        log.close()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_sim/state", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def test_morning_schedule_backfills_an_empty_database_in_sim_mode(
    planted: World, mysql_server_url: str
) -> None:
    """SECTORS_SIM_FETCH: the first tick fetches the whole history from the simulator,
    then the due list is stored; once stored, no more fetches that morning."""
    day = [d for d in planted.history if kr_sessions(d, d)][-1]
    seven = datetime.combine(day, time(7, 0), KST)
    client = planted.srv.client()
    with own_schema(mysql_server_url) as url:
        eng = make_engine(url)
        try:
            upgrade(eng)
            svc = SectorService(eng)
            svc.ensure_seeded()
            fetch = importers.sim_fetcher(svc, planted.srv.rest_url, lambda: client)
            schedule = MorningSchedule(svc, interval_s=300, clock=lambda: seven, fetch=fetch)
            assert asyncio.run(schedule.tick()) == day
            assert schedule.fetches == 1
            with eng.connect() as conn:
                assert len(store.kr_bars(conn)) > 80
                assert "SOXX" in store.us_bars(conn)
            assert asyncio.run(schedule.tick()) is None
            assert schedule.fetches == 1  # stored: nothing to fetch for
        finally:
            eng.dispose()
            client.close()


def test_the_schedule_runs_with_the_app_and_stops_with_it(planted: World, tmp_path: Path) -> None:
    settings = backend_settings(
        planted, tmp_path, sectors_schedule=True, sectors_schedule_interval_s=3600
    )
    app = create_app(settings, frontend_dir=None)
    with TestClient(app):
        schedule = app.state.sectors_schedule
        assert isinstance(schedule, MorningSchedule)
        assert schedule.fetch is None  # SECTORS_SIM_FETCH is off
        assert schedule._task is not None
    assert schedule._task is None
    off = create_app(backend_settings(planted, tmp_path), frontend_dir=None)
    with TestClient(off):
        assert off.state.sectors_schedule is None  # off by default


def test_a_corrected_bar_changes_the_data_version(engine: sa.Engine, tmp_path: Path) -> None:
    """The backtest cache is keyed by the data version: a re-import that corrects one
    close (same rows, same dates) must change it."""
    svc = SectorService(engine)
    path = tmp_path / "us.csv"
    path.write_text(GOOD, encoding="utf-8")
    importers.import_csv(engine, path, "us")
    before = svc.data_version()
    importers.import_csv(engine, path, "us")
    assert svc.data_version() == before  # the same file: the same data
    path.write_text(GOOD.replace("60.5,62,60,61,5200,61", "60.5,62,60,61.5,5200,61.5"), "utf-8")
    importers.import_csv(engine, path, "us")
    assert svc.data_version() != before
