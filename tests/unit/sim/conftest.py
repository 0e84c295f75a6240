"""Fixtures: an in-process simulator with a fixed start time and no ticker."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

with warnings.catch_warnings():
    # Starlette 1.x nags about httpx vs httpx2; the test client works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from gslts_kiwoom.krx import KST
from gslts_kiwoom.sim import SimConfig, Simulator, create_app

START = datetime(2026, 9, 28, 10, 0, tzinfo=KST)  # a Monday, trading day


def make_sim(**overrides: Any) -> Simulator:
    fields: dict[str, Any] = {
        "ticker": False,
        "start_time": START,
        "seed": 7,
        "default_rate_per_s": 10_000,
        "rate_burst": 10_000,
        "history_days": 300,
        # a level of 삼성전자 holds ~100M+ KRW at the default trade rate
        "initial_cash": 10**10,
    }
    fields.update(overrides)
    return Simulator(SimConfig(**fields))


def advance(sim: Simulator, seconds: float, step: float = 1.0) -> None:
    t = 0.0
    while t < seconds:
        t += step
        sim.step(sim.now + timedelta(seconds=step))


@pytest.fixture
def sim() -> Simulator:
    return make_sim()


class Api:
    """A tiny Kiwoom-speaking client over the Starlette TestClient."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        r = client.post(
            "/oauth2/token",
            json={"grant_type": "client_credentials", "appkey": "k", "secretkey": "s"},
        )
        self.token = r.json()["token"]

    def call(
        self, api_id: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Any:
        h = {"api-id": api_id, "authorization": f"Bearer {self.token}", **(headers or {})}
        return self.client.post(f"/api/dostk/{path}", json=body, headers=h)

    def ok(self, api_id: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.call(api_id, path, body)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        assert data["return_code"] == 0, data
        return data


@pytest.fixture
def api_factory() -> Iterator[Callable[[Simulator], Api]]:
    clients: list[TestClient] = []

    def make(s: Simulator) -> Api:
        c = TestClient(create_app(s))
        clients.append(c)
        return Api(c)

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def api(sim: Simulator, api_factory: Callable[[Simulator], Api]) -> Api:
    return api_factory(sim)
