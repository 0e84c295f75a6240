"""Sessions: cookie + CSRF, bearer, logout, expiry, roles."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from gslts_backend.settings import BackendSettings
from gslts_db import KST, make_engine
from gslts_db.models import AuthSession
from tests.unit.backend.auth.conftest import ADMIN_PASSWORD, bearer


def test_login_with_a_cookie_needs_csrf_on_state_changes(client: TestClient) -> None:
    r = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf_token"]
    set_cookie = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("gslts_session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=strict" in session_cookie
    csrf_cookie = next(c for c in set_cookie if c.startswith("gslts_csrf="))
    assert "HttpOnly" not in csrf_cookie
    assert client.get("/api/auth/me").json()["username"] == "admin"
    # a state-changing request without / with a wrong CSRF token: 403
    body = {"username": "viewer1", "password": "another-good-lamp-1", "role": "viewer"}
    r = client.post("/api/users", json=body)
    assert r.status_code == 403
    assert "CSRF" in r.json()["detail"]
    r = client.post("/api/users", json=body, headers={"X-CSRF-Token": "nope"})
    assert r.status_code == 403
    r = client.post("/api/users", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    # logout revokes the cookie session
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.clear()
    assert client.get("/api/auth/me").status_code == 401


def test_bearer_logout_revokes_the_token(client: TestClient) -> None:
    h = bearer(client)
    assert client.get("/api/auth/me", headers=h).status_code == 200
    assert client.post("/api/auth/logout", headers=h).status_code == 204
    r = client.get("/api/auth/me", headers=h)
    assert r.status_code == 401
    assert r.json()["error"] == "Unauthorized"


def test_an_expired_session_is_refused(client: TestClient, settings: BackendSettings) -> None:
    h = bearer(client)
    engine = make_engine(settings.resolved_database_url())
    with engine.begin() as conn:
        conn.execute(
            sa.update(AuthSession).values(expires_at=datetime.now(KST) - timedelta(seconds=1))
        )
    engine.dispose()
    assert client.get("/api/auth/me", headers=h).status_code == 401


def test_a_viewer_cannot_do_admin_things_and_disabling_revokes(client: TestClient) -> None:
    admin = bearer(client)
    r = client.post(
        "/api/users",
        json={"username": "v1", "password": "viewer-lamp-stone-7", "role": "viewer"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    v = bearer(client, "v1", "viewer-lamp-stone-7")
    assert client.get("/api/users", headers=v).status_code == 403
    assert client.get("/api/session", headers=v).status_code == 200
    r = client.patch(f"/api/users/{uid}", json={"is_active": False}, headers=admin)
    assert r.status_code == 200
    assert client.get("/api/session", headers=v).status_code == 401


def test_session_says_mode_and_order_refusal(client: TestClient) -> None:
    doc = client.get("/api/session", headers=bearer(client)).json()
    assert doc["mode"] == "sim"
    assert doc["orders_allowed"] is True
    assert doc["kiwoom_token_expires_at"] is None
    assert doc["hub"]["connected"] is False


def test_brute_force_gets_429(client: TestClient) -> None:
    for _ in range(5):
        r = client.post("/api/auth/login", json={"username": "admin", "password": "wrong-one"})
        assert r.status_code == 401
    r = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
