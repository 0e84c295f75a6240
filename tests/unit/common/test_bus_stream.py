"""The bus stream's server side without a network: the intake, the ring, where a
(re)subscriber starts and what it is told, and the Origin check."""

from __future__ import annotations

import orjson
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gslts_common.bus import KINDS, InProcessBus
from gslts_common.bus_stream import BusStream, bus_stream_router

ALL = frozenset(KINDS)


def _tick(code: str, cum: int) -> dict[str, object]:
    return {"code": code, "n": 1, "cum_volume": [cum]}


def test_an_overflowing_intake_drops_newer_messages_and_says_so_in_their_place() -> None:
    s = BusStream(inbox_max=3)
    for i in range(10):  # the loop is not draining: the publisher must not wait for it
        s._on_event(f"gslts:tick:{'005930' if i % 2 else '000660'}", _tick("x", i))
    assert s.intake_dropped == 7
    s._absorb()
    assert s.head == 4  # three events, then the gap in place of the seven
    gap = orjson.loads(s._ring[4 % s.capacity].frame)
    assert gap["type"] == "gap"
    assert gap["reason"] == "overflow"
    assert gap["seq"] == 4
    assert gap["count"] == 7
    assert gap["channels"] == ["tick"]
    assert gap["stocks"] == ["000660", "005930"]
    s._on_event("gslts:order", {"kind": "order"})  # room again
    s._absorb()
    assert s.head == 5


def test_the_ring_keeps_the_newest_and_a_resume_point_past_it_is_a_gap() -> None:
    s = BusStream(buffer_events=10, max_lag=10)
    s.epoch = "e1"
    for i in range(25):
        s._on_event("gslts:tick:005930", _tick("005930", i))
        s._absorb()
    assert (s.first, s.head) == (16, 25)
    # within what may be replayed (half the allowed lag): resumed, no gap
    assert s._placement("e1", 21, ALL, None) == (22, None)
    start, gap = s._placement("e1", 3, ALL, None)
    assert start == 21
    assert gap is not None
    assert (gap["reason"], gap["from_seq"], gap["to_seq"], gap["count"]) == ("expired", 4, 20, 17)
    assert gap["stocks"] == ["005930"]
    assert gap["channels"] == ["tick"]
    start, gap = s._placement("e0", 7, ALL, None)  # another epoch: the hub restarted
    assert start == 21
    assert gap is not None
    assert (gap["reason"], gap["prev_epoch"], gap["prev_seq"]) == ("epoch_changed", "e0", 7)
    assert (gap["from_seq"], gap["to_seq"]) == (1, 20)
    assert s._placement("e1", None, ALL, None) == (26, None)  # fresh: live from now on


def test_the_ring_is_bounded_in_bytes_too() -> None:
    s = BusStream(buffer_events=1000, buffer_bytes=2000)
    for i in range(100):
        s._on_event("gslts:tick:005930", {**_tick("005930", i), "pad": "x" * 100})
        s._absorb()
    assert s._ring_bytes <= 2000
    assert s.head == 100
    assert s.first > 80


def test_the_publishing_callback_only_appends() -> None:
    """No loop, no subscribers, no JSON: the hub's socket thread pays one append."""
    s = BusStream()
    event = _tick("005930", 1)
    s._on_event("gslts:tick:005930", event)
    assert list(s._inbox) == [("gslts:tick:005930", event)]
    assert s.head == 0


def _app(bus: InProcessBus) -> FastAPI:
    app = FastAPI()
    app.state.bus = bus
    app.include_router(bus_stream_router(lambda a: a.state.bus, origin_hosts={"127.0.0.1"}))
    return app


def test_a_page_of_another_site_cannot_open_the_stream() -> None:
    with TestClient(_app(InProcessBus())) as client:
        with (
            pytest.raises(WebSocketDisconnect) as exc,
            client.websocket_connect(
                "/bus/stream", headers={"origin": "http://evil.example"}
            ) as ws,
        ):
            ws.receive_bytes()
        assert exc.value.code == 1008
        # a service (no Origin) and a page of an allowed host may
        with client.websocket_connect("/bus/stream") as ws:
            assert orjson.loads(ws.receive_bytes().split(b"\n")[0])["type"] == "hello"
        with client.websocket_connect(
            "/bus/stream", headers={"origin": "http://127.0.0.1:8001"}
        ) as ws:
            assert orjson.loads(ws.receive_bytes().split(b"\n")[0])["type"] == "hello"


@pytest.mark.parametrize(
    "query", ["since=abc", "channels=tick,bogus", "stocks=12", "epoch=" + "e" * 65]
)
def test_a_bad_query_is_refused_with_the_reason(query: str) -> None:
    with TestClient(_app(InProcessBus())) as client:
        with (
            pytest.raises(WebSocketDisconnect) as exc,
            client.websocket_connect("/bus/stream?" + query) as ws,
        ):
            ws.receive_bytes()
        assert exc.value.code == 1008
        assert exc.value.reason.split(":")[0] in query


def test_a_subscriber_gets_hello_snapshot_then_events_it_asked_for() -> None:
    bus = InProcessBus()
    with (
        TestClient(_app(bus)) as client,
        client.websocket_connect("/bus/stream?channels=tick&stocks=005930") as ws,
    ):
        hello, snapshot = (orjson.loads(x) for x in ws.receive_bytes().split(b"\n"))
        assert hello["type"] == "hello"
        assert hello["position"] == 0
        assert snapshot["type"] == "snapshot"
        bus.publish_ticks("000660", _tick("000660", 1))  # another stock: not for it
        bus.publish_book("005930", {"code": "005930"})  # another kind: not for it
        bus.publish_ticks("005930", _tick("005930", 2))
        msg = orjson.loads(ws.receive_bytes())
        while msg["type"] == "heartbeat":  # (a second passed: a busy machine)
            msg = orjson.loads(ws.receive_bytes())
        assert (msg["type"], msg["seq"], msg["channel"]) == ("event", 3, "gslts:tick:005930")
        assert msg["data"]["cum_volume"] == [2]
