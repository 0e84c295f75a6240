"""The backend serves the dashboard's static export at ``/`` after every API route: pages by
folder (``/stock/`` → ``stock/index.html``, with its query string), the export's 404 page
for an unknown page, and still the one JSON error shape for an unknown or wrongly-called
``/api`` path. Nothing is mounted when the export is absent (a fresh checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gslts_backend.app import create_app
from gslts_backend.settings import BackendSettings


def _export(root: Path) -> Path:
    (root / "stock").mkdir(parents=True)
    (root / "_next" / "static").mkdir(parents=True)
    (root / "index.html").write_text("<html>home</html>")
    (root / "stock" / "index.html").write_text("<html>stock page</html>")
    (root / "404.html").write_text("<html>not found page</html>")
    (root / "_next" / "static" / "app.js").write_text("console.log(1)")
    return root


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    app = create_app(BackendSettings(_env_file=None), frontend_dir=_export(tmp_path / "out"))
    return TestClient(app)  # no lifespan: only routing is under test


def test_pages_and_assets(client: TestClient) -> None:
    assert client.get("/").text == "<html>home</html>"
    r = client.get("/stock/?code=005930")
    assert r.status_code == 200
    assert r.text == "<html>stock page</html>"
    assert client.get("/stock").status_code in (200, 307)  # html=True redirects to /stock/
    assert client.get("/_next/static/app.js").text == "console.log(1)"
    r = client.get("/no-such-page/")
    assert r.status_code == 404
    assert "not found page" in r.text


@pytest.mark.parametrize("path", ["/api/nope", "/api/", "/api", "/ws/x", "/openapi.json/x"])
def test_unknown_api_paths_stay_json(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"] == "NotFound"


def test_a_wrong_method_on_an_api_route_is_still_405(client: TestClient) -> None:
    r = client.post("/api/health")
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]
    assert r.json()["error"] == "MethodNotAllowed"


def test_the_openapi_document_is_still_served(client: TestClient) -> None:
    assert "/api/health" in client.get("/openapi.json").json()["paths"]


def test_nothing_mounted_without_an_export(tmp_path: Path) -> None:
    app = create_app(BackendSettings(_env_file=None), frontend_dir=tmp_path / "missing")
    r = TestClient(app).get("/")
    assert r.status_code == 404
    assert r.json()["error"] == "NotFound"
