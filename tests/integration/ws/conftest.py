"""Real-socket fixtures: the simulator WS endpoint under uvicorn + a tiny test feed.

The feed stands in for the market model: every ``tick_s`` it pushes one 0B entry (and one
0D entry) per registered item, in Kiwoom wire shape, through :meth:`SimWsHub.publish`.

The hub PINGs every 0.2 s but closes (R10002) only after 150 unanswered PINGs (30 s): the
server, the feed, the client and the test share one process and the GIL, and CI runs on
2 busy cores, so a client that does echo can go seconds without a read. A test about the
heartbeat tightens it for itself (a raw client that never echoes).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from gslts_kiwoom.sim._ws import RealListener, SimWsConfig, SimWsHub, WsIdentity

TOKENS = {
    "tok-a": WsIdentity(app_key="app-a", account="1111111111"),
    "tok-a2": WsIdentity(app_key="app-a", account="1111111111"),
    "tok-b": WsIdentity(app_key="app-b", account="2222222222"),
}


class DictTokens:
    def validate_token(self, token: str) -> WsIdentity | None:
        return TOKENS.get(token)


class TickingFeed:
    """Pushes Kiwoom-shaped 0B/0D entries for whatever the hub has registered."""

    def __init__(self, tick_s: float = 0.02) -> None:
        self.tick_s = tick_s
        self.hub: SimWsHub | None = None
        self._listeners: list[RealListener] = []
        self._cum: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def add_listener(self, listener: RealListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def push(self, entries: Sequence[Mapping[str, Any]]) -> None:
        for listener in list(self._listeners):
            listener(entries)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            hub = self.hub
            if hub is None:
                continue
            entries: list[dict[str, Any]] = []
            hhmmss = time.strftime("%H%M%S")
            for item in sorted(hub.registered_items("0B")):
                cum = self._cum.get(item, 1000) + 10
                self._cum[item] = cum
                entries.append(trade_entry(item, cum=cum, hhmmss=hhmmss))
            for item in sorted(hub.registered_items("0D")):
                entries.append(book_entry(item, hhmmss=hhmmss))
            if entries:
                self.push(entries)


def trade_entry(
    item: str, *, cum: int, hhmmss: str = "090001", price: str = "-20800"
) -> dict[str, Any]:
    return {
        "type": "0B",
        "name": "주식체결",
        "item": item,
        "values": {
            "20": hhmmss,
            "10": price,
            "11": "-50",
            "12": "-0.24",
            "27": "-20850",
            "28": "-20800",
            "15": "+10",
            "13": str(cum),
            "14": "635",
            "16": " 20850",
            "17": "+21000",
            "18": "-20700",
            "25": "5",
            "228": "98.76",
            "290": "2",
        },
    }


def book_entry(item: str, *, hhmmss: str = "090001") -> dict[str, Any]:
    values = {"21": hhmmss, "121": "1000", "125": "2000"}
    for i in range(10):
        values[str(41 + i)] = f"-{20850 + 50 * i}"
        values[str(51 + i)] = f"-{20800 - 50 * i}"
        values[str(61 + i)] = str(100 + i)
        values[str(71 + i)] = str(200 + i)
    return {"type": "0D", "name": "주식호가잔량", "item": item, "values": values}


class SimServer:
    def __init__(self, hub: SimWsHub, port: int, tls: tuple[str, str] | None = None) -> None:
        app = Starlette(routes=[WebSocketRoute("/api/dostk/websocket", hub.endpoint)])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            ws_ping_interval=None,  # Kiwoom uses app-level PING, not transport pings
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
        self.server = uvicorn.Server(config)
        scheme = "wss" if tls else "ws"
        self.url = f"{scheme}://127.0.0.1:{port}/api/dostk/websocket"
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimEnv:
    def __init__(self, config: SimWsConfig, tls: tuple[str, str] | None = None) -> None:
        self.feed = TickingFeed()
        self.hub = SimWsHub(DictTokens(), config, feed=self.feed)
        self.feed.hub = self.hub
        self.server = SimServer(self.hub, _free_port(), tls)
        self.url = self.server.url


def echoes_seen(hub: SimWsHub) -> bool:
    """Every open session answered the last PING in time (its missed count is 0). Only
    an echo resets the count: a session that never echoes has missed >= 2 once it has
    been sent 3 PINGs."""
    sessions = list(hub._sessions.values())
    return bool(sessions) and all(s.missed == 0 for s in sessions)


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimEnv]]:
    envs: list[SimEnv] = []

    def make(tls: tuple[str, str] | None = None, **overrides: Any) -> SimEnv:
        base: dict[str, Any] = {
            "ping_interval_s": 0.2,
            "max_missed_pings": 150,
            "login_timeout_s": 30.0,
        }
        base.update(overrides)
        env = SimEnv(SimWsConfig(**base), tls)
        env.server.start()
        env.feed.start()
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.feed.stop()
        env.hub.close()
        env.server.stop()
