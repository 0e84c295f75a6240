"""Shared test plumbing: real-service fixtures and the loud report of skipped services.

Integration tests use the real MariaDB/MySQL and Redis on loopback. When one is missing,
its tests are skipped with a reason that names the service, and the end of the run prints
them in a box; with ``GSLTS_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a missing service is
a failure instead. The same holds for everything else a test needs from outside the
repository: Chromium, the ``../shared`` reference material, an optional package (extra).
No test is skipped quietly.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"

DEFAULT_TEST_DATABASE_URL = "mysql+pymysql://root@127.0.0.1:3306/gslts_test"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"

_SERVICE_SKIP_PREFIX = "SERVICE UNAVAILABLE"


def services_required() -> bool:
    return os.environ.get("GSLTS_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def _reachable(url: str, default_port: int) -> str | None:
    """None when a TCP connection to the URL's host:port works, else the error text."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return f"{host}:{port}: {exc}"


def missing(what: str, *, module_level: bool = False) -> NoReturn:
    """Skip loudly (listed in the end-of-run banner) because ``what`` is missing, or fail
    under GSLTS_REQUIRE_SERVICES=1. ``module_level``: called while a test module is
    imported (skips or fails the whole module)."""
    msg = f"{_SERVICE_SKIP_PREFIX}: {what}"
    if services_required():
        pytest.fail(msg + " — GSLTS_REQUIRE_SERVICES=1 makes this a failure", pytrace=False)
    pytest.skip(msg, allow_module_level=module_level)


def need_service(name: str, url: str, default_port: int) -> None:
    """Skip (or fail under GSLTS_REQUIRE_SERVICES=1) when the service cannot be reached."""
    err = _reachable(url, default_port)
    if err is not None:
        missing(f"{name} not reachable ({err})")


def need_import(module: str, provided_by: str) -> None:
    """At a test module's top: skip the module loudly (or fail it under
    GSLTS_REQUIRE_SERVICES=1) when ``module`` cannot be imported."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        missing(f"{module} not importable, install {provided_by} ({exc})", module_level=True)


@pytest.fixture(scope="session")
def mysql_server_url() -> str:
    """URL of the real MariaDB/MySQL test database (TEST_DATABASE_URL overrides)."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    need_service("MariaDB/MySQL", url, 3306)
    return url


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """URL of the real Redis used by tests (TEST_REDIS_URL overrides; db 15 by default)."""
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    need_service("Redis", url, 6379)
    return url


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` (protocol reference, catalogue, data). Absent → skipped loudly, or a
    failure under GSLTS_REQUIRE_SERVICES=1 (CI checks out the reference material)."""
    if not SHARED_DIR.is_dir():
        missing(f"{SHARED_DIR} is absent (the reference material is not shipped)")
    return SHARED_DIR


CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium for browser tests (CHROMIUM overrides the path).

    Missing → skipped loudly, or a failure under GSLTS_REQUIRE_SERVICES=1 (.ci/run installs
    the ``chromium`` package).
    """
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        missing("Chromium not installed (apt-get install chromium)")
    return path


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    service_skips: list[str] = []
    for rep in skipped:
        longrepr = getattr(rep, "longrepr", None)
        text = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        if _SERVICE_SKIP_PREFIX in text:
            service_skips.append(f"{rep.nodeid}: {text.split('Skipped: ')[-1]}")
    if service_skips:
        bar = "!" * 78
        terminalreporter.write_line(bar, red=True, bold=True)
        terminalreporter.write_line(
            f"{len(service_skips)} test(s) or module(s) SKIPPED because a service or "
            "something else from outside the repository is missing (start MariaDB/Redis, "
            "or run .ci/run):",
            red=True,
            bold=True,
        )
        for line in service_skips[:50]:
            terminalreporter.write_line("  " + line, red=True)
        terminalreporter.write_line(bar, red=True, bold=True)
