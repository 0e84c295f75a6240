"""A Kiwoom failure a route lets through answers in the one error shape — 429 rate limit,
503 unreachable, 502 refused (with Kiwoom's code), 404 for an unknown stock on a stock's
route — never a 500 (the market routes' ka10001/ka10004 fallbacks relied on this)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gslts_backend.app import create_app
from gslts_kiwoom import APIError, InputError, KiwoomError, RateLimitError, TransportError
from tests.unit.backend.auth.conftest import make_settings

FAILURES: dict[str, KiwoomError] = {
    "rate": RateLimitError("ka10001", 5, "1700", "허용된 요청 개수를 초과하였습니다[1700]"),
    "down": TransportError("connection refused", api_id="ka10001", request_sent=False),
    "refused": APIError("ka10004", 2, "1511", "필수 입력 값에 값이 존재하지 않습니다[1511]"),
    "unknown": InputError("ka10001", 2, "1902", "존재하지 않는 종목코드입니다[1902]"),
    "other": KiwoomError("something else"),
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path))

    @app.get("/test-kiwoom/{what}")
    def fail(what: str) -> None:
        raise FAILURES[what]

    @app.get("/test-kiwoom-stock/{code}")
    def fail_stock(code: str) -> None:
        raise FAILURES["unknown"]

    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    ("what", "status", "name", "kiwoom_code"),
    [
        ("rate", 429, "TooManyRequests", "1700"),
        ("down", 503, "Unavailable", None),
        ("refused", 502, "BadGateway", "1511"),
        ("unknown", 502, "BadGateway", "1902"),  # not a stock's route: Kiwoom refused
        ("other", 502, "BadGateway", None),
    ],
)
def test_a_kiwoom_failure_is_mapped(
    client: TestClient, what: str, status: int, name: str, kiwoom_code: str | None
) -> None:
    r = client.get(f"/test-kiwoom/{what}")
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == name
    assert body.get("kiwoom_code") == kiwoom_code
    if status in (429, 503):
        assert int(r.headers["Retry-After"]) >= 1


def test_an_unknown_stock_on_a_stock_route_is_404(client: TestClient) -> None:
    r = client.get("/test-kiwoom-stock/005930")
    assert r.status_code == 404
    assert r.json()["field"] == "code"
    assert r.json()["kiwoom_code"] == "1902"
