from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import gslts_db
from gslts_cli.cli import main

from .factories import ticks


@pytest.fixture
def db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return url


def test_upgrade_then_current(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026-02-30"])
def test_bad_date_is_a_usage_error(
    db_env: str, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["db", "archive", "--before", bad])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "not a date" in err
    assert "Traceback" not in err


def test_future_cutoff_and_missing_file_exit_2(
    db_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "archive", "--before", "2999-01-01"]) == 2
    assert "after today" in capsys.readouterr().err
    assert main(["db", "restore", str(tmp_path / "nope.parquet")]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err
    assert "Traceback" not in err


def test_archive_and_restore_commands(
    db_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    engine = gslts_db.make_engine(db_env)
    with engine.begin() as conn:
        gslts_db.insert_ticks(conn, ticks("005930", date(2026, 1, 5), 12))
    out = tmp_path / "arch"
    assert main(["db", "archive", "--before", "2026-01-06", "--out", str(out)]) == 0
    files = sorted(out.glob("*.parquet"))
    assert [f.name for f in files] == ["tick_data_2026-01-05.parquet"]
    assert main(["db", "partitions"]) == 0
    assert "no stored days" in capsys.readouterr().out
    assert main(["db", "restore", str(files[0])]) == 0
    assert "inserted=12" in capsys.readouterr().out
    assert main(["db", "partitions"]) == 0
    assert "p20260105" in capsys.readouterr().out
