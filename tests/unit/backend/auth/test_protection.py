"""Every /api/* route but login and health refuses without a session; roles; WebSocket
Origin; audit trail; no password in the logs."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gslts_backend.app import create_app
from gslts_backend.auth import orders_refusal
from gslts_backend.deps import Principal, require_role
from gslts_backend.security import order_rate_limit
from tests.unit.backend.auth.conftest import ADMIN_PASSWORD, bearer, make_settings

OPEN_ROUTES = {"/api/auth/login", "/api/health"}


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_api_route_refuses_without_a_session(client: TestClient) -> None:
    """Every operation of the OpenAPI document (so every area's routes as they land)."""
    checked = 0
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        if not path.startswith("/api/") or path in OPEN_ROUTES:
            continue
        for method in operations:
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                continue
            r = client.request(method.upper(), _fill(path))
            assert r.status_code == 401, f"{method} {path}: {r.status_code} {r.text}"
            assert r.json()["error"] == "Unauthorized"
            r = client.request(method.upper(), _fill(path), headers={"Authorization": "Bearer x"})
            assert r.status_code == 401, f"{method} {path} with a bad token"
            checked += 1
    assert checked >= 7  # auth's own routes at least


def test_a_viewer_cannot_call_a_trader_route(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    test_router = APIRouter()

    @test_router.post("/api/test-trade")
    def trade(p: Annotated[Principal, Depends(order_rate_limit)]) -> dict[str, str]:
        return {"by": p.username}

    @test_router.get("/api/test-admin")
    def admin_only(p: Annotated[Principal, Depends(require_role("admin"))]) -> dict[str, str]:
        return {"by": p.username}

    app.include_router(test_router)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        admin = bearer(c)
        for name, role in (("v1", "viewer"), ("t1", "trader")):
            r = c.post(
                "/api/users",
                headers=admin,
                json={"username": name, "password": "lamp-stone-river-7", "role": role},
            )
            assert r.status_code == 201, r.text
        viewer, trader = (
            bearer(c, "v1", "lamp-stone-river-7"),
            bearer(c, "t1", "lamp-stone-river-7"),
        )
        r = c.post("/api/test-trade", headers=viewer)
        assert r.status_code == 403
        assert r.json()["error"] == "Forbidden"
        assert c.post("/api/test-trade", headers=trader).json() == {"by": "t1"}
        assert c.get("/api/test-admin", headers=trader).status_code == 403
        assert c.post("/api/test-trade", headers=admin).status_code == 200
        # the order rate limit (burst 10 per user): past it 429 with Retry-After
        codes = [c.post("/api/test-trade", headers=trader).status_code for _ in range(12)]
        assert 429 in codes
        r = c.post("/api/test-trade", headers=trader)
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1


def test_orders_refused_in_real_mode_without_opt_in(tmp_path: Path) -> None:
    s = make_settings(tmp_path, kiwoom_mode="real")
    assert orders_refusal(s) is not None
    assert "KIWOOM_ALLOW_REAL_ORDERS" in str(orders_refusal(s))
    assert (
        orders_refusal(make_settings(tmp_path, kiwoom_mode="real", kiwoom_allow_real_orders=True))
        is None
    )
    assert orders_refusal(make_settings(tmp_path)) is None


def test_websocket_from_a_foreign_origin_is_refused(client: TestClient) -> None:
    h = bearer(client)
    foreign = {**h, "Origin": "http://evil.example"}
    with (
        pytest.raises(WebSocketDisconnect) as exc,
        client.websocket_connect("/ws", headers=foreign) as ws,
    ):
        ws.receive_json()
    assert exc.value.code == 4403
    with pytest.raises(WebSocketDisconnect) as exc, client.websocket_connect("/ws") as ws:
        ws.receive_json()
    assert exc.value.code == 4401


def test_passwords_never_reach_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(make_settings(tmp_path)), base_url="http://127.0.0.1") as c:
        c.post("/api/auth/login", json={"username": "admin", "password": "wrong-Secret-xyz"})
        bearer(c)
        r = c.get("/api/audit", headers=bearer(c))
        assert r.status_code == 200
        items = r.json()["items"]
        assert {i["outcome"] for i in items if i["action"] == "auth.login"} == {"ok", "failed"}
        assert "wrong-Secret-xyz" not in r.text
        assert ADMIN_PASSWORD not in r.text
    assert "failed login" in caplog.text
    assert "wrong-Secret-xyz" not in caplog.text
    assert ADMIN_PASSWORD not in caplog.text


def test_sim_mode_generates_a_one_time_admin_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with TestClient(
        create_app(make_settings(tmp_path, gslts_admin_password=None)), base_url="http://127.0.0.1"
    ) as c:
        f = tmp_path / "admin-password.txt"
        assert f.stat().st_mode & 0o777 == 0o600
        user, password = f.read_text().split()
        assert user == "admin"
        assert password in caplog.text
        assert (
            c.post("/api/auth/login", json={"username": user, "password": password}).status_code
            == 200
        )


def test_a_placeholder_admin_password_stops_a_real_mode_start(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, kiwoom_mode="mock", gslts_admin_password="changeme"))
    with (
        pytest.raises(RuntimeError, match="GSLTS_ADMIN_PASSWORD refused"),
        TestClient(app, base_url="http://127.0.0.1"),
    ):
        pass
