"""Simulator WebSocket endpoint ``/api/dostk/websocket`` (PROTOCOL.md §5, checklist §5.8).

This module is only the protocol layer; it knows nothing about the market model.

Integration (what the simulator app must do)::

    from gslts_kiwoom.sim._ws import SimWsConfig, SimWsHub, WsIdentity

    class Tokens:                                   # satisfies TokenValidator
        def validate_token(self, token: str) -> WsIdentity | None:
            ...  # look the token up in the REST token registry (au10001)
            return WsIdentity(app_key=..., account="1234567890")

    hub = SimWsHub(Tokens(), SimWsConfig(), feed=market)   # feed: optional RealFeed
    app = Starlette(routes=[WebSocketRoute("/api/dostk/websocket", hub.endpoint), ...])

* ``feed`` (any object with ``add_listener(listener) -> remove``) or direct calls to
  :meth:`SimWsHub.publish` deliver REAL ``data`` entries, already in wire shape:
  ``{"type": "0B", "name": "주식체결", "item": "005930", "values": {"20": "090001", …}}``
  — values are strings keyed by FID, prices signed versus the previous close. ``item`` is
  the code *as registered*: ``"005930"`` for KRX, ``"005930_NX"`` for NXT. Entries of type
  ``00``/``04`` go to every session whose login account equals ``values["9201"]`` and that
  registered that type (their item is the stock; PROTOCOL §5.8). Other entries go to the
  sessions that registered ``(type, item)``.
* ``publish`` is thread-safe (callable from the event loop or any thread). Entries published
  in quick succession are batched several per REAL frame (``max_items_per_frame``).
* :meth:`SimWsHub.registered_items` tells the model which items have subscribers (it may
  skip generating data for the others).

Behaviour: LOGIN must be the first message (token checked; success
``{"trnm":"LOGIN","return_code":0,"return_msg":"","sor_yn":"N"}``; failure
``return_code`` 1 with ``[CODE=8005, MESSAGE=Token이 유효하지 않습니다]`` then close); no LOGIN
within ``login_timeout_s`` → SYSTEM R10004 and close. ``{"trnm":"PING"}`` every
``ping_interval_s``; ``max_missed_pings`` unanswered in a row → SYSTEM R10002 and close.
REG/REMOVE per ``grp_no`` with ``refresh`` semantics and a per-session cap on distinct
items (``return_code`` 1, ``등록 종목수 초과``). One session per app key by default: a new
LOGIN sends SYSTEM R10001 to the old session and closes it. A client that echoes a SYSTEM
frame is disconnected (reported live, PROTOCOL §5.3).

Fault hooks for tests: :meth:`SimWsHub.drop_all`, :meth:`SimWsHub.stall` /
:meth:`SimWsHub.unstall`, :meth:`SimWsHub.send_garbage`, :meth:`SimWsHub.reject_logins`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import Counter
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from gslts_kiwoom.sim._ws_session import (
    ACCOUNT_TYPES,
    DEFAULT_GARBAGE,
    MSG_R10001,
    MSG_R10002,
    MSG_R10004,
    MSG_TOKEN,
    MSG_TOO_MANY,
    PING_FRAME,
    RawItem,
    RealFeed,
    RealListener,
    Session,
    SimWsConfig,
    TokenValidator,
    WsIdentity,
    dumps,
    loads,
    on_loop,
    str_list,
    system_frame,
    wants,
)

__all__ = [
    "DEFAULT_GARBAGE",
    "RawItem",
    "RealFeed",
    "RealListener",
    "SimWsConfig",
    "SimWsHub",
    "TokenValidator",
    "WsIdentity",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class SimWsHub:
    """Kiwoom-compatible WebSocket server side: sessions, registrations, REAL fan-out.

    Args:
        tokens: validates LOGIN tokens (:class:`TokenValidator`).
        config: protocol knobs (:class:`SimWsConfig`).
        feed: optional :class:`RealFeed`; the hub listens to it for its whole life.
    """

    def __init__(
        self,
        tokens: TokenValidator,
        config: SimWsConfig | None = None,
        *,
        feed: RealFeed | None = None,
    ) -> None:
        self._tokens = tokens
        self.config = config or SimWsConfig()
        self._sessions: dict[int, Session] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reject_logins = 0
        #: Counters for tests/monitoring (logins, closes by reason, frames sent…).
        self.stats: Counter[str] = Counter()
        #: Bumped whenever any session's registrations change (feeds cache on it).
        self.subscriptions_version = 0
        self._detach = feed.add_listener(self.publish) if feed is not None else None

    # -- public helpers ---------------------------------------------------------------
    def registered_items(self, typ: str) -> set[str]:
        """Items any open session registered for realtime type ``typ``."""
        return {i for s in list(self._sessions.values()) for (t, i) in s.pairs() if t == typ}

    def sessions(self) -> list[tuple[WsIdentity, frozenset[tuple[str, str]]]]:
        """Open sessions: identity and registered ``(type, item)`` pairs."""
        return [(s.identity, frozenset(s.pairs())) for s in list(self._sessions.values())]

    def publish(self, entries: Sequence[Mapping[str, Any] | RawItem]) -> None:
        """Deliver REAL ``data`` entries to the sessions that want them (thread-safe).

        An entry is a mapping in wire shape or a pre-serialised :data:`RawItem`."""
        loop = self._loop
        if loop is None or not entries:
            return
        if on_loop(loop):
            self._route(entries)
        else:
            loop.call_soon_threadsafe(self._route, list(entries))

    def close(self) -> None:
        """Detach from the feed (sessions end with the server)."""
        if self._detach is not None:
            self._detach()
            self._detach = None

    # -- fault hooks (callable from any thread) ---------------------------------------
    def drop_all(self) -> int:
        """Close every session at once (as a network drop would); returns how many."""
        return self._call(self._drop_all())

    def stall(self) -> int:
        """Keep the current sessions' sockets open but send nothing (no PING, no data)."""
        return self._call(self._set_stall(True))

    def unstall(self) -> int:
        """Resume the stalled sessions."""
        return self._call(self._set_stall(False))

    def send_garbage(self, frames: Sequence[str] = DEFAULT_GARBAGE) -> int:
        """Send these raw text frames to every session; returns how many sessions."""
        return self._call(self._garbage(list(frames)))

    async def apply_faults(
        self, *, drop: bool = False, stall: float | bool | None = None, garbage: int = 0
    ) -> dict[str, int]:
        """The admin endpoint's faults, awaited on the server loop: drop every session;
        stall (``True`` until :meth:`unstall`, ``False`` resume, seconds = stall then
        resume by itself); send ``garbage`` frames (cycling :data:`DEFAULT_GARBAGE`)."""
        out: dict[str, int] = {}
        if garbage:
            frames = [DEFAULT_GARBAGE[i % len(DEFAULT_GARBAGE)] for i in range(garbage)]
            out["garbage_sessions"] = await self._garbage(frames)
        if stall is not None and stall is not False:
            out["stalled"] = await self._set_stall(True)
            if stall is not True and float(stall) > 0:
                loop = asyncio.get_running_loop()
                sessions = list(self._sessions.values())

                def resume() -> None:
                    for s in sessions:
                        s.stalled = False
                        s.unstall.set()

                loop.call_later(float(stall), resume)
        elif stall is False:
            out["unstalled"] = await self._set_stall(False)
        if drop:
            out["dropped"] = await self._drop_all()
        return out

    def reject_logins(self, count: int = 1) -> None:
        """Fail the next ``count`` LOGINs with the 8005 token error."""
        self._reject_logins += count

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("no session has connected yet (event loop unknown)")
        if on_loop(loop):
            raise RuntimeError("call the fault hooks from another thread, or await them")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)

    async def _drop_all(self) -> int:
        sessions = list(self._sessions.values())
        for s in sessions:
            self.stats["dropped"] += 1
            await self._close(s, 1012)
        return len(sessions)

    async def _set_stall(self, on: bool) -> int:
        sessions = list(self._sessions.values())
        for s in sessions:
            s.stalled = on
            if on:
                s.unstall.clear()
            else:
                s.unstall.set()
        return len(sessions)

    async def _garbage(self, frames: list[str]) -> int:
        sessions = list(self._sessions.values())
        for s in sessions:
            for text in frames:
                s.put(text)
        return len(sessions)

    # -- the endpoint -----------------------------------------------------------------
    async def endpoint(self, websocket: WebSocket) -> None:
        """Starlette WebSocket endpoint for ``/api/dostk/websocket``."""
        self._loop = asyncio.get_running_loop()
        await websocket.accept()
        identity = await self._await_login(websocket)
        if identity is None:
            return
        session = Session(next(self._ids), websocket, identity)
        if self.config.single_session_per_app_key:
            for old in [
                s for s in self._sessions.values() if s.identity.app_key == identity.app_key
            ]:
                self.stats["takeover"] += 1
                await self._system(old, "R10001", MSG_R10001)
                await self._close(old, 1000)
        self._sessions[session.sid] = session
        self.stats["login_ok"] += 1
        await self._send(
            session,
            orjson.dumps(
                {"trnm": "LOGIN", "return_code": 0, "return_msg": "", "sor_yn": self.config.sor_yn}
            ).decode(),
        )
        writer = asyncio.create_task(self._writer(session))
        pinger = asyncio.create_task(self._pinger(session))
        try:
            await self._reader(session)
        finally:
            session.closed = True
            self._sessions.pop(session.sid, None)
            self.subscriptions_version += 1
            writer.cancel()
            pinger.cancel()
            for task in (writer, pinger):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await websocket.close()

    async def _await_login(self, websocket: WebSocket) -> WsIdentity | None:
        try:
            text = await asyncio.wait_for(websocket.receive_text(), self.config.login_timeout_s)
        except TimeoutError:
            self.stats["login_timeout"] += 1
            with contextlib.suppress(Exception):
                await websocket.send_text(system_frame("R10004", MSG_R10004))
                await websocket.close()
            return None
        except (WebSocketDisconnect, RuntimeError, KeyError):
            return None
        msg = loads(text)
        identity = None
        if msg is not None and msg.get("trnm") == "LOGIN":
            token = msg.get("token")
            if self._reject_logins > 0:
                self._reject_logins -= 1
            elif isinstance(token, str) and token:
                identity = self._tokens.validate_token(token)
        elif msg is None or msg.get("trnm") != "LOGIN":
            self.stats["login_missing"] += 1
            with contextlib.suppress(Exception):
                await websocket.send_text(system_frame("R10004", MSG_R10004))
                await websocket.close()
            return None
        if identity is None:
            self.stats["login_failed"] += 1
            with contextlib.suppress(Exception):
                await websocket.send_text(
                    orjson.dumps(
                        {"trnm": "LOGIN", "return_code": 1, "return_msg": MSG_TOKEN}
                    ).decode()
                )
                await websocket.close()
        return identity

    async def _reader(self, s: Session) -> None:
        while not s.closed:
            try:
                message = await s.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                raw = message.get("bytes")
                text = raw.decode("utf-8", "replace") if raw else ""
            if text.strip() == "PING":
                s.awaiting_pong = False
                s.missed = 0
                continue
            msg = loads(text)
            if msg is None:
                self.stats["client_garbage"] += 1
                continue
            trnm = msg.get("trnm")
            if trnm == "PING":
                s.awaiting_pong = False
                s.missed = 0
            elif trnm in ("REG", "REMOVE"):
                code, reply_msg = self._register(s, trnm, msg)
                reply = {"trnm": trnm, "return_code": code, "return_msg": reply_msg}
                s.put(orjson.dumps(reply).decode())
            elif trnm == "SYSTEM":
                self.stats["system_echoed"] += 1
                await self._close(s, 1008)
                return
            elif trnm == "LOGIN":
                s.put(
                    orjson.dumps(
                        {
                            "trnm": "LOGIN",
                            "return_code": 0,
                            "return_msg": "",
                            "sor_yn": self.config.sor_yn,
                        }
                    ).decode(),
                )
            else:
                self.stats[f"client_trnm:{str(trnm)[:16]}"] += 1

    def _register(self, s: Session, trnm: str, msg: Mapping[str, Any]) -> tuple[int, str]:
        grp = msg.get("grp_no", "1")
        data = msg.get("data")
        if not isinstance(grp, str) or not 0 < len(grp) <= 4 or not isinstance(data, list):
            return 1, "요청 형식 오류 (grp_no/data)"
        pairs: set[tuple[str, str]] = set()
        for entry in data:
            items = entry.get("item") if isinstance(entry, dict) else None
            types = entry.get("type") if isinstance(entry, dict) else None
            # item/type are arrays of strings on the live server (PROTOCOL §5.4).
            if not (str_list(items) and str_list(types)):
                return 1, "요청 형식 오류 (item/type must be arrays of strings)"
            pairs.update((t, i) for t in types for i in items)
        if trnm == "REMOVE":
            group = s.groups.get(grp, set())
            group -= pairs
            if not group:
                s.groups.pop(grp, None)
            s.rebuild()
            self.subscriptions_version += 1
            self.stats["remove"] += 1
            return 0, ""
        current = dict(s.groups)
        if str(msg.get("refresh", "1")) == "0":
            current[grp] = set()
        current[grp] = current.get(grp, set()) | pairs
        distinct = {i for g in current.values() for (_t, i) in g if i}
        if len(distinct) > self.config.max_items_per_session:
            self.stats["reg_rejected"] += 1
            return 1, MSG_TOO_MANY
        s.groups = current
        s.rebuild()
        self.subscriptions_version += 1
        self.stats["reg"] += 1
        return 0, ""

    async def _pinger(self, s: Session) -> None:
        cfg = self.config
        while not s.closed:
            await asyncio.sleep(cfg.ping_interval_s)
            if s.stalled:
                continue
            if s.awaiting_pong:
                s.missed += 1
                if s.missed >= cfg.max_missed_pings:
                    self.stats["heartbeat_close"] += 1
                    await self._system(s, "R10002", MSG_R10002)
                    await self._close(s, 1000)
                    return
            s.awaiting_pong = True
            self.stats["ping"] += 1
            s.put(PING_FRAME)

    async def _writer(self, s: Session) -> None:
        out = s.out
        stats = self.stats
        while not s.closed:
            if not out:
                s.wake.clear()
                await s.wake.wait()
                continue
            while s.stalled and not s.closed:
                await s.unstall.wait()
            if s.closed:
                return
            n, text = out.popleft()
            await self._send(s, text)
            if n:
                s.pending -= n
                stats["real_items"] += n
                stats["real_frames"] += 1

    def _route(self, entries: Sequence[Mapping[str, Any] | RawItem]) -> None:
        """Fan entries out to the sessions that want them, as ready REAL frames.

        Per entry only the routing decision (cached across consecutive entries of one
        ``(type, item)``, e.g. a stock's trades of a step) and a list append happen; each
        session's entries are then joined into frames of ``max_items_per_frame`` once, and
        a mapping entry is serialised once whatever the number of sessions."""
        sessions = [s for s in self._sessions.values() if not s.closed and not s.stalled]
        if not sessions:
            return
        texts: dict[int, list[str]] = {s.sid: [] for s in sessions}
        last_typ: str | None = None
        last_item: str | None = None
        targets: list[list[str]] = []
        for entry in entries:
            if isinstance(entry, tuple):
                typ, item, text = entry
                if typ != last_typ or item != last_item:
                    last_typ, last_item = typ, item
                    targets = [texts[s.sid] for s in sessions if wants(s, typ, item, None)]
                for lst in targets:
                    lst.append(text)
                continue
            typ_any, item_any = entry.get("type"), entry.get("item", "")
            if not isinstance(typ_any, str) or not isinstance(item_any, str):
                continue
            account = None
            if typ_any in ACCOUNT_TYPES:
                values = entry.get("values")
                account = values.get("9201") if isinstance(values, Mapping) else None
            wanted = [s for s in sessions if wants(s, typ_any, item_any, account)]
            if wanted:
                text = dumps(entry)
                for s in wanted:
                    texts[s.sid].append(text)
            last_typ = None  # keep the order of entries; recompute the next targets
        cap = self.config.max_pending_per_session
        limit = self.config.max_items_per_frame
        for s in sessions:
            lst = texts[s.sid]
            if not lst:
                continue
            room = cap - s.pending
            if len(lst) > room:
                self.stats["real_dropped"] += len(lst) - max(room, 0)
                if room <= 0:
                    continue
                del lst[room:]
            s.pending += len(lst)
            append = s.out.append
            for i in range(0, len(lst), limit):
                chunk = lst[i : i + limit]
                append((len(chunk), '{"trnm":"REAL","data":[' + ",".join(chunk) + "]}"))
            s.wake.set()

    async def _send(self, s: Session, text: str) -> None:
        if s.closed:
            return
        try:
            await s.ws.send_text(text)
        except Exception:  # a dead peer just ends the session
            s.closed = True

    async def _system(self, s: Session, code: str, message: str) -> None:
        await self._send(s, system_frame(code, message))

    async def _close(self, s: Session, code: int) -> None:
        if s.closed:
            return
        s.closed = True
        s.unstall.set()
        s.wake.set()
        self._sessions.pop(s.sid, None)
        with contextlib.suppress(Exception):
            await s.ws.close(code)
