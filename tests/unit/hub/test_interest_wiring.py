"""The hub's own interest manager (hub.py wiring): a lease shows in ``/api/status`` (the
``interest`` part and the stock's ``interest`` flag, also while no socket is up) and ends
on time through ``Hub.control_step`` on an injected clock — outside collection hours too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gslts_db import StockMaster
from gslts_hub.app import create_app
from gslts_hub.hub import Hub
from gslts_hub.settings import HubSettings
from gslts_kiwoom.realtime import KST
from tests.unit.kiwoom.fakes import Clock as KiwoomClock
from tests.unit.kiwoom.fakes import FakeKiwoom, make_client

#: a Sunday night: outside collection hours, so control_step opens no socket
SUNDAY = datetime(2026, 3, 1, 3, 0, tzinfo=KST)


class Clock:
    def __init__(self) -> None:
        self.now = SUNDAY.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wired(hub_settings: HubSettings) -> Iterator[tuple[TestClient, Hub, Clock]]:
    clock = Clock()
    settings = hub_settings.model_copy(update={"hub_schedule": "auto"})
    fake = FakeKiwoom(KiwoomClock())
    app = create_app(
        settings,
        hub_factory=lambda s: Hub(s, connect=False, client=make_client(fake), clock=clock),
    )
    with TestClient(app, base_url="http://127.0.0.1:8001") as http:
        hub: Hub = app.state.hub
        with hub.engine.begin() as conn:
            conn.execute(
                StockMaster.__table__.insert(),  # type: ignore[attr-defined]
                [{"stock_code": "035720", "name": "카카오", "chosung": "", "market": "KOSPI",
                  "updated_at": SUNDAY}],
            )  # fmt: skip
        yield http, hub, clock


def _status(http: TestClient) -> dict[str, Any]:
    out: dict[str, Any] = http.get("/api/status").json()
    return out


def test_a_lease_is_in_the_status_and_ends_through_the_control_loop(
    wired: tuple[TestClient, Hub, Clock],
) -> None:
    http, hub, clock = wired
    r = http.put("/api/interest/035720", json={"asker": "backend", "ttl_s": 5})
    assert r.status_code == 201, r.text
    st = _status(http)
    assert [s["stock_code"] for s in st["interest"]["stocks"]] == ["035720"]
    assert st["interest"]["stocks"][0]["askers"][0]["asker"] == "backend"
    assert "035720" in st["collecting_stocks"]  # registered on connect
    (stock,) = [s for s in st["stocks"] if s["code"] == "035720"]
    assert stock["interest"] is True
    clock.now += 4.9
    hub.control_step()
    assert _status(http)["interest"]["leases"] == 1
    clock.now += 0.1
    hub.control_step()
    st = _status(http)
    assert st["interest"]["stocks"] == []
    assert "035720" not in st["collecting_stocks"]
