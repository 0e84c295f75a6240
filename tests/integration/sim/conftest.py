"""The whole simulator (REST + WebSocket) under uvicorn in a thread; tests drive the
market with ``sim.step`` so every run is deterministic and fast.

Nothing here may depend on an idle machine (CI runs these on 2 busy cores): the server,
the client threads and the test share one process and the GIL, so a session can go
seconds without a read. The heartbeat therefore PINGs often (tests that count PINGs stay
quick) but allows 30 s of silence before R10002, the client's watchdog and timeouts are
as generous, and waits are deadlines on conditions. A test about the heartbeat or the
watchdog tightens them for itself (e.g. a raw client that never echoes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
import uvicorn
import websocket
from pydantic import SecretStr

from gslts_kiwoom import KiwoomClient, KiwoomConfig
from gslts_kiwoom._ws import KiwoomWebSocket, WsConfig
from gslts_kiwoom.krx import KST
from gslts_kiwoom.realtime import RealtimeEvent
from gslts_kiwoom.sim import SimConfig, Simulator, create_app

START = datetime(2026, 9, 28, 10, 0, tzinfo=KST)  # a Monday, trading day

#: The client: reconnects fast (short backoff) but never gives up on a slow server early;
#: a watchdog cut would reconnect and lose the data the test compares with ground truth.
FAST_WS = WsConfig(
    connect_timeout_s=30.0,
    login_timeout_s=30.0,
    ack_timeout_s=30.0,
    watchdog_s=30.0,
    backoff_initial_s=0.05,
    backoff_max_s=0.3,
    takeover_delay_s=0.2,
)
#: The simulator's heartbeat: a PING every 0.2 s, R10002 after 150 unanswered (30 s).
PATIENT_PING_S = 0.2
PATIENT_MISSED_PINGS = 150
#: Deadline of every wait on a condition (a wait returns as soon as it holds).
DEADLINE_S = 60.0


class SimServer:
    """``create_app(sim)`` on a free port; ``rest_url``/``ws_url``; ``client()``/``ws()``."""

    def __init__(self, sim: Simulator, port: int) -> None:
        self.sim = sim
        config = uvicorn.Config(
            create_app(sim),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws_ping_interval=None,
        )
        self.server = uvicorn.Server(config)
        self.rest_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/api/dostk/websocket"
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._closers: list[Callable[[], Any]] = []

    def start(self) -> None:
        # The KRX calendar behind daily bars (ka10001, ka10081) takes seconds to build, once
        # per process; built here, not inside a request that blocks the server's loop.
        self.sim.market.history_dates()
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        for close in reversed(self._closers):
            close()
        self.server.should_exit = True
        self._thread.join(10)

    def client(self, app_key: str = "app-key-sim-it") -> KiwoomClient:
        config = KiwoomConfig.for_mode(
            "sim",
            app_key=SecretStr(app_key),
            secret_key=SecretStr("secret-sim-it"),
            rest_url=self.rest_url,
            rate_per_s=1000.0,
            rate_burst=1000,
            timeout_s=DEADLINE_S,
        )
        c = KiwoomClient(config, backoff_base_s=0.05)
        self._closers.append(c.close)
        return c

    def ws(
        self,
        rest: KiwoomClient,
        config: WsConfig = FAST_WS,
        **kw: Any,
    ) -> KiwoomWebSocket:
        def token(force_new: bool) -> str:
            return rest.token(force_new=force_new)

        w = KiwoomWebSocket(self.ws_url, token, config, **kw)
        w.start()
        assert w.wait_ready(DEADLINE_S), "websocket did not log in"
        self._closers.append(w.close)
        return w

    def advance(self, seconds: float, step: float = 0.1) -> None:
        """Move market time forward in ``step`` increments (trades happen)."""
        n = max(1, round(seconds / step))
        for _ in range(n):
            self.sim.step(self.sim.now + timedelta(seconds=step))


def make_config(**overrides: Any) -> SimConfig:
    fields: dict[str, Any] = {
        "ticker": False,
        "start_time": START,
        "seed": 11,
        "clock": "always",
        "default_rate_per_s": 10_000,
        "rate_burst": 10_000,
        "history_days": 50,
        "initial_cash": 10**11,
        "ws_ping_s": PATIENT_PING_S,
        "ws_max_missed_pings": PATIENT_MISSED_PINGS,
        "ws_login_timeout_s": 30.0,
        "trade_universe": 3,
        "trades_per_s": 30.0,
    }
    fields.update(overrides)
    return SimConfig(**fields)


@pytest.fixture
def make_server(free_port: int) -> Iterator[Callable[..., SimServer]]:
    servers: list[SimServer] = []
    ports = iter([free_port])

    def make(**overrides: Any) -> SimServer:
        import socket

        try:
            port = next(ports)
        except StopIteration:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
        srv = SimServer(Simulator(make_config(**overrides)), port)
        srv.start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


def collect(
    ws: KiwoomWebSocket,
    until: Callable[[list[RealtimeEvent]], bool],
    timeout: float = DEADLINE_S,
    tick: Callable[[], None] | None = None,
) -> list[RealtimeEvent]:
    """Read events until ``until(events)`` holds (calling ``tick`` between reads); fail
    after ``timeout`` (a deadline, not an expected duration)."""
    events: list[RealtimeEvent] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        events.extend(ws.get_events(timeout=0.05))
        if until(events):
            return events
    raise AssertionError(f"condition not met in {timeout}s; got {len(events)} events")


def echoes_seen(sim: Simulator) -> bool:
    """Every open session answered the last PING in time (its missed count is 0). Only
    an echo resets the count: a session that never echoes has missed >= 2 once it has
    been sent 3 PINGs."""
    sessions = list(sim.ws_hub._sessions.values())
    return bool(sessions) and all(s.missed == 0 for s in sessions)


def wait_until(cond: Callable[[], bool], timeout: float = DEADLINE_S) -> bool:
    """Poll ``cond`` until it holds or the deadline passes; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class RawSession:
    """A bare Kiwoom WebSocket session: LOGIN, REG, then REAL entries as parsed JSON."""

    def __init__(self, srv: SimServer) -> None:
        self.srv = srv
        self.ws = websocket.create_connection(srv.ws_url, timeout=DEADLINE_S)
        self.frames: list[str] = []
        token = srv.client().token()
        self.ws.send(orjson.dumps({"trnm": "LOGIN", "token": token}).decode())
        assert self._reply("LOGIN")["return_code"] == 0

    def _reply(self, trnm: str) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            msg = orjson.loads(self.ws.recv())
            if msg.get("trnm") == "PING":
                self.ws.send(orjson.dumps(msg).decode())
            elif msg.get("trnm") == trnm:
                return dict(msg)
        raise AssertionError(f"no {trnm} reply")

    def register(self, items: list[str], types: list[str]) -> None:
        reg = {"trnm": "REG", "grp_no": "1", "refresh": "1"}
        self.ws.send(orjson.dumps({**reg, "data": [{"item": items, "type": types}]}).decode())
        assert self._reply("REG")["return_code"] == 0

    def entries(self, until: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """REAL entries (in order) until ``until(entries)`` holds; a deadline, not a duration."""
        out: list[dict[str, Any]] = []
        self.ws.settimeout(0.2)
        deadline = time.monotonic() + 2 * DEADLINE_S
        while time.monotonic() < deadline and not until(out):
            try:
                text = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            msg = orjson.loads(text)
            if msg.get("trnm") == "PING":
                self.ws.send(text)
            elif msg.get("trnm") == "REAL":
                self.frames.append(text)
                out.extend(msg["data"])
        assert until(out), f"condition not met; {len(out)} entries"
        return out

    def close(self) -> None:
        self.ws.close()
