"""The whole system as ``make run`` starts it (``gslts run``: the simulator, the hub and the
backend serving the dashboard's static export at ``/``), on an own MariaDB schema and
free ports, driven by Debian's headless Chromium through Playwright (CDP; no browser is
downloaded: ``executable_path`` is the system's ``chromium``).

Skipped loudly (a failure under ``GSLTS_REQUIRE_SERVICES=1``) when Chromium, MariaDB or the
built dashboard (``make frontend``) is missing.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gslts_db import make_engine, upgrade
from tests.conftest import CHROMIUM_ARGS, REPO_ROOT, missing
from tests.e2e.harness import free_port, own_schema, wait_for

DASHBOARD = REPO_ROOT / "frontend" / "out" / "index.html"
#: the stocks the tests look at trade often (the simulator's rate focused on them)
FOCUS = ("005930", "000660", "035420")


@dataclass
class System:
    url: str
    sim_url: str
    hub_url: str
    data_dir: Path
    username: str
    password: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def market_rate(self, trades_per_s: float, codes: Sequence[str]) -> None:
        """Only ``codes`` trade from now on, ``trades_per_s`` in all (POST /_sim/rate)."""
        httpx.post(
            self.sim_url + "/_sim/rate",
            json={"trades_per_s": trades_per_s, "codes": list(codes)},
            timeout=10,
        ).raise_for_status()

    def api(self) -> httpx.Client:
        """An API client logged in as the admin (bearer: no CSRF needed)."""
        r = httpx.post(
            self.url + "/api/auth/login",
            json={"username": self.username, "password": self.password, "token": "bearer"},
            timeout=10,
        )
        r.raise_for_status()
        token = r.json()["token"]
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )


def _get(url: str) -> Any:
    try:
        r = httpx.get(url, timeout=5)
        return r.json() if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


@contextlib.contextmanager
def running_system(
    mysql_server_url: str,
    tmp: Path,
    *,
    focus: Sequence[str] = FOCUS,
    trades_per_s: float = 30,
) -> Iterator[System]:
    """``gslts run`` on an own schema of ``mysql_server_url``, its market focused on
    ``focus`` at ``trades_per_s``, the stock master loaded; stopped on exit."""
    data = tmp / "data"
    sim_port, hub_port, backend_port = free_port(), free_port(), free_port()
    with own_schema(mysql_server_url) as db_url:
        engine = make_engine(db_url)
        upgrade(engine)  # before the hub and the backend both try (no race on a new schema)
        engine.dispose()
        prefixes = ("HUB_", "KIWOOM_", "SIM_", "BACKEND_", "GSLTS_", "WS_", "ACCOUNT_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        env.update(
            KIWOOM_MODE="sim", SIM_PORT=str(sim_port), HUB_PORT=str(hub_port),
            BACKEND_PORT=str(backend_port), DATA_DIR=str(data), REDIS_URL="",
            DATABASE_URL=db_url, SIM_TRADES_PER_S="200",
        )  # fmt: skip
        log_path = tmp / "run.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gslts_cli.cli", "run"],
                cwd=tmp,  # no developer .env
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                url = f"http://127.0.0.1:{backend_port}"
                pw_file = data / "admin-password.txt"

                def up() -> bool:
                    h = _get(url + "/api/health")
                    return bool(h) and h["status"] == "ok" and pw_file.exists()

                assert wait_for(up, 180), log_path.read_text(errors="replace")[-6000:]
                user, password = pw_file.read_text().split("\n")[:2]
                sys_ = System(
                    url=url,
                    sim_url=f"http://127.0.0.1:{sim_port}",
                    hub_url=f"http://127.0.0.1:{hub_port}",
                    data_dir=data,
                    username=user.strip(),
                    password=password.strip(),
                    log_path=log_path,
                )
                sys_.market_rate(trades_per_s, focus)
                with sys_.api() as api:

                    def master_loaded() -> bool:
                        r = api.get("/api/stocks/status")
                        return r.status_code == 200 and r.json().get("state") == "ok"

                    assert wait_for(master_loaded, 120), sys_.log()
                yield sys_
            finally:
                proc.terminate()
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


@pytest.fixture(scope="module")
def system(mysql_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    if not DASHBOARD.is_file():
        missing(f"the dashboard is not built ({DASHBOARD} absent): run `make frontend`")
    with running_system(mysql_server_url, tmp_path_factory.mktemp("dashboard")) as sys_:
        yield sys_


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=list(CHROMIUM_ARGS))
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: GSLTS_SCREENSHOT_DIR (``docs`` refreshes the README's), else
    a temporary folder (the test artifacts)."""
    d = os.environ.get("GSLTS_SCREENSHOT_DIR")
    path = Path(d) if d else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
