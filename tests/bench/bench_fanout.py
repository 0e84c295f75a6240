"""Live data to browsers: 100 WebSocket clients on 10 stocks while the hub ingests 10k ticks/s.

The whole path, each part in a process of its own on loopback:

* **feed** — a Kiwoom WebSocket server (handshake, LOGIN, REG acks; pre-built ``REAL``
  frames of ten 0B 주식체결 items, full FID set, Korean ``name``; a 0D book frame for every
  ten trades, as in ``bench_ingest``) paced at ``BENCH_FANOUT_RATE`` trades/s (10,000) for
  ``BENCH_FANOUT_SECONDS`` (20): every ``BENCH_FANOUT_SEND_MS`` (5) ms the frames due, so
  the hub's socket reads are ~50 trades. Trades go round-robin over ``BENCH_FANOUT_STOCKS``
  (10): every trade is on a stock the browsers watch.
* **hub** — :class:`gslts_hub.hub.Hub` (journal, its writer process → a fresh MariaDB
  schema, 1-minute candles, the bus) with its HTTP app (``/bus/stream``, the interest API)
  served by uvicorn, fed by a :class:`~gslts_kiwoom.KiwoomWebSocket` as the hub's collector
  configures it. Its ``on_events`` is wrapped to stamp each socket batch with
  ``time.monotonic()`` and the number of trades so far: the **receipt time** of every trade.
  The bus carries no receipt time, so the trade is found again by its key (stock,
  cumulative volume) in the deterministic feed; ``CLOCK_MONOTONIC`` is one clock for all
  processes of the machine.
* **backend** — ``gslts_backend.app.create_app`` (uvicorn), following the hub's bus over
  its stream (no Redis: the ``make run`` set-up) or Redis (``BENCH_FANOUT_BUS=redis``), with
  **real sessions**: ten viewer users created by the first admin over ``/api/users``, each
  logged in ten times (``token=cookie``); every socket sends its session cookie and the
  page's own ``Origin``.
* **browsers** — ``BENCH_FANOUT_CLIENTS`` (100) sockets shared by
  ``BENCH_FANOUT_BROWSER_PROCS`` (2) processes, a lean client
  (raw sockets, ``selectors``, RFC 6455 framing, ping answered): client *i* subscribes to
  stock *i* mod 10 (all channels: trades, book, candle), so each stock has ten watchers.
  Every ``trades`` message is stamped when its bytes come out of ``recv()``.

Figures:

* ``fanout.p50_ms`` / ``fanout.p99_ms`` / ``fanout.max_ms`` — hub receipt → the browser
  socket, over every trade delivered to every browser (~10 × the trades);
* ``fanout.hub_to_backend_p50_ms`` / ``_p99_ms`` — hub receipt → the backend's bus
  follower, per trade; ``fanout.oldest_at_backend_send_p50_ms`` / ``_p99_ms`` — hub
  receipt of each ``trades`` message's oldest trade → the backend's socket write returning
  (the path split at the bus and at the backend's write);
* ``fanout.lost`` — trades a browser should have had (every trade of its stock) and did
  not; ``fanout.slow_dropped`` — browsers closed as slow consumers (both fail the run);
* ``fanout.ingest_ticks_per_s`` — the hub's stored rate in this run (written / (last
  commit − first receipt)), ``fanout.ingest_alone_ticks_per_s`` — the same hub and feed
  with no backend and no browser, just before; ``fanout.ingest_ratio`` = their ratio;
  ``fanout.commit_p99_ms`` / ``fanout.alone_commit_p99_ms`` — receipt → committed row;
* ``fanout.hub_cpu`` / ``hub_alone_cpu`` / ``backend_cpu`` / ``browsers_cpu`` — cores each
  used during the run (``/proc``), ``fanout.load_avg_1m`` — the machine's load after it.
"""

from __future__ import annotations

import base64
import bisect
import json
import multiprocessing as mp
import os
import pickle
import secrets
import selectors
import signal
import socket
import struct
import tempfile
import threading
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.bench._runner import BenchProblem
from tests.bench.bench_ingest import _book_values, _values, codes, trades
from tests.bench.bench_ws import _read_client_frame, _ws_frame, accept_kiwoom_session

RATE = float(os.environ.get("BENCH_FANOUT_RATE", "10000"))
SECONDS = float(os.environ.get("BENCH_FANOUT_SECONDS", "20"))
SEND_MS = float(os.environ.get("BENCH_FANOUT_SEND_MS", "5"))
N_STOCKS = int(os.environ.get("BENCH_FANOUT_STOCKS", "10"))
N_CLIENTS = int(os.environ.get("BENCH_FANOUT_CLIENTS", "100"))
BUS = os.environ.get("BENCH_FANOUT_BUS", "stream")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
N_USERS = 10
#: processes the browser sockets are shared among (one Python loop reading 100 sockets
#: is itself a source of delay at ~16k messages a second)
BROWSER_PROCS = int(os.environ.get("BENCH_FANOUT_BROWSER_PROCS", "2"))
ITEMS_PER_FRAME = 10
BOOKS_PER_TRADE = 0.1
DEADLINE_S = 120.0
#: seconds the browsers may take, after the hub stored the last trade, to get it
DRAIN_S = 30.0


# ---------------------------------------------------------------------- the feed
def build_frames(n_ticks: int) -> tuple[list[bytes], list[int]]:
    """The run's frames and, per frame, the trades sent up to and including it."""
    from datetime import datetime

    from gslts_kiwoom.realtime import KST

    hhmmss = datetime.now(KST).strftime("%H%M%S")
    frames: list[bytes] = []
    upto: list[int] = []
    data: list[dict[str, Any]] = []
    sent = 0
    owed = 0.0
    for code, cum, price, qty in trades(n_ticks, N_STOCKS):
        data.append(
            {"type": "0B", "name": "주식체결", "item": code,
             "values": _values(cum, price, qty, hhmmss)}
        )  # fmt: skip
        sent += 1
        owed += BOOKS_PER_TRADE
        if len(data) == ITEMS_PER_FRAME:
            frames.append(_ws_frame(orjson.dumps({"trnm": "REAL", "data": data})))
            upto.append(sent)
            data = []
            if owed >= 1.0:
                owed -= 1.0
                book = {"type": "0D", "name": "주식호가잔량", "item": code,
                        "values": _book_values(cum, price, hhmmss)}  # fmt: skip
                frames.append(_ws_frame(orjson.dumps({"trnm": "REAL", "data": [book]})))
                upto.append(sent)
    if data:
        frames.append(_ws_frame(orjson.dumps({"trnm": "REAL", "data": data})))
        upto.append(sent)
    return frames, upto


def _feed_server(port_q: Any, runs: int, n_ticks: int) -> None:
    frames, upto = build_frames(n_ticks)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port_q.put(srv.getsockname()[1])
    step = SEND_MS / 1000
    for _ in range(runs):
        conn, _addr = srv.accept()
        with conn:
            accept_kiwoom_session(conn)
            lock = threading.Lock()
            go = threading.Event()

            def reader(
                c: socket.socket = conn, lk: threading.Lock = lock, go: threading.Event = go
            ) -> None:
                try:
                    while True:
                        msg = orjson.loads(_read_client_frame(c))
                        if msg.get("trnm") in ("REG", "REMOVE"):
                            ack = {"trnm": msg["trnm"], "return_code": 0, "return_msg": ""}
                            with lk:
                                c.sendall(_ws_frame(orjson.dumps(ack)))
                            go.set()
                except (OSError, ConnectionError, ValueError):
                    go.set()

            threading.Thread(target=reader, daemon=True).start()
            go.wait(60)
            try:
                t0 = time.monotonic()
                i = 0
                while i < len(frames):
                    # every frame whose trades are due by now (trade k is due at k / RATE)
                    due = (time.monotonic() - t0) * RATE
                    j = bisect.bisect_right(upto, due, lo=i)
                    if j > i:
                        with lock:
                            conn.sendall(b"".join(frames[i:j]))
                        i = j
                    time.sleep(step)
                while True:  # keep the socket open until the client leaves
                    time.sleep(0.2)
                    if conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                        break
            except (OSError, BlockingIOError):
                pass


# ---------------------------------------------------------------------- the hub process
def _hub_proc(cfg: dict[str, Any], ctl: Any, out: Any) -> None:
    """The hub with its HTTP app; on ``go`` its socket connects to the feed."""
    import sqlalchemy as sa
    import uvicorn

    from gslts_db import make_engine
    from gslts_hub.app import create_app
    from gslts_hub.collector import MARKET_TYPES, WS_DEFER_TYPES
    from gslts_hub.hub import Hub
    from gslts_kiwoom import KiwoomWebSocket, Trade, WsConfig
    from tests.e2e.harness import IsolatedHubSettings

    n_ticks = cfg["n_ticks"]
    settings = IsolatedHubSettings(
        database_url=cfg["db_url"],
        data_dir=Path(cfg["data_dir"]),
        redis_url=cfg["redis_url"],
        hub_bus_prefix=cfg["prefix"],
        hub_schedule="always",
    )
    engine = make_engine(sa.make_url(cfg["db_url"]))
    hub = Hub(settings, engine=engine, connect=False)
    hub.writer.stats.commit_latency = deque(maxlen=n_ticks)
    app = create_app(settings, hub_factory=lambda _s: hub)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=cfg["port"], log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True, name="hub-http")
    thread.start()
    end = time.monotonic() + DEADLINE_S
    while not server.started and time.monotonic() < end:
        time.sleep(0.05)
    out.put(("ready", server.started))
    ctl.get()  # go
    receipts: list[tuple[float, int]] = []
    seen = [0]
    first_wall: list[float] = []
    on_events = hub.on_events

    def stamped(events: list[Any]) -> None:
        t = time.monotonic()
        if not first_wall:
            first_wall.append(time.time())
        seen[0] += sum(1 for e in events if type(e) is Trade)
        receipts.append((t, seen[0]))
        on_events(events)

    ws = KiwoomWebSocket(
        cfg["feed_url"],
        lambda _force: "bench-token",
        WsConfig(watchdog_s=120, defer_types=WS_DEFER_TYPES),
        on_events=stamped,
        on_state=hub.collector.on_ws_state,
        name="bench-hub-ws",
    )
    ws.start()
    result: dict[str, Any] = {}
    try:
        if not ws.wait_ready(30):
            raise RuntimeError("the hub socket did not get ready")
        ws.subscribe(codes(N_STOCKS), MARKET_TYPES, owner="bench")
        deadline = time.monotonic() + SECONDS + DEADLINE_S
        while hub.writer.stats.ticks_written < n_ticks and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = hub.writer.stats
        lat = sorted(stats.commit_latency)
        end_wall = stats.last_commit_at or time.time()
        result = {
            "written": stats.ticks_written,
            "received": hub.ticks_received,
            "ticks_per_s": stats.ticks_written / (end_wall - first_wall[0]) if first_wall else 0.0,
            "commit_p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else -1.0,
            "bus_dropped": getattr(hub.bus, "dropped", 0),
            "receipts": receipts,
        }
    finally:
        out.put(("done", result))
        ctl.get()  # stop: the browsers have had what they will get
        ws.close()
        server.should_exit = True
        thread.join(60)
        engine.dispose()


# ---------------------------------------------------------------------- the backend process
def _backend_proc(kwargs: dict[str, Any], port: int, stamps_path: str) -> None:
    """The backend; its bus follower's receipt of every tick message is stamped too
    (``time.monotonic()``, written to ``stamps_path`` when it stops): hub → backend."""
    import uvicorn

    from gslts_backend import live
    from gslts_backend.app import create_app
    from gslts_backend.settings import BackendSettings

    stamps: list[tuple[float, str, list[int]]] = []
    on_event = live.LiveData._on_event

    def stamped(self: Any, channel: str, event: dict[str, Any]) -> None:
        if event.get("n") and "cum_volume" in event and "code" in event:
            stamps.append((time.monotonic(), event["code"], event["cum_volume"]))
        on_event(self, channel, event)

    def dump(*_args: Any) -> None:
        Path(stamps_path).write_bytes(pickle.dumps((list(stamps), list(sent))))

    from gslts_backend.ws import fanout

    sent: list[tuple[float, str, int]] = []

    async def sender(self: Any, conn: Any) -> None:  # StreamHub._sender, stamped
        ws = conn.ws
        while True:
            await conn.wake.wait()
            conn.wake.clear()
            while conn.pending():
                for out in conn.take():
                    await ws.send_text(out.text())
                    conn.sent += 1
                    if out.msg.get("type") == "trades":
                        sent.append((time.monotonic(), out.msg["code"], out.msg["cum_volume"][0]))

    live.LiveData._on_event = stamped  # type: ignore[method-assign]
    fanout.StreamHub._sender = sender  # type: ignore[method-assign]
    signal.signal(signal.SIGUSR1, dump)  # the run asks for them before stopping this
    settings = BackendSettings(_env_file=None, **kwargs)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


# ---------------------------------------------------------------------- the browsers
class Browser:
    """One browser socket: RFC 6455 client framing over a raw socket."""

    def __init__(self, port: int, cookie: str, code: str) -> None:
        self.code = code
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
                f"Cookie: gslts_session={cookie}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            head += chunk
        status, _, rest = head.partition(b"\r\n\r\n")
        if not status.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(status.split(b"\r\n", 1)[0].decode())
        self.buf = bytearray(rest)
        self.sock.setblocking(False)
        #: (monotonic time, cum volumes) of every trades message
        self.trades: list[tuple[float, list[int]]] = []
        self.n_trades = 0
        self.types: Counter[str] = Counter()
        self.subscribed = False
        self.closed: tuple[int, str] | None = None

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = secrets.token_bytes(4)
        n = len(payload)
        head = struct.pack("!B", 0x80 | opcode)
        if n < 126:
            head += struct.pack("!B", 0x80 | n)
        elif n < 65536:
            head += struct.pack("!BH", 0x80 | 126, n)
        else:
            head += struct.pack("!BQ", 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.setblocking(True)
        try:
            self.sock.sendall(head + mask + masked)
        finally:
            self.sock.setblocking(False)

    def on_readable(self, now: float) -> bool:
        """Read what is there and handle every complete frame; False when closed."""
        try:
            chunk = self.sock.recv(1 << 20)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.buf += chunk
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n = b1 & 0x7F
            off = pos + 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                (n,) = struct.unpack_from("!H", buf, off)
                off += 2
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                (n,) = struct.unpack_from("!Q", buf, off)
                off += 8
            if len(buf) - off < n:
                break
            payload = bytes(buf[off : off + n])
            pos = off + n
            op = b0 & 0x0F
            if op == 0x1:
                self._on_text(now, payload)
            elif op == 0x9:
                self._send(0xA, payload)
            elif op == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.closed = (code, payload[2:].decode(errors="replace"))
                return False
        del buf[:pos]
        return True

    def _on_text(self, now: float, payload: bytes) -> None:
        if payload.startswith(b'{"type":"trades"'):
            cums = orjson.loads(payload)["cum_volume"]
            self.trades.append((now, cums))
            self.n_trades += len(cums)
            self.types["trades"] += 1
            return
        msg = orjson.loads(payload)
        kind = msg.get("type", "?")
        self.types[kind] += 1
        if kind == "subscribed":
            self.subscribed = True


def _browsers_proc(
    port: int, cookies: list[str], expect: dict[str, int], ctl: Any, out: Any, path: str
) -> None:
    """Every browser in one selector loop. On ``stop`` each goes on reading until it has
    the ``expect``-ed trades of its stock (or :data:`DRAIN_S` passed); the record then
    goes to ``path``."""
    stock_codes = codes(N_STOCKS)
    browsers = [Browser(port, c, stock_codes[i % N_STOCKS]) for i, c in enumerate(cookies)]
    sel = selectors.DefaultSelector()
    for b in browsers:
        sel.register(b.sock, selectors.EVENT_READ, b)
    for b in browsers:
        b.send_text(json.dumps({"op": "subscribe", "codes": [b.code]}))
    told_ready = False
    open_ = len(browsers)
    stop_at: float | None = None
    while open_:
        for key, _ev in sel.select(0.05):
            b = key.data
            if not b.on_readable(time.monotonic()):
                sel.unregister(b.sock)
                open_ -= 1
        if not told_ready and all(b.subscribed for b in browsers):
            out.put(("ready", len(browsers)))
            told_ready = True
        if stop_at is None and not ctl.empty():
            ctl.get()
            stop_at = time.monotonic() + DRAIN_S
        if stop_at is not None and (
            time.monotonic() > stop_at or all(b.n_trades >= expect[b.code] for b in browsers)
        ):
            break
    record = {
        "browsers": [
            {"code": b.code, "trades": b.trades, "types": dict(b.types), "closed": b.closed}
            for b in browsers
        ]
    }
    for b in browsers:
        b.sock.close()
    Path(path).write_bytes(pickle.dumps(record))
    out.put(("done", told_ready))


# ---------------------------------------------------------------------- the run
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(q: Any, want: str, timeout: float = DEADLINE_S) -> Any:
    kind, value = q.get(timeout=timeout)
    if kind != want:
        raise RuntimeError(f"expected {want}, got {kind}")
    return value


def _stop(proc: Any, timeout: float = 30) -> None:
    proc.join(timeout)
    if proc.is_alive():
        proc.terminate()
        proc.join(10)


def run_hub(
    ctx: Any, feed_url: str, db_url: str, tmp: Path, prefix: str, with_browsers: bool
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One paced run of the hub: alone, or with the backend and the browsers."""
    n_ticks = int(RATE * SECONDS)
    hub_port = _free_port()
    ctl, out = ctx.Queue(), ctx.Queue()
    cfg = {
        "n_ticks": n_ticks,
        "db_url": db_url,
        "data_dir": str(tmp / f"hub-{with_browsers}"),
        "redis_url": REDIS_URL if BUS == "redis" else None,
        "prefix": prefix,
        "port": hub_port,
        "feed_url": feed_url,
    }
    # not a daemon: the hub starts its writer process
    hub = ctx.Process(target=_hub_proc, args=(cfg, ctl, out))
    hub.start()
    procs = [hub]
    record: dict[str, Any] | None = None
    stamps_path = str(tmp / "backend-stamps.pickle")
    try:
        if not _get(out, "ready"):
            raise RuntimeError("the hub's HTTP app did not start")
        if with_browsers:
            api_port = _free_port()
            password = secrets.token_urlsafe(18)
            kwargs = {
                "kiwoom_mode": "sim",
                "redis_url": cfg["redis_url"],
                "hub_bus_prefix": prefix,
                "database_url": db_url,
                "hub_url": f"http://127.0.0.1:{hub_port}",
                "data_dir": str(tmp / "backend"),
                "gslts_admin_user": "benchadmin",
                "gslts_admin_password": password,
                "log_level": "WARNING",
            }
            backend = ctx.Process(
                target=_backend_proc, args=(kwargs, api_port, stamps_path), daemon=True
            )
            backend.start()
            procs.append(backend)
            cookies = _sessions(api_port, password)
            expect = dict(Counter(c for c, _cum, _p, _q in trades(n_ticks, N_STOCKS)))
            sides = []  # (ctl, out, path) of each browsers process
            for k in range(BROWSER_PROCS):
                side = (ctx.Queue(), ctx.Queue(), str(tmp / f"browsers-{k}.pickle"))
                mine = cookies[k::BROWSER_PROCS]  # each process: every stock, in turn
                proc = ctx.Process(
                    target=_browsers_proc,
                    args=(api_port, mine, expect, side[0], side[1], side[2]),
                    daemon=True,
                )
                proc.start()
                procs.append(proc)
                sides.append(side)
            for _ctl, b_out, _path in sides:
                _get(b_out, "ready")
        cpu0 = {p.pid: _cpu_s(p.pid) for p in procs}
        t0 = time.monotonic()
        ctl.put("go")
        result = _get(out, "done", SECONDS + 2 * DEADLINE_S)
        wall = time.monotonic() - t0
        # CPU seconds per second of each process (the hub's writer child not included)
        result["cpu"] = {
            name: round((_cpu_s(p.pid) - cpu0[p.pid]) / wall, 2)
            for name, p in zip(("hub", "backend"), procs, strict=False)
        }
        result["cpu"]["browsers"] = round(
            sum(_cpu_s(p.pid) - cpu0[p.pid] for p in procs[2:]) / wall, 2
        )
        if with_browsers:
            for b_ctl, _out, _path in sides:
                b_ctl.put("stop")
            record = {"browsers": []}
            for _ctl, b_out, path in sides:
                _get(b_out, "done", DRAIN_S + DEADLINE_S)
                part = pickle.loads(Path(path).read_bytes())  # noqa: S301 - our own file
                record["browsers"] += part["browsers"]
            os.kill(backend.pid, signal.SIGUSR1)
            end = time.monotonic() + DEADLINE_S
            while not Path(stamps_path).exists() and time.monotonic() < end:
                time.sleep(0.1)
            time.sleep(0.5)  # the dump is written whole
        ctl.put("stop")
    finally:
        for p in reversed(procs):
            if p is not hub:
                p.terminate()
            _stop(p)
    if record is not None and Path(stamps_path).exists():
        record["backend_stamps"], record["backend_sent"] = pickle.loads(  # noqa: S301
            Path(stamps_path).read_bytes()
        )
    return result, record


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (``/proc/<pid>/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sessions(port: int, admin_password: str) -> list[str]:
    """Ten viewers made by the admin, each logged in ten times: the session cookies."""
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as api:
        end = time.monotonic() + DEADLINE_S
        while True:
            try:
                if api.get("/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                raise RuntimeError("the backend did not start")
            time.sleep(0.2)
        r = api.post(
            "/api/auth/login",
            json={"username": "benchadmin", "password": admin_password, "token": "bearer"},
        )
        r.raise_for_status()
        admin = {"Authorization": f"Bearer {r.json()['token']}"}
        users = []
        for u in range(N_USERS):
            name, pw = f"viewer{u}", secrets.token_urlsafe(16)
            r = api.post("/api/users", headers=admin,
                         json={"username": name, "password": pw, "role": "viewer"})  # fmt: skip
            r.raise_for_status()
            users.append((name, pw))
        cookies = []
        for i in range(N_CLIENTS):
            name, pw = users[i % N_USERS]
            with httpx.Client(base_url=base, timeout=60) as browser:
                r = browser.post(
                    "/api/auth/login", json={"username": name, "password": pw, "token": "cookie"}
                )
                r.raise_for_status()
                cookies.append(r.cookies["gslts_session"])
    return cookies


def latencies(
    receipts: list[tuple[float, int]], record: dict[str, Any], n_ticks: int
) -> dict[str, float]:
    """Hub receipt → browser for every trade delivered; what each browser missed."""
    index = {(c, cum): k for k, (c, cum, _p, _q) in enumerate(trades(n_ticks, N_STOCKS))}
    per_code = Counter(c for c, _cum, _p, _q in trades(n_ticks, N_STOCKS))
    counts = [n for _t, n in receipts]
    times = [t for t, _n in receipts]
    lat: list[float] = []
    lost = 0
    for b in record["browsers"]:
        got = set()
        for t, cums in b["trades"]:
            for cum in cums:
                k = index[(b["code"], cum)]
                got.add(k)
                lat.append(t - times[bisect.bisect_right(counts, k)])
        lost += per_code[b["code"]] - len(got)
    lat.sort()

    def p(q: float) -> float:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 2) if lat else -1.0

    to_backend = sorted(
        t - times[bisect.bisect_right(counts, index[(code, cum)])]
        for t, code, cums in record.get("backend_stamps", [])
        for cum in cums
        if (code, cum) in index
    )

    def pb(q: float) -> float:
        n = len(to_backend)
        return round(to_backend[min(n - 1, int(q * n))] * 1000, 2) if n else -1.0

    # the oldest trade of each trades message, when the backend's socket write returned
    to_send = sorted(
        t - times[bisect.bisect_right(counts, index[(code, cum)])]
        for t, code, cum in record.get("backend_sent", [])
        if (code, cum) in index
    )

    def ps(q: float) -> float:
        n = len(to_send)
        return round(to_send[min(n - 1, int(q * n))] * 1000, 2) if n else -1.0

    slow = sum(1 for b in record["browsers"] if b["closed"] and b["closed"][0] == 4008)
    msgs = sum(sum(b["types"].values()) for b in record["browsers"])
    return {
        "fanout.deliveries": len(lat),
        "fanout.p50_ms": p(0.5),
        "fanout.p99_ms": p(0.99),
        "fanout.p999_ms": p(0.999),
        "fanout.max_ms": round(lat[-1] * 1000, 2) if lat else -1.0,
        "fanout.hub_to_backend_p50_ms": pb(0.5),
        "fanout.hub_to_backend_p99_ms": pb(0.99),
        "fanout.oldest_at_backend_send_p50_ms": ps(0.5),
        "fanout.oldest_at_backend_send_p99_ms": ps(0.99),
        "fanout.lost": lost,
        "fanout.slow_dropped": slow,
        "fanout.messages": msgs,
    }


def run() -> dict[str, float]:
    """The hub alone, then with the backend and the browsers; ``fanout.*`` keys."""
    from datetime import datetime

    from gslts_kiwoom.realtime import KST
    from tests.bench._mysql import fresh_schema

    n_ticks = int(RATE * SECONDS)
    ctx = mp.get_context("spawn")
    port_q = ctx.Queue()
    feed = ctx.Process(target=_feed_server, args=(port_q, 2, n_ticks), daemon=True)
    feed.start()
    feed_url = f"ws://127.0.0.1:{port_q.get(timeout=120)}/api/dostk/websocket"
    prefix = f"gslts-bench-{secrets.token_hex(3)}:"
    today = datetime.now(KST).date()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            with fresh_schema(today, 2) as eng:
                alone, _ = run_hub(ctx, feed_url, eng.url.render_as_string(hide_password=False),
                                   Path(tmp), prefix, False)  # fmt: skip
            print(f"   alone: {alone.get('ticks_per_s', 0):,.0f} ticks/s, "
                  f"load {os.getloadavg()}", flush=True)  # fmt: skip
            with fresh_schema(today, 2) as eng:
                fan, record = run_hub(ctx, feed_url, eng.url.render_as_string(hide_password=False),
                                      Path(tmp), prefix, True)  # fmt: skip
            print(f"   with browsers: {fan.get('ticks_per_s', 0):,.0f} ticks/s, "
                  f"load {os.getloadavg()}", flush=True)  # fmt: skip
    finally:
        _stop(feed, 10)
    problems = []
    for name, r in (("alone", alone), ("fanout", fan)):
        if r.get("written", 0) < n_ticks:
            problems.append(f"{name}: {r.get('written', 0):,} of {n_ticks:,} ticks written")
    assert record is not None
    out = latencies(fan["receipts"], record, n_ticks)
    out.update(
        {
            "fanout.clients": len(record["browsers"]),
            "fanout.stocks": N_STOCKS,
            "fanout.rate_target": RATE,
            "fanout.seconds": SECONDS,
            "fanout.bus_is_redis": 1 if BUS == "redis" else 0,
            "fanout.ingest_ticks_per_s": round(fan["ticks_per_s"]),
            "fanout.ingest_alone_ticks_per_s": round(alone["ticks_per_s"]),
            "fanout.ingest_ratio": round(fan["ticks_per_s"] / alone["ticks_per_s"], 3),
            "fanout.commit_p99_ms": round(fan["commit_p99_ms"], 1),
            "fanout.alone_commit_p99_ms": round(alone["commit_p99_ms"], 1),
            "fanout.hub_cpu": fan["cpu"].get("hub", -1),
            "fanout.hub_alone_cpu": alone["cpu"].get("hub", -1),
            "fanout.backend_cpu": fan["cpu"].get("backend", -1),
            "fanout.browsers_cpu": fan["cpu"].get("browsers", -1),
            "fanout.load_avg_1m": round(os.getloadavg()[0], 2),
        }
    )
    types: Counter[str] = Counter()
    for b in record["browsers"]:
        types.update(b["types"])
    print(f"   messages per type: {dict(types)}")
    if problems:
        raise BenchProblem(problems, out)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
