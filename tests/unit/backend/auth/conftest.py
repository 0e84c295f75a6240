"""An app on a SQLite file of its own, with the hub unreachable (auth needs no hub)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gslts_backend.app import create_app
from gslts_backend.settings import BackendSettings

ADMIN_PASSWORD = "correct-horse-battery-9"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(tmp_path: Path, **kw: object) -> BackendSettings:
    base: dict[str, object] = {
        "redis_url": None,
        "hub_url": f"http://127.0.0.1:{_closed_port()}",
        "database_url": f"sqlite:///{tmp_path / 'auth.db'}",
        "data_dir": tmp_path,
        "gslts_admin_user": "admin",
        "gslts_admin_password": ADMIN_PASSWORD,
    }
    base.update(kw)
    return BackendSettings(_env_file=None, **base)  # type: ignore[call-arg, arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> BackendSettings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: BackendSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as c:
        yield c


def bearer(
    client: TestClient, username: str = "admin", password: str = ADMIN_PASSWORD
) -> dict[str, str]:
    r = client.post(
        "/api/auth/login", json={"username": username, "password": password, "token": "bearer"}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
