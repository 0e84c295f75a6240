"""docker/preflight.py (every image's entrypoint) refuses placeholder secrets outside sim,
with the environment each compose service really gets; docker/healthcheck.py passes on
2xx only. Both run as the containers run them: a subprocess with that environment."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.unit.deploy import deploy_files as d

PREFLIGHT = REPO_ROOT / "docker" / "preflight.py"
HEALTHCHECK = REPO_ROOT / "docker" / "healthcheck.py"
APP_SERVICES = ("migrate", "sub-server", "backend")
GOOD = "0f3c9a1b7e5d2c4a8b6e"


def preflight(env: dict[str, str], *cmd: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(PREFLIGHT), *(cmd or (sys.executable, "-c", "print('ran')"))]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)


def service_env(service: str, **dotenv: str) -> dict[str, str]:
    """What the container of ``service`` gets from ``cp .env.example .env`` + edits."""
    values = {**d.dotenv(d.ENV_EXAMPLE), **dotenv}
    return d.service_environment(d.compose(values)["services"][service], values)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_sim_starts_with_the_shipped_defaults(service: str) -> None:
    result = preflight(service_env(service))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ran"  # the command itself ran (exec)


@pytest.mark.parametrize("mode", ["mock", "real"])
@pytest.mark.parametrize("service", APP_SERVICES)
def test_mock_and_real_refuse_the_development_password(service: str, mode: str) -> None:
    result = preflight(service_env(service, KIWOOM_MODE=mode))
    assert result.returncode == 78
    assert "MYSQL_PASSWORD" in result.stderr or "DATABASE_URL" in result.stderr
    assert "gslts-dev-only" not in result.stderr, "a refusal never prints the secret"
    assert "ran" not in result.stdout


@pytest.mark.parametrize(
    "secret",
    ["change-me-please-now", "my-password-123", "short1", "examplesecret99", ""],
)
def test_placeholders_are_refused_in_mock(secret: str) -> None:
    env = service_env("backend", KIWOOM_MODE="mock", MYSQL_PASSWORD=secret or GOOD)
    if secret:
        assert preflight(env).returncode == 78
    # the admin password: a placeholder is refused, empty is left to the backend
    env = service_env("backend", KIWOOM_MODE="mock", MYSQL_PASSWORD=GOOD)
    env["GSLTS_ADMIN_PASSWORD"] = secret
    result = preflight(env)
    assert result.returncode == (78 if secret else 0), result.stderr


def test_real_secrets_start_in_real_mode() -> None:
    env = service_env("backend", KIWOOM_MODE="real", MYSQL_PASSWORD=GOOD)
    env["GSLTS_ADMIN_PASSWORD"] = "Tq7-vB2k-Lm9x-Pw4z"
    result = preflight(env)
    assert result.returncode == 0, result.stderr


def test_a_password_that_breaks_the_url_is_refused_in_every_mode() -> None:
    for mode in ("sim", "mock"):
        env = service_env("migrate", KIWOOM_MODE=mode, MYSQL_PASSWORD="abc@def/ghi:jkl#mno")
        result = preflight(env)
        assert result.returncode == 78
        assert "openssl rand" in result.stderr


def test_without_a_command_it_says_so() -> None:
    result = subprocess.run(
        [sys.executable, str(PREFLIGHT)], capture_output=True, text=True, check=False, timeout=30
    )
    assert result.returncode == 2


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = int(self.path.strip("/") or 200)
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b'{"reasons": ["websocket connecting"]}')

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _health(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), url, "5"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip


def test_the_health_check_passes_on_2xx_only(server: str) -> None:
    assert _health(f"{server}/200").returncode == 0
    unhealthy = _health(f"{server}/503")
    assert unhealthy.returncode == 1
    assert "websocket connecting" in unhealthy.stderr  # docker inspect shows why
    assert _health(f"{server}/404").returncode == 1
    assert _health("file:///etc/passwd").returncode == 1


def test_the_health_check_fails_when_nothing_listens() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert _health(f"http://127.0.0.1:{port}/api/health").returncode == 1
