"""WebSocket receive + decode throughput: our client vs websocket-client defaults + json.

A flood server (separate process, raw sockets, so it is never the bottleneck) performs the
WebSocket handshake, answers LOGIN, then streams pre-built Kiwoom-shaped ``REAL`` frames of
ten 0B items each (Korean ``name``, the full 0B FID set). We time from the first to the last
item on the client side:

* ``ws.items_per_s`` — :class:`gslts_kiwoom.KiwoomWebSocket` (UTF-8 validation off, orjson,
  decoded into :class:`gslts_kiwoom.Trade` events, delivered to an ``on_events`` callback);
* ``ws.naive_items_per_s`` — ``websocket.create_connection`` with default settings,
  ``recv()`` + ``json.loads`` (no domain decoding at all).

``BENCH_WS_FRAMES`` (default 20000) sets the frames of our run; the naive run gets a tenth.
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing as mp
import os
import socket
import struct
import threading
import time
from typing import Any

import orjson
import websocket

from gslts_kiwoom import KiwoomWebSocket, Trade, WsConfig

ITEMS_PER_FRAME = 10
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: The 0B FIDs whose values do not matter to a receiver benchmark, as real frames carry
#: them (many empty): shared by every benchmark that builds Kiwoom-shaped 0B frames.
ZERO_B_STATIC_FIDS: dict[str, str] = {
    "26": "-1234567",
    "29": "-98765432",
    "30": "-45.12",
    "31": "0.21",
    "32": "",
    "228": "97.31",
    "311": "4178021",
    "290": "2",
    "691": "0",
    "567": "000000",
    "568": "000000",
    "851": "",
    "1890": "090000",
    "1891": "093312",
    "1892": "100211",
    "1030": "",
    "1031": "",
    "1032": "",
    "1071": "",
    "1072": "",
    "1313": "",
    "1314": "",
    "1315": "",
    "1316": "",
    "1497": "",
    "1498": "",
    "620": "70412",
    "732": "",
    "852": "",
    "9081": "1",
}

CODES = ["005930", "000660", "035420", "035720", "051910", "006400", "207940", "005380"]


def build_frames(n_distinct: int = 64) -> list[bytes]:
    frames = []
    cum = 1_000_000
    for f in range(n_distinct):
        data = []
        for i in range(ITEMS_PER_FRAME):
            cum += 7
            price = 70000 + ((f * ITEMS_PER_FRAME + i) % 40) * 100
            values = {
                "20": "101523",
                "10": f"-{price}",
                "11": "-500",
                "12": "-0.71",
                "27": f"-{price + 100}",
                "28": f"-{price}",
                "15": f"{'+' if i % 2 else '-'}{i + 1}",
                "13": str(cum),
                "14": "123456",
                "16": "+70500",
                "17": "+71900",
                "18": "-69800",
                "25": "5",
                **ZERO_B_STATIC_FIDS,
            }
            data.append(
                {"type": "0B", "name": "주식체결", "item": CODES[i % len(CODES)], "values": values}
            )
        frames.append(orjson.dumps({"trnm": "REAL", "data": data}))
    return frames


def _ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return buf


def accept_kiwoom_session(conn: socket.socket) -> None:
    """Server side of the WebSocket handshake (RFC 6455) plus Kiwoom's LOGIN exchange."""
    req = b""
    while b"\r\n\r\n" not in req:
        req += conn.recv(4096)
    key = next(
        line.split(b":", 1)[1].strip()
        for line in req.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())  # noqa: S324 - RFC 6455
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    _read_client_frame(conn)  # LOGIN
    conn.sendall(_ws_frame(b'{"trnm":"LOGIN","return_code":0,"return_msg":"","sor_yn":"N"}'))


def _read_client_frame(conn: socket.socket) -> bytes:
    _b0, b1 = _recv_exact(conn, 2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", _recv_exact(conn, 2))
    elif n == 127:
        (n,) = struct.unpack("!Q", _recv_exact(conn, 8))
    mask = _recv_exact(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
    data = _recv_exact(conn, n)
    return bytes(c ^ mask[i % 4] for i, c in enumerate(data))


def _flood_server(port_q: Any, frames_per_connection: list[int]) -> None:
    frames = [_ws_frame(f) for f in build_frames()]
    block = b"".join(frames)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port_q.put(srv.getsockname()[1])
    for n_frames in frames_per_connection:
        conn, _addr = srv.accept()
        with conn:
            accept_kiwoom_session(conn)
            full, rest = divmod(n_frames, len(frames))
            try:
                for _ in range(full):
                    conn.sendall(block)
                conn.sendall(b"".join(frames[:rest]))
                while conn.recv(65536):  # keep the socket open until the client leaves
                    pass
            except OSError:
                pass


def _start_server(frames_per_connection: list[int]) -> tuple[mp.Process, int]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_flood_server, args=(q, frames_per_connection), daemon=True)
    proc.start()
    return proc, int(q.get(timeout=30))


def run_ours(url: str, total_items: int, timeout: float = 60.0) -> float:
    done = threading.Event()
    state = {"n": 0, "t0": 0.0, "t1": 0.0, "trades": 0, "first": 0}

    def on_events(events: list[Any]) -> None:
        # a batch is every frame of one socket read: the clock starts after the first one
        if not state["n"]:
            state["t0"] = time.perf_counter()
            state["first"] = len(events)
        state["n"] += len(events)
        state["trades"] += sum(1 for e in events if type(e) is Trade)
        if state["n"] >= total_items and not done.is_set():
            state["t1"] = time.perf_counter()
            done.set()

    client = KiwoomWebSocket(url, lambda _force: "bench-token", WsConfig(), on_events=on_events)
    client.start()
    try:
        if not done.wait(timeout):
            raise RuntimeError(f"ours: only {state['n']} of {total_items} items")
    finally:
        client.close()
    if client.stats.malformed or state["trades"] != state["n"]:
        raise RuntimeError(
            f"decode problems: {dict(client.stats.malformed)}, "
            f"{state['trades']} trades of {state['n']} items"
        )
    return (state["n"] - state["first"]) / (state["t1"] - state["t0"])


def run_naive(url: str, total_items: int) -> float:
    ws = websocket.create_connection(url)  # defaults: UTF-8 validation on
    try:
        ws.send('{"trnm":"LOGIN","token":"bench-token"}')
        json.loads(ws.recv())
        n = 0
        t0 = 0.0
        while n < total_items:
            msg = json.loads(ws.recv())
            if not n:
                t0 = time.perf_counter()
            for entry in msg["data"]:
                _ = entry["values"]["10"]
                n += 1
        t1 = time.perf_counter()
    finally:
        ws.close()
    return (n - ITEMS_PER_FRAME) / (t1 - t0)


def run() -> dict[str, float]:
    """Run both clients against the flood server; returns the ``ws.*`` result keys."""
    n_frames = int(os.environ.get("BENCH_WS_FRAMES", "20000"))
    # The naive client is ~20x slower; a tenth of the frames gives a stable rate quickly.
    naive_frames = max(500, n_frames // 10)
    proc, port = _start_server([n_frames, naive_frames])
    url = f"ws://127.0.0.1:{port}/api/dostk/websocket"
    try:
        ours = run_ours(url, n_frames * ITEMS_PER_FRAME)
        naive = run_naive(url, naive_frames * ITEMS_PER_FRAME)
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
    return {
        "ws.items_per_s": round(ours),
        "ws.naive_items_per_s": round(naive),
        "ws.ratio_vs_naive": round(ours / naive, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
