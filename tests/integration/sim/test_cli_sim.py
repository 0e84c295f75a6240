"""``gslts sim`` starts a real server that answers a token and a ka10001 quote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gslts_kiwoom import krx
from tests.conftest import REPO_ROOT

GSLTS = REPO_ROOT / ".venv" / "bin" / "gslts"


def _wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gslts sim exited early with {proc.returncode}")
        try:
            httpx.get(f"{url}/_sim/state", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("gslts sim did not start listening")


def test_gslts_sim_serves_token_and_quote(free_port: int, tmp_path: Path) -> None:
    exe = str(GSLTS) if GSLTS.exists() else None
    cmd = [exe] if exe else [sys.executable, "-m", "gslts_cli.cli"]
    log = (tmp_path / "sim.log").open("wb")
    proc = subprocess.Popen(
        [*cmd, "sim", "--port", str(free_port), "--clock", "always", "--seed", "3"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,  # no .env from the developer's checkout
        # settings reach the simulator: only this key pair is accepted
        env={**os.environ, "SIM_APP_KEY": "app-a", "SIM_SECRET_KEY": "secret-b"},
    )
    url = f"http://127.0.0.1:{free_port}"
    try:
        _wait_up(url, proc)
        wrong = httpx.post(
            f"{url}/oauth2/token",
            json={"grant_type": "client_credentials", "appkey": "app-a", "secretkey": "nope"},
            timeout=10,
        ).json()
        assert wrong["return_code"] != 0
        assert "8002" in wrong["return_msg"] or "8001" in wrong["return_msg"]
        tok = httpx.post(
            f"{url}/oauth2/token",
            json={"grant_type": "client_credentials", "appkey": "app-a", "secretkey": "secret-b"},
            timeout=10,
        ).json()
        assert tok["return_code"] == 0
        r = httpx.post(
            f"{url}/api/dostk/stkinfo",
            json={"stk_cd": "005930"},
            headers={
                "api-id": "ka10001",
                "authorization": f"Bearer {tok['token']}",
                "content-type": "application/json;charset=UTF-8",
            },
            timeout=30,
        )
        data = r.json()
        assert r.headers["api-id"] == "ka10001"
        assert data["return_code"] == 0
        assert data["stk_nm"] == "삼성전자"
        assert krx.is_valid_price(abs(int(data["cur_prc"])))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("gslts sim did not stop on SIGTERM")
        log.close()
    text = (tmp_path / "sim.log").read_text(encoding="utf-8")
    assert f"url=http://127.0.0.1:{free_port}" in text
    assert "clock=always" in text
    assert "universe=2746" in text
