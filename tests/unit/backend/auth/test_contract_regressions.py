"""What the schemathesis contract run (tests/integration/backend/test_openapi_contract.py)
found, held here as plain examples: an audit time given as a number was read as a Unix
time (the document says ISO date-time), and a body that is not UTF-8 is a declared 400
in the one error shape."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.backend.auth.conftest import bearer


def test_audit_times_must_be_iso(client: TestClient) -> None:
    h = bearer(client)
    for bad in ("0.5", "1772496000", "-3", "1e9"):
        r = client.get("/api/audit", params={"to": bad}, headers=h)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"] == "BadInput"
        assert "ISO 8601" in r.json()["detail"]
    r = client.get("/api/audit", params={"from": "2026-03-03T09:00:00+09:00"}, headers=h)
    assert r.status_code == 200, r.text


def test_a_body_that_is_not_utf8_is_a_declared_400(client: TestClient) -> None:
    h = {**bearer(client), "Content-Type": "application/json"}
    r = client.post("/api/users", content=b"\xdd\x87\xff", headers=h)
    assert r.status_code == 400
    assert r.json()["error"] == "BadRequest"
    declared = client.get("/openapi.json").json()["paths"]["/api/users"]["post"]["responses"]
    assert declared["400"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")
