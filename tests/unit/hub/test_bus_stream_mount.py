"""The hub serves its bus to other processes at /bus/stream, behind the same guards as the
rest of its API (Host, and Origin as /ws/status)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gslts_common.bus import tick_batch
from gslts_hub.app import create_app
from gslts_hub.hub import Hub
from gslts_hub.settings import HubSettings

HUB = "ws://127.0.0.1:8001"


@pytest.fixture
def client(hub_settings: HubSettings) -> Iterator[TestClient]:
    app = create_app(hub_settings, hub_factory=lambda s: Hub(s, connect=False))
    with TestClient(app, base_url="http://127.0.0.1:8001") as c:
        yield c


def test_the_hub_streams_what_its_bus_publishes(client: TestClient) -> None:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    with client.websocket_connect(HUB + "/bus/stream?channels=tick") as ws:
        hello = orjson.loads(ws.receive_bytes().split(b"\n")[0])
        assert hello["epoch"] == hub.bus.epoch
        rows = [["005930", "KRX", 739678, 7, 1.0, 70000, 3, 1, 70100, 70000]]
        hub.bus.publish_ticks("005930", tick_batch("005930", rows))
        msg = orjson.loads(ws.receive_bytes())
        while msg["type"] == "heartbeat":
            msg = orjson.loads(ws.receive_bytes())
        assert msg["channel"] == "gslts:tick:005930"
        assert msg["data"]["cum_volume"] == [7]


@pytest.mark.parametrize(
    "headers",
    [{"host": "evil.example"}, {"origin": "http://evil.example"}],
    ids=["host", "origin"],
)
def test_the_stream_refuses_other_sites(client: TestClient, headers: dict[str, str]) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as exc,
        client.websocket_connect("/bus/stream", headers=headers) as ws,
    ):
        ws.receive_bytes()
    assert exc.value.code == 1008
