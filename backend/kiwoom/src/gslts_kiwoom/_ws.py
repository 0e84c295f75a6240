"""Kiwoom realtime WebSocket client (``/api/dostk/websocket``, PROTOCOL.md §5).

One daemon thread owns the socket (``websocket-client``, UTF-8 validation off — with it on,
receive tops out near 9k frames/s because the frames carry Korean text; ARCHITECTURE §9).
That thread connects, sends ``{"trnm":"LOGIN","token":…}`` first, waits for the LOGIN ack,
re-sends every registration, then reads frames: ``REAL`` → :mod:`gslts_kiwoom.realtime`
decoders → consumer; ``PING`` → echoed back unchanged; ``SYSTEM`` → logged, never echoed;
``REG``/``REMOVE`` acks → the caller waiting in :meth:`KiwoomWebSocket.subscribe`.

Failure handling:

* Any socket error, server close, LOGIN failure or watchdog expiry (no frame at all — not
  even a PING — for ``watchdog_s``) → reconnect with capped exponential backoff + jitter,
  re-LOGIN, restore **every** registration (they do not survive reconnects).
* LOGIN failure mentioning 8005/8031/8103 → the next attempt asks the token provider for a
  fresh token (``get_token(force_new=True)``).
* ``SYSTEM R10001`` (another connection with the same app key took over) → logged at
  ERROR; reconnect only if ``WsConfig.reconnect_on_takeover`` (after ``takeover_delay_s``),
  otherwise the client stops. ``R10002``/``R10004`` → logged; the server closes, we reconnect.

Consumers: either pass ``on_events`` (called on the socket thread with each decoded batch —
the REAL items of every frame one socket read brought, in order; it must be fast: append to
a buffer, never do I/O) or read batches with
:meth:`KiwoomWebSocket.get_events`. The receive loop never blocks on a consumer: batches go
through a bounded queue and, when it is full, the batch is dropped and counted per type in
``stats.dropped_items`` with a WARNING. Trade/order consumers must keep up; size
``queue_max_batches`` for bursts (one batch = one read: one frame of ~10 items when idle,
up to ``recv_bytes`` worth of frames under load).

Tokens are never logged: the LOGIN frame is built and sent without being logged, and
errors carry only server messages.
"""

from __future__ import annotations

import logging
import queue
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import websocket

from gslts_kiwoom.krx import KST
from gslts_kiwoom.realtime import RawRealtime, RealtimeDecoder, RealtimeEvent

__all__ = [
    "KiwoomWebSocket",
    "RealtimeError",
    "RealtimeLoginError",
    "RealtimeRegistrationError",
    "SessionTakenOver",
    "WsConfig",
    "WsStats",
    "ws_token_provider",
]

log = logging.getLogger(__name__)

#: Account-level types registered with item ``""`` (PROTOCOL.md §5.4/5.6).
_ITEMLESS_TYPES = frozenset({"00", "04", "0s"})
_TOKEN_ERROR_CODES = ("8005", "8031", "8103")
_DISCONNECTED: dict[str, Any] = {"trnm": "__disconnected__"}


class RealtimeError(Exception):
    """Base of realtime WebSocket errors."""


class RealtimeLoginError(RealtimeError):
    """LOGIN answered with a non-zero ``return_code`` (message is the server's text)."""

    def __init__(self, return_code: object, return_msg: str) -> None:
        super().__init__(f"LOGIN failed: return_code={return_code} {return_msg}")
        self.return_code = return_code
        self.return_msg = return_msg

    @property
    def token_rejected(self) -> bool:
        """True when the message names a token error (8005/8031/8103)."""
        return any(code in self.return_msg for code in _TOKEN_ERROR_CODES)


class RealtimeRegistrationError(RealtimeError):
    """REG/REMOVE answered with a non-zero ``return_code`` (e.g. ``등록 종목수 초과``),
    or a local registration limit (per session / groups) would be exceeded."""

    def __init__(self, return_code: object, return_msg: str) -> None:
        super().__init__(f"registration failed: return_code={return_code} {return_msg}")
        self.return_code = return_code
        self.return_msg = return_msg


class SessionTakenOver(RealtimeError):
    """SYSTEM R10001: another connection with the same app key replaced this session."""


@dataclass(frozen=True)
class WsConfig:
    """Timeouts, backoff, watchdog and registration limits of :class:`KiwoomWebSocket`.

    Kiwoom does not document registration limits (PROTOCOL.md §5.4); the defaults follow
    community lore (about 100) and can be tightened when the server says otherwise.
    """

    connect_timeout_s: float = 10.0
    login_timeout_s: float = 10.0
    ack_timeout_s: float = 10.0
    #: Reconnect when no frame at all (not even PING) arrives for this long.
    watchdog_s: float = 60.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    #: Random extra delay, as a fraction of the backoff (0.2 → up to +20%).
    backoff_jitter: float = 0.2
    max_items_per_reg: int = 100
    max_items_per_group: int = 100
    #: Distinct registered items (stocks/sectors) per session; ``None`` = no local cap.
    max_items_per_session: int | None = None
    first_group: int = 1
    max_groups: int = 20
    queue_max_batches: int = 20_000
    reconnect_on_takeover: bool = True
    takeover_delay_s: float = 5.0
    #: Bytes asked of the socket per read: every complete frame in it is handled, and the
    #: REAL items of all of them reach the consumer as one batch.
    recv_bytes: int = 256 * 1024
    #: Realtime types delivered undecoded (:class:`~gslts_kiwoom.realtime.RawRealtime`) for
    #: a consumer that keeps only some (e.g. the latest 0D book per stock of a batch) and
    #: decodes those with :meth:`KiwoomWebSocket.decode`.
    defer_types: frozenset[str] = frozenset()


@dataclass
class WsStats:
    """Live counters (written by the socket thread; read them from anywhere)."""

    frames: int = 0
    pings: int = 0
    reconnects: int = 0
    watchdog_timeouts: int = 0
    login_failures: int = 0
    takeovers: int = 0
    registration_errors: int = 0
    consumer_errors: int = 0
    last_frame_at: float | None = None
    last_login_at: datetime | None = None
    system_messages: Counter[str] = field(default_factory=Counter)
    dropped_items: Counter[str] = field(default_factory=Counter)
    #: Shared with the decoder: items decoded per type, malformed counts per reason and
    #: receive time of the last item per wire item code.
    items_by_type: Counter[str] = field(default_factory=Counter)
    malformed: Counter[str] = field(default_factory=Counter)
    last_seen: dict[str, float] = field(default_factory=dict)

    def last_tick_age(self, item: str, now: float | None = None) -> float | None:
        """Seconds since the last realtime item for ``item`` (``None`` if never seen)."""
        t = self.last_seen.get(item)
        if t is None:
            return None
        return (time.time() if now is None else now) - t


def ws_token_provider(
    get: Callable[[], str], invalidate: Callable[[str], None] | None = None
) -> Callable[[bool], str]:
    """Adapt a REST token source to :class:`KiwoomWebSocket`'s ``get_token(force_new)``.

    With ``TokenManager``: ``ws_token_provider(manager.get, manager.invalidate)`` — when the
    WebSocket LOGIN rejects the token (8005/8031/8103) the token last handed out is
    invalidated, so the next ``get()`` issues a fresh one (au10001).
    """
    last: list[str] = []

    def provide(force_new: bool) -> str:
        if force_new and last and invalidate is not None:
            invalidate(last[-1])
        token = get()
        last[:] = [token]
        return token

    return provide


class _Closed(Exception):
    """Internal: the session ended (server close, takeover, watchdog, stop)."""


Pair = tuple[str, str]  # (type, item)

_OP_CONT, _OP_TEXT, _OP_CLOSE, _OP_PING = 0x0, 0x1, 0x8, 0x9
_MAX_MESSAGE = 64 * 1024 * 1024


class _FrameReader:
    """Server → client frames read straight off the socket, many per ``recv`` (RFC 6455 §5).

    ``websocket-client`` reads each frame with three ``recv`` calls (header, length,
    payload); at tens of thousands of frames a second those syscalls, and the GIL hand-offs
    around each, were a fifth of the socket thread. Here one ``recv`` of up to
    ``recv_bytes`` fills a buffer and every complete frame in it is parsed from memory.
    The library still does the handshake and every send (PONG included); after the
    handshake it has read nothing past the HTTP headers, so no frame is split between the
    two readers. Fragmented messages are reassembled; PING is answered with PONG.
    """

    __slots__ = ("_buf", "_frag", "_frag_op", "_pos", "_size", "_sock", "_ws")

    def __init__(self, ws: websocket.WebSocket, recv_bytes: int) -> None:
        self._ws = ws
        if ws.sock is None:
            raise websocket.WebSocketConnectionClosedException("socket already closed")
        self._sock = ws.sock
        self._size = recv_bytes
        self._buf = bytearray()
        self._pos = 0
        self._frag: list[bytes] = []
        self._frag_op = 0

    def fill(self) -> None:
        """Block until more bytes arrive (the socket's timeout is the watchdog)."""
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        # the library's own recv: TLS want-read retries, timeouts → WebSocketTimeoutException
        # (the watchdog), EOF → WebSocketConnectionClosedException
        self._buf += websocket.recv(self._sock, self._size)

    def next(self) -> tuple[int, bytes] | None:
        """The next complete message ``(opcode, payload)`` in the buffer, or ``None``."""
        buf = self._buf
        while True:
            pos = self._pos
            avail = len(buf) - pos
            if avail < 2:
                return None
            b0, b1 = buf[pos], buf[pos + 1]
            n = b1 & 0x7F
            head = 2
            if n == 126:
                if avail < 4:
                    return None
                n = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif n == 127:
                if avail < 10:
                    return None
                n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if n > _MAX_MESSAGE:
                raise websocket.WebSocketProtocolException(f"frame of {n} bytes")
            mask = b1 & 0x80
            if mask:
                head += 4
            if avail < head + n:
                return None
            payload = bytes(buf[pos + head : pos + head + n])
            if mask:  # servers must not mask (§5.1), but be lenient
                payload = websocket.ABNF.mask(bytes(buf[pos + head - 4 : pos + head]), payload)
            self._pos = pos + head + n
            opcode = b0 & 0x0F
            if opcode >= _OP_CLOSE:  # control frames may sit between fragments
                if opcode == _OP_PING:
                    self._ws.pong(payload)
                    continue
                if opcode == _OP_CLOSE:
                    return opcode, payload
                continue  # PONG
            fin = b0 & 0x80
            if opcode == _OP_CONT:
                self._frag.append(payload)
                if sum(map(len, self._frag)) > _MAX_MESSAGE:
                    raise websocket.WebSocketProtocolException("message too large")
                if not fin:
                    continue
                payload = b"".join(self._frag)
                opcode, self._frag = self._frag_op, []
                return opcode, payload
            if not fin:
                self._frag_op, self._frag = opcode, [payload]
                continue
            return opcode, payload


class KiwoomWebSocket:
    """Realtime client for Kiwoom's WebSocket (PROTOCOL.md §5; 실시간 시세 REG/REMOVE).

    Args:
        url: ``ws(s)://…/api/dostk/websocket``.
        get_token: ``get_token(force_new) -> access token``; ``force_new=True`` after the
            server rejected the token (plug in the REST token manager).
        config: limits and timeouts (:class:`WsConfig`).
        on_events: optional callback receiving each batch of decoded events (the frames of
            one socket read) on the socket thread; when ``None`` batches are queued for
            :meth:`get_events`.
        on_error: optional callback for asynchronous errors (login failures, restore
            registration errors, :class:`SessionTakenOver`).
        on_state: optional callback with ``"connecting"``, ``"ready"``, ``"disconnected"``,
            ``"stopped"``.

    Call :meth:`start`, then :meth:`subscribe`. :meth:`close` stops the thread.
    """

    def __init__(
        self,
        url: str,
        get_token: Callable[[bool], str],
        config: WsConfig | None = None,
        *,
        on_events: Callable[[list[RealtimeEvent]], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        name: str = "kiwoom-ws",
    ) -> None:
        self._url = url
        self._get_token = get_token
        self.config = config or WsConfig()
        self._on_events = on_events
        self._on_error = on_error
        self._on_state = on_state
        self._name = name
        self._decoder = RealtimeDecoder(defer=self.config.defer_types)
        self.stats = WsStats(
            items_by_type=self._decoder.items_by_type,
            malformed=self._decoder.malformed,
            last_seen=self._decoder.last_seen,
        )
        self._queue: queue.Queue[list[RealtimeEvent]] = queue.Queue(self.config.queue_max_batches)
        self._acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: websocket.WebSocket | None = None  # current socket (any phase)
        self._live: websocket.WebSocket | None = None  # logged in and restored
        self._reader: _FrameReader | None = None  # reads the current socket
        # Guards the registration tables and serialises REG/REMOVE exchanges (Kiwoom acks
        # carry no correlation id, so only one may be in flight).
        self._sub_lock = threading.RLock()
        self._wanted: dict[Pair, set[str]] = {}
        self._group_of_item: dict[str, str] = {}
        self._group_items: dict[str, set[str]] = {}
        self._taken_over = False
        self._dropped_logged = 0

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Start the socket thread (connects, logs in, restores registrations)."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until logged in with all registrations restored; False on timeout."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        """True while logged in with registrations restored."""
        return self._ready.is_set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the client and join its thread."""
        self._stop.set()
        self._abort_socket()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> KiwoomWebSocket:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _abort_socket(self) -> None:
        ws = self._ws
        if ws is not None:
            try:
                ws.abort()  # type: ignore[no-untyped-call]
            except Exception:  # already broken sockets are fine
                log.debug("ws_abort_failed", exc_info=True)

    def _state(self, state: str) -> None:
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                log.exception("ws_on_state_callback_failed")

    def _error(self, exc: Exception) -> None:
        if self._on_error is not None:
            try:
                self._on_error(exc)
            except Exception:
                log.exception("ws_on_error_callback_failed")

    # -- consumer API -----------------------------------------------------------------
    def decode(self, raw: RawRealtime) -> RealtimeEvent | None:
        """Decode an item of a ``defer_types`` type (call it from ``on_events``: it uses the
        receive clock of the batch being delivered); ``None`` when malformed (counted)."""
        return self._decoder.decode(raw)

    def get_events(self, timeout: float | None = None) -> list[RealtimeEvent]:
        """Next decoded batch (the frames of one socket read), or ``[]`` after ``timeout``."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return []

    def iter_events(self, poll_s: float = 0.5) -> Iterator[RealtimeEvent]:
        """Yield events until :meth:`close` (blocking iterator over :meth:`get_events`)."""
        while not self._stop.is_set() or not self._queue.empty():
            yield from self.get_events(poll_s)

    # -- subscriptions ----------------------------------------------------------------
    def subscriptions(self) -> dict[Pair, frozenset[str]]:
        """Current wanted registrations: ``(type, item) -> owners``."""
        with self._sub_lock:
            return {k: frozenset(v) for k, v in self._wanted.items()}

    def group_of(self, item: str) -> str | None:
        """The ``grp_no`` an item is registered in (``None`` if not registered)."""
        with self._sub_lock:
            return self._group_of_item.get(item)

    def subscribe(self, items: Iterable[str], types: Iterable[str], owner: str = "default") -> None:
        """Register realtime ``types`` for ``items`` on behalf of ``owner`` (REG).

        Reference-counted: a (type, item) is registered once and stays registered until
        every owner released it. Items for 00/04/0s are ``""``. When connected, waits for
        each REG ack; when not, the registration is sent on (re)connect.

        Raises:
            RealtimeRegistrationError: the server answered non-zero (e.g. ``등록 종목수
                초과``) or a local limit would be exceeded; nothing new stays registered.
        """
        self._not_on_socket_thread()
        types_l = list(dict.fromkeys(types))
        items_l = list(dict.fromkeys(items))
        with self._sub_lock:
            new: list[Pair] = []
            joined: list[Pair] = []  # existing pairs this owner newly joined
            for typ in types_l:
                for item in items_l if typ not in _ITEMLESS_TYPES else [""]:
                    owners = self._wanted.get((typ, item))
                    if owners is None:
                        new.append((typ, item))
                        self._wanted[(typ, item)] = {owner}
                    elif owner not in owners:
                        owners.add(owner)
                        joined.append((typ, item))
            if not new:
                return
            try:
                self._assign_groups(new)
                ws = self._live
                if ws is not None:
                    self._exchange(ws, "REG", new, from_socket_thread=False)
            except RealtimeRegistrationError:
                # All-or-nothing for the caller: undo this call's effects.
                self._forget(new)
                for pair in joined:
                    self._wanted[pair].discard(owner)
                self.stats.registration_errors += 1
                raise

    def unsubscribe(
        self, items: Iterable[str], types: Iterable[str], owner: str = "default"
    ) -> None:
        """Release ``owner``'s interest; REMOVE what no owner wants any more."""
        self._not_on_socket_thread()
        types_l = list(dict.fromkeys(types))
        items_l = list(dict.fromkeys(items))
        with self._sub_lock:
            gone: list[Pair] = []
            for typ in types_l:
                for item in items_l if typ not in _ITEMLESS_TYPES else [""]:
                    owners = self._wanted.get((typ, item))
                    if owners is None or owner not in owners:
                        continue
                    owners.discard(owner)
                    if not owners:
                        gone.append((typ, item))
            self._release(gone)

    def unsubscribe_owner(self, owner: str) -> None:
        """Release everything ``owner`` holds."""
        self._not_on_socket_thread()
        with self._sub_lock:
            gone: list[Pair] = []
            for pair, owners in self._wanted.items():
                if owner in owners:
                    owners.discard(owner)
                    if not owners:
                        gone.append(pair)
            self._release(gone)

    def _not_on_socket_thread(self) -> None:
        # The socket thread delivers the acks these calls wait for: calling them from an
        # ``on_events`` callback would wait on itself until the ack timeout.
        if threading.current_thread() is self._thread:
            raise RuntimeError("subscribe/unsubscribe must not be called from on_events")

    def _release(self, gone: list[Pair]) -> None:
        if not gone:
            return
        ws = self._live
        if ws is not None:
            try:
                self._exchange(ws, "REMOVE", gone, from_socket_thread=False)
            except RealtimeRegistrationError as exc:
                # The server keeps pushing a few unwanted items; harmless, but say so.
                log.warning("ws_remove_failed msg=%s", exc.return_msg[:200])
        # Group tables must still map the items while building REMOVE (above).
        self._forget(gone)

    def _forget(self, pairs: list[Pair], items: Iterable[str] = ()) -> None:
        for pair in pairs:
            self._wanted.pop(pair, None)
        still = {item for (_t, item) in self._wanted}
        for item in {i for (_t, i) in pairs} | set(items):
            if item not in still:
                grp = self._group_of_item.pop(item, None)
                if grp is not None:
                    self._group_items[grp].discard(item)

    def _assign_groups(self, pairs: list[Pair]) -> list[str]:
        """Put new items into groups (sharding past ``max_items_per_group``)."""
        cfg = self.config
        new_items = [
            i for i in dict.fromkeys(i for (_t, i) in pairs) if i not in self._group_of_item
        ]
        counted = [i for i in new_items if i]
        if cfg.max_items_per_session is not None:
            total = sum(1 for i in self._group_of_item if i) + len(counted)
            if total > cfg.max_items_per_session:
                raise RealtimeRegistrationError(
                    "local", f"등록 종목수 초과 (session limit {cfg.max_items_per_session})"
                )
        assigned: list[str] = []
        for item in new_items:
            for g in range(cfg.first_group, cfg.first_group + cfg.max_groups):
                grp = str(g)
                members = self._group_items.setdefault(grp, set())
                if not item or len(members) < cfg.max_items_per_group:
                    members.add(item)
                    self._group_of_item[item] = grp
                    assigned.append(item)
                    break
            else:
                for done in assigned:
                    self._group_items[self._group_of_item.pop(done)].discard(done)
                raise RealtimeRegistrationError(
                    "local", f"등록 종목수 초과 (all {cfg.max_groups} groups are full)"
                )
        return assigned

    def _messages(self, trnm: str, pairs: Iterable[Pair]) -> list[dict[str, Any]]:
        """REG/REMOVE messages for ``pairs``: one per (group, type, chunk of items)."""
        by: dict[tuple[str, str], list[str]] = {}
        for typ, item in pairs:
            by.setdefault((self._group_of_item[item], typ), []).append(item)
        out: list[dict[str, Any]] = []
        step = max(1, self.config.max_items_per_reg)
        for (grp, typ), items in sorted(by.items()):
            for i in range(0, len(items), step):
                msg: dict[str, Any] = {"trnm": trnm, "grp_no": grp}
                if trnm == "REG":
                    msg["refresh"] = "1"  # keep the group's other registrations
                msg["data"] = [{"item": items[i : i + step], "type": [typ]}]
                out.append(msg)
        return out

    def _exchange(
        self, ws: websocket.WebSocket, trnm: str, pairs: list[Pair], *, from_socket_thread: bool
    ) -> None:
        """Send REG/REMOVE messages one at a time, checking each ack.

        From a caller thread the ack comes through ``self._acks`` (the socket thread
        routes it); during restore the socket thread reads the replies itself. A lost
        connection leaves the registrations wanted (restored on reconnect); an ack
        timeout forces a reconnect for the same reason.
        """
        for msg in self._messages(trnm, pairs):
            if not from_socket_thread:
                while not self._acks.empty():
                    self._acks.get_nowait()
            try:
                ws.send(orjson.dumps(msg).decode())
            except (websocket.WebSocketException, OSError):
                log.warning("ws_send_failed trnm=%s (restored on reconnect)", trnm)
                return
            if from_socket_thread:
                reply = self._read_until(ws, {trnm}, self.config.ack_timeout_s)
            else:
                try:
                    reply = self._acks.get(timeout=self.config.ack_timeout_s)
                except queue.Empty:
                    log.warning("ws_ack_timeout trnm=%s; forcing reconnect", trnm)
                    self._abort_socket()
                    return
                if reply is _DISCONNECTED:
                    return
            code = reply.get("return_code")
            if str(code).strip() not in ("0", ""):
                raise RealtimeRegistrationError(code, str(reply.get("return_msg", "")))

    # -- socket thread ----------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        cfg = self.config
        base = min(cfg.backoff_max_s, cfg.backoff_initial_s * (2 ** min(attempt, 30)))
        return float(base * (1.0 + cfg.backoff_jitter * random.random()))  # noqa: S311

    def _run(self) -> None:
        attempt = 0
        force_new = False
        first = True
        while not self._stop.is_set():
            if not first:
                self.stats.reconnects += 1
            first = False
            self._state("connecting")
            takeover = False
            try:
                ws = websocket.create_connection(
                    self._url,
                    timeout=self.config.connect_timeout_s,
                    skip_utf8_validation=True,
                    enable_multithread=True,
                    sockopt=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
                )
                self._ws = ws
                self._reader = _FrameReader(ws, self.config.recv_bytes)
                if self._stop.is_set():
                    break
                self._login(ws, force_new)
                force_new = False
                with self._sub_lock:
                    pairs = list(self._wanted)
                    try:
                        self._exchange(ws, "REG", pairs, from_socket_thread=True)
                    except RealtimeRegistrationError as exc:
                        # Keep the session: other registrations may be fine. Surface loudly.
                        self.stats.registration_errors += 1
                        log.error("ws_restore_registration_failed msg=%s", exc.return_msg[:200])
                        self._error(exc)
                    self._live = ws
                attempt = 0
                ws.settimeout(self.config.watchdog_s)
                self._ready.set()
                self._state("ready")
                log.info("ws_ready registrations=%d", len(pairs))
                self._recv_loop(ws)
            except SessionTakenOver as exc:
                takeover = True
                self._error(exc)
            except RealtimeLoginError as exc:
                self.stats.login_failures += 1
                force_new = exc.token_rejected
                log.error("ws_login_failed msg=%s", exc.return_msg[:200])
                self._error(exc)
            except websocket.WebSocketTimeoutException:
                if self._ready.is_set():
                    self.stats.watchdog_timeouts += 1
                    log.warning(
                        "ws_watchdog no frame for %.1fs; reconnecting", self.config.watchdog_s
                    )
                else:
                    log.warning("ws_timeout during connect/login")
            except _Closed as exc:
                log.warning("ws_closed reason=%s", str(exc)[:200])
            except (websocket.WebSocketException, OSError) as exc:
                if not self._stop.is_set():
                    log.warning("ws_disconnected error=%s", type(exc).__name__)
            except Exception as exc:  # the thread must survive anything and reconnect
                log.exception("ws_unexpected_error")
                self._error(exc)
            finally:
                self._ready.clear()
                self._live = None
                self._acks.put(_DISCONNECTED)
                ws_now, self._ws = self._ws, None
                if ws_now is not None:
                    try:
                        ws_now.abort()  # type: ignore[no-untyped-call]
                        ws_now.close(timeout=0)
                    except Exception:
                        log.debug("ws_close_failed", exc_info=True)
                self._state("disconnected")
            if self._stop.is_set():
                break
            if takeover:
                if not self.config.reconnect_on_takeover:
                    log.error("ws_stopped_after_takeover (reconnect_on_takeover=False)")
                    self._stop.set()
                    break
                self._stop.wait(self.config.takeover_delay_s)
            else:
                self._stop.wait(self._backoff(attempt))
            attempt += 1
        self._state("stopped")

    def _login(self, ws: websocket.WebSocket, force_new: bool) -> None:
        token = self._get_token(force_new)
        # The token goes on the wire only; never into a log line or exception.
        ws.send(orjson.dumps({"trnm": "LOGIN", "token": token}).decode())
        del token
        reply = self._read_until(ws, {"LOGIN"}, self.config.login_timeout_s)
        code = reply.get("return_code")
        if str(code).strip() != "0":
            raise RealtimeLoginError(code, str(reply.get("return_msg", "")))
        self.stats.last_login_at = datetime.now(KST)
        log.info("ws_login_ok sor_yn=%s", str(reply.get("sor_yn", ""))[:2])

    def _read_until(
        self, ws: websocket.WebSocket, trnms: set[str], timeout: float
    ) -> dict[str, Any]:
        """Read frames (handling PING/REAL/SYSTEM normally) until a ``trnms`` reply."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise websocket.WebSocketTimeoutException(f"no {sorted(trnms)} reply")
            ws.settimeout(left)
            obj = self._recv_one(ws)
            if obj is not None and obj.get("trnm") in trnms:
                return obj

    def _recv_loop(self, ws: websocket.WebSocket) -> None:
        """Hot loop: read the socket until the session ends (raises to end it).

        Each read hands every complete frame in it to the decoders, and the REAL items of
        all of them to the consumer as **one** batch (dated with the read's receive time):
        under load a batch spans many frames, so per-batch work — a journal append, a bus
        message per stock — is paid once per read instead of once per frame."""
        reader = self._reader
        if reader is None:
            raise _Closed("no reader")
        nxt = reader.next
        loads = orjson.loads
        dec = self._decoder
        st = self.stats
        dispatch = self._dispatch
        clock = time.time
        stop = self._stop
        batch: list[RealtimeEvent] = []
        while not stop.is_set():
            now = clock()
            dec.set_clock(now)
            while True:
                frame = nxt()
                if frame is None:
                    break
                st.frames += 1
                opcode, raw = frame
                if opcode != _OP_TEXT:
                    if batch:
                        dispatch(batch)
                        batch = []
                    self._control_frame(ws, opcode, raw)
                    continue
                try:
                    obj = loads(raw)
                except orjson.JSONDecodeError:
                    self._non_json(ws, raw)
                    continue
                if type(obj) is dict and obj.get("trnm") == "REAL":
                    batch += dec.decode_items(obj.get("data"))
                    continue
                if batch:  # keep order: items before a control reply go out first
                    dispatch(batch)
                    batch = []
                reply = self._control(ws, raw, obj)
                if reply is not None:
                    self._acks.put(reply)
            if batch:
                dispatch(batch)
                batch = []
            reader.fill()
            st.last_frame_at = clock()

    def _recv_one(self, ws: websocket.WebSocket) -> dict[str, Any] | None:
        """Read and handle one frame (slow path used during login/restore)."""
        reader = self._reader
        if reader is None:
            raise _Closed("no reader")
        frame = reader.next()
        while frame is None:
            reader.fill()
            frame = reader.next()
        now = time.time()
        self.stats.frames += 1
        self.stats.last_frame_at = now
        opcode, raw = frame
        if opcode != _OP_TEXT:
            self._control_frame(ws, opcode, raw)
            return None
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._non_json(ws, raw)
            return None
        if type(obj) is dict and obj.get("trnm") == "REAL":
            self._decoder.set_clock(now)
            events = self._decoder.decode_items(obj.get("data"))
            if events:
                self._dispatch(events)
            return None
        return self._control(ws, raw, obj)

    def _control_frame(self, ws: websocket.WebSocket, opcode: int, raw: bytes) -> None:
        if opcode == _OP_CLOSE:
            code = int.from_bytes(raw[:2], "big") if len(raw) >= 2 else None
            raise _Closed(f"server close code={code} {raw[2:].decode('utf-8', 'replace')}")
        if opcode == websocket.ABNF.OPCODE_BINARY:
            self._decoder.count_malformed("frame:binary", raw[:200])

    def _non_json(self, ws: websocket.WebSocket, raw: bytes) -> None:
        if raw.strip() == b"PING":
            # The official SDK treats a bare text PING as a keep-alive too.
            self._echo(ws, raw)
            return
        self._decoder.count_malformed("frame:json", raw[:200])

    def _echo(self, ws: websocket.WebSocket, raw: bytes) -> None:
        self.stats.pings += 1
        ws.send(raw, websocket.ABNF.OPCODE_TEXT)

    def _control(self, ws: websocket.WebSocket, raw: bytes, obj: object) -> dict[str, Any] | None:
        """Handle a non-REAL JSON frame; returns LOGIN/REG/REMOVE replies to the caller."""
        if type(obj) is not dict:
            self._decoder.count_malformed("frame:not_object", raw[:200])
            return None
        trnm = obj.get("trnm")
        if trnm == "PING":
            self._echo(ws, raw)  # identical bytes back (PROTOCOL.md §5.2)
            return None
        if trnm in ("REG", "REMOVE", "LOGIN"):
            return obj
        if trnm == "SYSTEM":
            self._system(obj)
            return None
        if trnm == "REAL":  # shape errors inside decode_items are counted there
            return None
        self._decoder.count_malformed(f"frame:trnm:{str(trnm)[:16]}", raw[:200])
        return None

    def _system(self, obj: dict[str, Any]) -> None:
        # Both shapes have been seen: code/message and return_code/return_msg (§5.3).
        code = str(obj.get("code") or obj.get("return_code") or "")
        msg = str(obj.get("message") or obj.get("return_msg") or "")
        self.stats.system_messages[code] += 1
        if code == "R10001":
            self.stats.takeovers += 1
            log.error(
                "ws_session_taken_over code=R10001 msg=%s — another connection uses this app "
                "key; reconnect_on_takeover=%s",
                msg[:200],
                self.config.reconnect_on_takeover,
            )
            raise SessionTakenOver(f"R10001 {msg}")
        log.warning("ws_system code=%s msg=%s", code[:16], msg[:200])

    def _dispatch(self, events: list[RealtimeEvent]) -> None:
        cb = self._on_events
        if cb is not None:
            try:
                cb(events)
            except Exception:
                self.stats.consumer_errors += 1
                log.exception("ws_on_events_callback_failed")
            return
        try:
            self._queue.put_nowait(events)
        except queue.Full:
            dropped = self.stats.dropped_items
            for ev in events:
                dropped[type(ev).__name__] += 1
            self._dropped_logged += 1
            if self._dropped_logged <= 10 or self._dropped_logged % 1000 == 0:
                log.warning(
                    "ws_consumer_slow dropped_batch items=%d total_dropped=%s",
                    len(events),
                    dict(dropped),
                )
