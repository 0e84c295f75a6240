"""The interest API over HTTP (:mod:`gslts_hub.interest_api`) on a hub with a real
(SQLite) database: grant 201, renew 200, refcount across askers, release, expiry on an
injected clock, 404 for a stock that is not listed, 409 with the cap's reason, 422 for bad
input, and an OpenAPI document that states the TTL bound of the app's settings.

The hub runs with ``connect=False``; its ``interest`` manager is replaced by one on a test
clock whose subscribe / unsubscribe calls are recorded (the real WebSocket path is the e2e
test ``tests/e2e/test_hub_interest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gslts_db import StockMaster
from gslts_hub.app import create_app
from gslts_hub.hub import Hub
from gslts_hub.interest import InterestManager, LeaseTable
from gslts_hub.settings import HubSettings
from gslts_kiwoom.realtime import KST
from tests.unit.hub.test_interest import Clock, Subscriptions
from tests.unit.kiwoom.fakes import Clock as KiwoomClock
from tests.unit.kiwoom.fakes import FakeKiwoom, make_client, reply

LISTED = {"005930": "삼성전자", "000660": "SK하이닉스", "035720": "카카오", "035420": "NAVER"}


def _no_such_stock(_: Any, body: dict[str, Any]) -> Any:
    msg = f"입력 값 오류입니다[1902:존재하지 않는 종목코드입니다. 종목코드={body.get('stk_cd')}]"
    return reply({"return_code": 2, "return_msg": msg})


@dataclass
class Api:
    http: TestClient
    hub: Hub
    clock: Clock
    subs: Subscriptions
    top: set[str]
    manager: InterestManager

    def put(self, code: str, asker: str = "backend", ttl_s: int = 30) -> Any:
        return self.http.put(f"/api/interest/{code}", json={"asker": asker, "ttl_s": ttl_s})


@pytest.fixture
def api(hub_settings: HubSettings) -> Iterator[Api]:
    settings = hub_settings.model_copy(
        update={"hub_interest_max_codes": 2, "hub_interest_max_per_asker": 3}
    )
    fake = FakeKiwoom(KiwoomClock())
    fake.handlers["ka10001"] = _no_such_stock
    app = create_app(
        settings, hub_factory=lambda s: Hub(s, connect=False, client=make_client(fake))
    )
    with TestClient(app, base_url="http://127.0.0.1:8001") as http:
        hub: Hub = app.state.hub
        with hub.engine.begin() as conn:
            conn.execute(
                StockMaster.__table__.insert(),  # type: ignore[attr-defined]
                [{"stock_code": c, "name": n, "chosung": "", "market": "KOSPI",
                  "updated_at": datetime(2026, 3, 3, tzinfo=KST)} for c, n in LISTED.items()],
            )  # fmt: skip
        clock, subs, top = Clock(), Subscriptions(), set[str]()
        table = LeaseTable(
            max_codes=settings.hub_interest_max_codes,
            max_per_asker=settings.hub_interest_max_per_asker,
            max_ttl_s=settings.hub_interest_max_ttl_s,
            clock=clock,
        )
        manager = InterestManager(
            table,
            subscribe=subs.subscribe,
            unsubscribe=subs.unsubscribe,
            held_elsewhere=lambda: frozenset(top),
        )
        # the routes reach it as app.state.hub.interest (the hub builds its own, wired to
        # its WebSocket; this one records the calls on a test clock)
        hub.interest = manager  # type: ignore[attr-defined,unused-ignore]
        yield Api(http, hub, clock, subs, top, manager)


def test_grant_renew_and_a_second_asker(api: Api) -> None:
    r = api.put("005930", ttl_s=30)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["stock_code"] == "005930"
    assert body["name"] == "삼성전자"
    assert (body["asker"], body["ttl_s"], body["renewals"], body["askers"]) == ("backend", 30, 0, 1)
    assert datetime.fromisoformat(body["expires_at"]).timestamp() == api.clock.now + 30
    assert body["held_elsewhere"] is False
    api.clock.now += 20
    again = api.put("005930", ttl_s=30)
    assert again.status_code == 200
    assert again.json()["renewals"] == 1
    assert again.json()["granted_at"] == body["granted_at"]
    assert datetime.fromisoformat(again.json()["expires_at"]).timestamp() == api.clock.now + 30
    other = api.put("005930", asker="research:1", ttl_s=60)
    assert other.status_code == 201
    assert other.json()["askers"] == 2
    assert api.subs.calls == [("sub", ["005930"])]  # one subscription for both askers


def test_get_lists_the_leases_and_the_caps(api: Api) -> None:
    api.put("005930", ttl_s=30)
    api.put("005930", asker="research", ttl_s=60)
    api.top.add("000660")
    api.put("000660", ttl_s=10)
    doc = api.http.get("/api/interest").json()
    assert (doc["max_codes"], doc["max_per_asker"], doc["max_ttl_s"]) == (2, 3, 300)
    assert doc["leases"] == 3
    assert doc["codes_counted"] == 1  # 000660 is collected anyway
    stocks = {s["stock_code"]: s for s in doc["stocks"]}
    assert [a["asker"] for a in stocks["005930"]["askers"]] == ["backend", "research"]
    assert stocks["005930"]["expires_in_s"] == 60.0
    assert stocks["000660"]["held_elsewhere"] is True


def test_expiry_releases_the_stock(api: Api) -> None:
    api.put("005930", ttl_s=5)
    api.put("005930", asker="research", ttl_s=10)
    api.clock.now += 5
    assert api.manager.expire(api.clock.now) == []
    assert api.subs.held == {"005930"}
    api.clock.now += 5
    assert api.manager.expire(api.clock.now) == ["005930"]
    assert api.subs.held == set()
    assert api.http.get("/api/interest").json()["stocks"] == []


def test_delete_releases_one_askers_lease(api: Api) -> None:
    api.put("005930")
    api.put("005930", asker="research")
    assert api.http.delete("/api/interest/005930", params={"asker": "backend"}).status_code == 204
    assert api.subs.held == {"005930"}
    r = api.http.delete("/api/interest/005930", params={"asker": "backend"})
    assert r.status_code == 404
    assert r.json() == {"error": "NotFound", "detail": "backend holds no lease on 005930"}
    assert api.http.delete("/api/interest/005930", params={"asker": "research"}).status_code == 204
    assert api.subs.held == set()


def test_a_stock_that_is_not_listed_is_404_and_leased_by_nobody(api: Api) -> None:
    r = api.put("999990")
    assert r.status_code == 404
    assert r.json()["error"] == "NotFound"
    assert "not a listed stock" in r.json()["detail"]
    assert api.http.get("/api/interest").json()["stocks"] == []
    assert api.subs.calls == []


def test_caps_answer_409_with_the_reason(api: Api) -> None:
    assert api.put("005930").status_code == 201
    assert api.put("000660").status_code == 201
    r = api.put("035720", asker="research")
    assert r.status_code == 409
    assert r.json()["error"] == "Conflict"
    assert "interest cap 2 reached" in r.json()["detail"]
    api.top.add("035720")  # collected anyway: no registration, not counted
    assert api.put("035720").status_code == 201
    r = api.put("035420")  # backend's fourth lease
    assert r.status_code == 409
    assert "asker cap reached" in r.json()["detail"]
    assert "HUB_INTEREST_MAX_PER_ASKER" in r.json()["detail"]


def test_a_refused_registration_is_409_and_no_lease(api: Api) -> None:
    api.subs.refuse.add("005930")
    r = api.put("005930")
    assert r.status_code == 409
    assert "registration cap reached" in r.json()["detail"]
    assert api.http.get("/api/interest").json()["leases"] == 0


@pytest.mark.parametrize(
    ("code", "body", "needle"),
    [
        ("5930", {"asker": "backend", "ttl_s": 30}, "stock_code"),
        ("005930", {"asker": "", "ttl_s": 30}, "asker"),
        ("005930", {"asker": "x" * 65, "ttl_s": 30}, "asker"),
        ("005930", {"asker": "back end", "ttl_s": 30}, "asker"),
        ("005930", {"asker": "backend", "ttl_s": 0}, "ttl_s"),
        ("005930", {"asker": "backend", "ttl_s": 301}, "ttl_s"),
        ("005930", {"asker": "backend"}, "ttl_s"),
    ],
)
def test_bad_input_is_422(api: Api, code: str, body: dict[str, Any], needle: str) -> None:
    r = api.http.put(f"/api/interest/{code}", json=body)
    assert r.status_code == 422
    assert r.json()["error"] == "BadInput"
    assert needle in r.json()["detail"]
    assert api.subs.calls == []


def test_delete_needs_a_valid_asker(api: Api) -> None:
    assert api.http.delete("/api/interest/005930").status_code == 422
    assert api.http.delete("/api/interest/005930", params={"asker": "a b"}).status_code == 422


def test_openapi_states_the_ttl_bound_and_the_409(api: Api) -> None:
    doc = api.http.get("/openapi.json").json()
    put = doc["paths"]["/api/interest/{stock_code}"]["put"]
    assert {"200", "201", "404", "409", "422"} <= set(put["responses"])
    ref = put["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    ttl = doc["components"]["schemas"][ref]["properties"]["ttl_s"]
    assert (ttl["minimum"], ttl["maximum"]) == (1, 300)
    assert "delete" in doc["paths"]["/api/interest/{stock_code}"]
    assert "get" in doc["paths"]["/api/interest"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PATCH", "/api/interest/005930", "DELETE, PUT"), ("POST", "/api/interest", "GET, HEAD")],
)
def test_a_405_lists_the_methods_of_the_included_router(
    api: Api, method: str, path: str, allow: str
) -> None:
    r = api.http.request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
