"""``gslts kiwoom``: any api-id, paging, clear errors instead of tracebacks."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gslts_cli import cli_kiwoom
from gslts_cli.cli import main
from gslts_common.settings import Settings
from gslts_kiwoom import FileTokenCache, KiwoomClient

from .fakes import APP_KEY, KST, OK, SECRET_KEY, Clock, FakeKiwoom, reply


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, free_port: int) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("KIWOOM_REST_URL", "KIWOOM_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KIWOOM_APP_KEY", APP_KEY)
    monkeypatch.setenv("KIWOOM_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SIM_PORT", str(free_port))  # nothing listens there
    return tmp_path


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, env: Path) -> FakeKiwoom:
    fake = FakeKiwoom(Clock())
    fake.clock.t = datetime.now(KST)  # the CLI's client runs on the real clock

    def make_client(settings: Settings) -> KiwoomClient:
        return KiwoomClient(
            settings.kiwoom_config(),
            token_cache=FileTokenCache(settings.data_dir / "tokens"),
            transport=httpx.MockTransport(fake),
        )

    monkeypatch.setattr(cli_kiwoom, "make_kiwoom_client", make_client)
    return fake


def test_prints_response_json(server: FakeKiwoom, capsys: pytest.CaptureFixture[str]) -> None:
    server.handlers["ka10001"] = lambda req, body: reply({**OK, "stk_nm": "삼성전자", **body})
    assert main(["kiwoom", "ka10001", '{"stk_cd":"005930"}']) == 0
    out = capsys.readouterr().out
    assert "삼성전자" in out  # ensure_ascii=False
    assert json.loads(out)["stk_cd"] == "005930"


def test_token_is_cached_across_invocations(server: FakeKiwoom, env: Path) -> None:
    server.handlers["ka10001"] = lambda req, body: reply(OK)
    assert main(["kiwoom", "ka10001", '{"stk_cd":"005930"}']) == 0
    assert main(["kiwoom", "ka10001", '{"stk_cd":"005930"}']) == 0
    assert len(server.issued) == 1
    (token_file,) = (env / "var" / "tokens").iterdir()
    assert token_file.stat().st_mode & 0o077 == 0


def test_all_pages(server: FakeKiwoom, capsys: pytest.CaptureFixture[str]) -> None:
    def handler(req: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        n = int(req.headers.get("next-key") or 0)
        more = "Y" if n < 2 else "N"
        return reply({**OK, "page": n}, headers={"cont-yn": more, "next-key": str(n + 1)})

    server.handlers["ka10099"] = handler
    assert main(["kiwoom", "ka10099", '{"mrkt_tp":"0"}', "--all-pages"]) == 0
    assert [p["page"] for p in json.loads(capsys.readouterr().out)] == [0, 1, 2]


def test_api_error_is_reported_without_traceback(
    server: FakeKiwoom, capsys: pytest.CaptureFixture[str]
) -> None:
    server.handlers["kt10003"] = lambda req, body: reply(
        {"return_code": 2, "return_msg": "입력 값 오류입니다[1511:필수입력 파라미터=cncl_qty]"}
    )
    assert main(["kiwoom", "kt10003", "{}"]) == 1
    err = capsys.readouterr().err
    assert "InputError" in err
    assert "cncl_qty" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["kiwoom", "ka99999"], "unknown api-id"),
        (["kiwoom", "ka10001", "{not json"], "invalid JSON"),
        (["kiwoom", "ka10001", "[1,2]"], "must be an object"),
        (["kiwoom", "0B"], "WebSocket"),
    ],
)
def test_usage_errors_exit_2(
    env: Path, argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_unreachable_simulator_gives_a_hint(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kiwoom", "ka10001", '{"stk_cd":"005930"}']) == 1
    err = capsys.readouterr().err
    assert "gslts sim" in err
    assert "Traceback" not in err
    assert APP_KEY not in err


def test_real_orders_need_opt_in(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIWOOM_MODE", "real")
    monkeypatch.setenv("KIWOOM_REST_URL", "http://127.0.0.1:9")
    assert main(["kiwoom", "kt10000", "{}"]) == 2
    assert "KIWOOM_ALLOW_REAL_ORDERS" in capsys.readouterr().err


def test_list(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kiwoom", "--list"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 207
    assert "ka10081" in out
    assert "주식일봉차트조회요청" in out
