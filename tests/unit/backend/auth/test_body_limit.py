"""BACKEND_MAX_BODY_BYTES: a body over it is a 413 in the one error shape, whether its
Content-Length says so or it arrives chunked; a body within it reaches the route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from gslts_backend.app import create_app
from tests.unit.backend.auth.conftest import make_settings

LIMIT = 2048


def _client(tmp_path: Path) -> TestClient:
    return TestClient(
        create_app(make_settings(tmp_path, backend_max_body_bytes=LIMIT)),
        base_url="http://127.0.0.1",
    )


def test_a_body_over_the_limit_is_413(tmp_path: Path) -> None:
    big = json.dumps({"username": "admin", "password": "x" * (LIMIT + 10)}).encode()
    json_type = {"Content-Type": "application/json"}
    with _client(tmp_path) as c:
        r = c.post("/api/auth/login", content=big, headers=json_type)
        assert r.status_code == 413
        assert r.json()["error"] == "ContentTooLarge"
        assert "BACKEND_MAX_BODY_BYTES" in r.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for i in range(0, len(big), 512):
                yield big[i : i + 512]

        r = c.post(
            "/api/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 413
        assert r.json()["error"] == "ContentTooLarge"
        # within the limit: the route answers (a wrong password)
        r = c.post("/api/auth/login", json={"username": "admin", "password": "x" * 100})
        assert r.status_code == 401


def test_every_answer_says_the_server_side_time(tmp_path: Path) -> None:
    """``Server-Timing`` (gslts_common.server_timing): what the query benchmark reads."""
    from gslts_common.server_timing import parse

    with _client(tmp_path) as c:
        for r in (c.get("/api/health"), c.get("/api/orders"), c.post("/api/auth/login")):
            assert parse(r.headers.get("server-timing")) is not None, r.status_code
