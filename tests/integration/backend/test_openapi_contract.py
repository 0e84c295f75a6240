"""The backend's OpenAPI document is its contract (the frontend's typed client is generated
from it): schemathesis generates requests from it (examples, coverage probes including
undeclared methods, fuzzing) and every answer must match what the document declares —
status code, media type, headers, body schema — with no 5xx, and every error in the one
shape (:class:`gslts_common.errors.ErrorBody`, also for 422).

The real backend (uvicorn on a port) on the simulator (REST over a real socket, ka10099
for the stock master, ka10001/ka10004, kt00018/kt00001, au10001/au10002) and MariaDB (a
schema of its own); no hub (its URL is a closed port: the bus reports itself down, the
book's lease fails quietly). Requests carry an admin's bearer token from
``POST /api/auth/login``; schemathesis' own auth probes (no or a wrong token) must get
401. Bounded: ``MAX_EXAMPLES`` per operation, derandomized, under 3 minutes.

Two things a generator must not do to the session it tests with: log it out (the logout
operation gets a fresh token of its own each time) and change the admin it belongs to
(``PATCH /api/users/{id}`` of that admin is sent to a user made for it instead).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from gslts_backend.app import create_app
from gslts_backend.settings import BackendSettings
from tests.e2e.harness import Market, own_schema
from tests.integration.backend.ws import harness
from tests.integration.backend.ws.harness import wait_for

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 25
#: one request's read timeout (a Kiwoom fallback on a loaded 2-core box takes seconds)
REQUEST_S = 60
ADMIN = "admin"
ADMIN_PASSWORD = "contract-Admin-pass-9"
#: nothing is left out (the orders routes joined at 65b154f + the path/date fixes)
EXCLUDED_PATHS = r"^$"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def backend_settings(**kw: Any) -> BackendSettings:
    base: dict[str, Any] = {
        "kiwoom_mode": "sim",
        "redis_url": None,
        "hub_url": f"http://127.0.0.1:{_closed_port()}",
        "gslts_admin_user": ADMIN,
        "gslts_admin_password": ADMIN_PASSWORD,
        # the fuzzer's failed logins must not lock the test's own logins out
        "login_max_failures": 1_000_000,
        "order_rate_burst": 1_000_000,
        "kiwoom_rate_per_s": 50,
        "kiwoom_rate_burst": 50,
    }
    base.update(kw)
    return BackendSettings(_env_file=None, **base)  # type: ignore[call-arg]


#: the document, from an app of the same code (building one needs no database: the
#: lifespan is what connects); pytest 9.2 broke schemathesis' lazy ``from_fixture``
DOCUMENT: dict[str, Any] = create_app(backend_settings()).openapi()
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=SchemathesisConfig.from_dict(
        {
            "operations": [
                {
                    # schema-valid but refused by a rule the document does not state: a
                    # cursor is opaque (only one this API returned is valid), a search
                    # query must hold a character a stock name has, a chart's ``before``
                    # is bounded, and a stock code is checked by the route itself (its
                    # 422 names the field and says it in Korean too)
                    "include-path-regex": "^/api/(audit|stocks/|orderbook/|charts/)",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]}
                    },
                },
                {
                    # GET /api/stocks/refresh is answered — by GET /api/stocks/{code}, code
                    # "refresh" (422) — so a 405 there truthfully lists GET in Allow
                    "include-path": "/api/stocks/refresh",
                    "checks": {"allow_header_conformance": {"enabled": False}},
                },
                {
                    # an order the rules refuse (price off the grid or the day's limits,
                    # cash, sellable shares, session phase, a stock Kiwoom does not know:
                    # not JSON Schema rules) is a 422 naming the field; an order that is
                    # not open any more a 409; an unknown id a 404
                    "include-path-regex": "^/api/orders",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "404", "409", "422"]
                        }
                    },
                },
                {
                    # a date that is no KRX session, a backtest range backwards, a duplicate
                    # link or a stock code the stock master does not list: 422 naming the
                    # field (not JSON Schema rules); no data stored yet: 404
                    "include-path-regex": "^/api/sectors/",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]}
                    },
                },
                {
                    # 가능수량: a price outside 1..MAX_PRICE or a code that is not 6
                    # characters is a 422 naming the field (checked by the route, in
                    # Korean too; not JSON Schema rules)
                    "include-path": "/api/account/orderable",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]}
                    },
                },
                {
                    # a user that exists, a weak password (12+ characters, no placeholder:
                    # not a JSON Schema rule), the last admin: 409 / 422 by design
                    "include-path-regex": "^/api/users",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "404", "409", "422"]
                        }
                    },
                },
            ]
        }
    ),
).exclude(path_regex=EXCLUDED_PATHS)


@dataclass
class Backend:
    url: str = ""
    token: str = ""
    admin_id: int = 0
    victim_id: int = 0
    #: statuses each operation answered (the last test checks the run was not vacuous)
    seen: dict[str, set[int]] = field(default_factory=dict)

    def login(self) -> str:
        r = httpx.post(
            self.url + "/api/auth/login",
            json={"username": ADMIN, "password": ADMIN_PASSWORD, "token": "bearer"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token


BACKEND = Backend()


@pytest.fixture(scope="module")
def running_backend(mysql_server_url: str) -> Iterator[Backend]:
    market = Market(trades_per_s=20).start()
    try:
        with (
            own_schema(mysql_server_url) as db_url,
            pytest.MonkeyPatch.context() as mp,
        ):
            mp.setattr(harness, "backend_app", create_app)  # the real auth, no test principal
            s = backend_settings(
                database_url=db_url,
                kiwoom_rest_url=market.rest_url,
                kiwoom_ws_url=market.ws_url,
            )
            with harness.serve(s) as srv:
                BACKEND.url = srv.url
                BACKEND.token = BACKEND.login()
                api = httpx.Client(
                    base_url=srv.url,
                    timeout=30,
                    headers={"Authorization": f"Bearer {BACKEND.token}"},
                )
                BACKEND.admin_id = api.get("/api/auth/me").json()["user_id"]
                r = api.post(
                    "/api/users",
                    json={"username": "contract-victim", "password": "victim-Pass-word-1x",
                          "role": "trader"},
                )  # fmt: skip
                assert r.status_code == 201, r.text
                BACKEND.victim_id = r.json()["id"]
                # the users of the document's login examples, so the examples log in
                for name in ("trader1", "bot1"):
                    body = {"username": name, "password": "correct-horse-battery-9",
                            "role": "trader"}  # fmt: skip
                    assert api.post("/api/users", json=body).status_code == 201

                # the stock master loaded (ka10099), so the stock routes reach their 200s
                def loaded() -> bool:
                    return bool(api.get("/api/stocks/status").json()["state"] == "ok")

                assert wait_for(loaded, 120), api.get("/api/stocks/status").text
                api.close()
                yield BACKEND
    finally:
        market.stop()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_openapi_document(case: Any, running_backend: Backend) -> None:
    token = BACKEND.token
    if case.path == "/api/auth/logout":
        token = BACKEND.login()  # a session of its own to end
    if case.path == "/api/users/{user_id}" and _same_id(case.path_parameters, BACKEND.admin_id):
        case.path_parameters["user_id"] = BACKEND.victim_id
    response = case.call_and_validate(
        base_url=BACKEND.url, headers={"Authorization": f"Bearer {token}"}, timeout=REQUEST_S
    )
    BACKEND.seen.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)


def _same_id(params: dict[str, Any] | None, user_id: int) -> bool:
    value = (params or {}).get("user_id")
    try:
        return int(str(value)) == user_id
    except ValueError:
        return False


def test_the_document_declares_one_error_shape() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorBody"]["required"]) == {"error", "detail"}
    for path, ops in DOCUMENT["paths"].items():
        if re.match(EXCLUDED_PATHS, path):
            continue
        for method, op in ops.items():
            for status, answer in op["responses"].items():
                if re.fullmatch(r"[45]\d\d", status):
                    got = answer["content"]["application/json"]["schema"]
                    assert got == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
            if op.get("security"):
                assert "401" in op["responses"], (method, path)
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
                assert _has_examples(schemas[ref], schemas), (method, path, ref)


def _has_examples(model: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """A request body with an example: of its own, or one per required property."""
    if model.get("examples"):
        return True
    props = model.get("properties", {})
    return all("examples" in props[name] or "default" in props[name]
               for name in model.get("required", props))  # fmt: skip


def test_the_run_reached_the_success_paths() -> None:
    if not BACKEND.seen:
        pytest.skip("run together with test_every_answer_matches_the_openapi_document")
    want = {
        "POST /api/auth/login": 200,
        "POST /api/auth/logout": 204,
        "GET /api/auth/me": 200,
        "GET /api/session": 200,
        "GET /api/users": 200,
        "POST /api/users": 201,
        "PATCH /api/users/{user_id}": 200,
        "GET /api/audit": 200,
        "GET /api/stocks/search": 200,
        "GET /api/stocks/status": 200,
        "POST /api/stocks/refresh": 202,
        "GET /api/stocks/{code}": 200,
        "GET /api/orderbook/{code}": 200,
        "GET /api/charts/{code}": 200,
        "GET /api/account": 200,
        "GET /api/kiwoom/token": 200,
        "POST /api/kiwoom/token": 200,
        "DELETE /api/kiwoom/token": 200,
        "GET /api/health": 200,
    }
    missed = {op: sorted(BACKEND.seen.get(op, ())) for op, status in want.items()
              if status not in BACKEND.seen.get(op, ())}  # fmt: skip
    assert not missed, missed
    assert 422 in BACKEND.seen["GET /api/stocks/search"]  # and the rejections
    assert 401 in BACKEND.seen["POST /api/auth/login"]
