"""The main server's skeleton: its health tells whether it has the hub's live data, and
every error answers in the one shape."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gslts_backend.app import create_app
from gslts_backend.settings import BackendSettings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = BackendSettings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=None,
        hub_url=f"http://127.0.0.1:{_closed_port()}",
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_health_says_degraded_while_the_hub_is_unreachable(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200  # the process serves; live data is what is missing
    doc = r.json()
    assert doc["status"] == "degraded"
    assert doc["bus"]["transport"] == "stream"
    assert doc["bus"]["connected"] is False
    assert doc["reasons"]
    assert doc["reasons"][0].startswith("bus: not following the hub (http://127.0.0.1:")
    assert doc["mode"] == "sim"


def test_errors_answer_in_the_one_shape(client: TestClient) -> None:
    r = client.get("/api/nothing-here")
    assert r.status_code == 404
    assert r.json() == {"error": "NotFound", "detail": "Not Found"}
    r = client.post("/api/health")
    assert r.status_code == 405
    assert r.json()["error"] == "MethodNotAllowed"


def test_a_redis_url_with_a_password_is_not_shown() -> None:
    settings = BackendSettings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=f"redis://:hunter2-secret@127.0.0.1:{_closed_port()}/0",
    )
    with TestClient(create_app(settings)) as c:
        doc = c.get("/api/health").json()
    assert doc["bus"]["transport"] == "redis"
    assert "hunter2" not in str(doc)
