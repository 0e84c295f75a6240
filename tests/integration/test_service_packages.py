"""Each service runs alone from an environment that holds only its own workspace member
and what that member declares (what its container installs): a missing declaration, or
an import of another service, fails here. The set comes from the lock alone
(``uv export --frozen --package …``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.harness import wait_for

UV = Path(sys.executable).parent / "uv"

pytestmark = pytest.mark.integration


def _env_with_only(package: str, tmp: Path) -> Path:
    req = tmp / "requirements.txt"
    subprocess.run(
        [str(UV), "export", "--frozen", "--package", package, "--no-dev", "--no-hashes",
         "--quiet", "-o", str(req)],
        cwd=REPO_ROOT, check=True,
    )  # fmt: skip
    venv = tmp / "venv"
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
         "-r", str(req)],
        cwd=REPO_ROOT, check=True,
    )  # fmt: skip
    return venv / "bin" / "python"


def _importable(python: Path, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([str(python), "-c", code], check=False).returncode == 0


def test_the_hub_runs_from_an_environment_with_only_the_hub(tmp_path: Path) -> None:
    python = _env_with_only("gslts-hub", tmp_path)
    for other in ("gslts_backend", "gslts_cli"):
        assert not _importable(python, other), f"{other} came with the hub"
    port = free_port_now()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HUB_PORT": str(port),
        "DATA_DIR": str(tmp_path / "data"),
        "KIWOOM_MODE": "sim",
        "SIM_PORT": str(free_port_now()),  # nothing listens: the hub serves, it cannot collect
        "HUB_SCHEDULE": "always",
    }
    proc = subprocess.Popen(
        [str(python), "-m", "gslts_hub"], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:

        def answers() -> bool:
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=2).status_code == 200
                )
            except httpx.HTTPError:
                return proc.poll() is not None  # stop waiting when it died

        assert wait_for(answers, 120)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
        assert health.status_code == 503  # and it says why (no simulator to collect from)
        assert health.json()["reasons"]
    finally:
        proc.terminate()
        proc.wait(30)


def free_port_now() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_backend_runs_from_an_environment_with_only_the_backend(tmp_path: Path) -> None:
    python = _env_with_only("gslts-backend", tmp_path)
    for other in ("gslts_hub", "gslts_cli"):
        assert not _importable(python, other), f"{other} came with the backend"
    port = free_port_now()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "BACKEND_PORT": str(port),
        "DATA_DIR": str(tmp_path / "data"),
        "KIWOOM_MODE": "sim",
        "HUB_URL": f"http://127.0.0.1:{free_port_now()}",  # no hub there: it serves, degraded
    }
    proc = subprocess.Popen(
        [str(python), "-m", "gslts_backend"], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:

        def answers() -> bool:
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
                )
            except httpx.HTTPError:
                return proc.poll() is not None

        assert wait_for(answers, 120)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).json()
        assert health["status"] == "degraded"
        assert health["bus"]["transport"] == "stream"
    finally:
        proc.terminate()
        proc.wait(30)
