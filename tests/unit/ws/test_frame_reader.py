"""The buffered frame reader under the hot loop: RFC 6455 framing off a real socket pair."""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

import pytest
import websocket

from gslts_kiwoom._ws import _FrameReader


def _frame(payload: bytes, opcode: int = 0x1, fin: bool = True, mask: bytes | None = None) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    if mask:
        return head + mask + websocket.ABNF.mask(mask, payload)
    return head + payload


class _Ws:
    """What the reader uses of ``websocket.WebSocket``: ``sock`` and ``pong``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pongs: list[bytes] = []

    def pong(self, payload: bytes) -> None:
        self.pongs.append(payload)


def _read_all(reader: _FrameReader, n: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    while len(out) < n:
        f = reader.next()
        if f is None:
            reader.fill()
        else:
            out.append(f)
    return out


@pytest.fixture
def pair() -> Any:
    a, b = socket.socketpair()
    a.settimeout(5)
    yield a, b
    a.close()
    b.close()


def test_many_frames_per_read_all_lengths_split_anywhere(pair: Any) -> None:
    a, b = pair
    payloads = [b"x", os.urandom(125), os.urandom(126), os.urandom(70_000), b'{"trnm":"REAL"}']
    wire = b"".join(_frame(p) for p in payloads)
    ws = _Ws(a)
    reader = _FrameReader(ws, recv_bytes=1000)  # small reads: frames split across reads

    def send() -> None:
        for i in range(0, len(wire), 777):
            b.sendall(wire[i : i + 777])

    t = threading.Thread(target=send)
    t.start()
    got = _read_all(reader, len(payloads))
    t.join()
    assert got == [(0x1, p) for p in payloads]
    assert reader.next() is None


def test_fragments_reassembled_with_a_ping_between_them(pair: Any) -> None:
    a, b = pair
    b.sendall(
        _frame(b"hello ", fin=False)
        + _frame(b"ping-data", opcode=0x9)
        + _frame(b"wor", opcode=0x0, fin=False)
        + _frame(b"ld", opcode=0x0)
        + _frame(b"", opcode=0xA)  # an unsolicited PONG is ignored
        + _frame(b"next")
    )
    ws = _Ws(a)
    reader = _FrameReader(ws, recv_bytes=65536)
    assert _read_all(reader, 2) == [(0x1, b"hello world"), (0x1, b"next")]
    assert ws.pongs == [b"ping-data"]


def test_masked_frames_are_unmasked_and_close_is_returned(pair: Any) -> None:
    a, b = pair
    b.sendall(_frame(b"masked text", mask=b"\x01\x02\x03\x04") + _frame(b"\x03\xe8bye", opcode=0x8))
    reader = _FrameReader(_Ws(a), recv_bytes=65536)
    assert _read_all(reader, 2) == [(0x1, b"masked text"), (0x8, b"\x03\xe8bye")]


def test_timeout_and_close_raise_what_the_session_loop_expects(pair: Any) -> None:
    a, b = pair
    a.settimeout(0.05)
    reader = _FrameReader(_Ws(a), recv_bytes=65536)
    with pytest.raises(websocket.WebSocketTimeoutException):
        reader.fill()
    b.close()
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        reader.fill()


def test_oversized_frame_is_a_protocol_error(pair: Any) -> None:
    a, b = pair
    b.sendall(bytes([0x81, 127]) + (2**40).to_bytes(8, "big"))
    reader = _FrameReader(_Ws(a), recv_bytes=65536)
    reader.fill()
    with pytest.raises(websocket.WebSocketProtocolException):
        reader.next()
