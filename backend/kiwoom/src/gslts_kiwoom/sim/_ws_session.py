"""The simulated WebSocket's vocabulary: system messages and frames, who a token belongs
to, what a feed delivers (:data:`RawItem` / mappings), the server's knobs, and one
session's state with its routing test. No I/O; :mod:`._ws` runs the sessions."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

import orjson
from starlette.websockets import WebSocket

PING_FRAME = '{"trnm":"PING"}'
MSG_R10001 = "동일한 App key로 접속이 되었습니다. 기존 세션은 종료가 됩니다"
MSG_R10002 = "사용자 프로그램으로부터 Heartbeat(연결유지) 메시지가 오지않아서 접속을 종료합니다"
MSG_R10004 = "접속허용요청이 들어오지 않았습니다"
MSG_TOKEN = "토큰 인증에 실패했습니다 [CODE=8005, MESSAGE=Token이 유효하지 않습니다]"  # noqa: S105
MSG_TOO_MANY = "등록 종목수 초과"
ACCOUNT_TYPES = frozenset({"00", "04"})
#: Types whose registration with item ``""`` means "every item" (0s has no item at all).
ANY_ITEM_TYPES = frozenset({"0s", "1h"})

#: Frames :meth:`SimWsHub.send_garbage` sends by default: one of each kind of breakage.
DEFAULT_GARBAGE: tuple[str, ...] = (
    "this is not json",
    "[1, 2, 3]",
    '{"trnm":"REAL","data":"oops"}',
    '{"trnm":"REAL","data":[{"type":"0B","item":"005930"}]}',
    '{"trnm":"REAL","data":[{"type":"0B","name":"주식체결","item":"005930",'
    '"values":{"20":"25x","10":"abc"}}]}',
    '{"trnm":"WHAT"}',
)


@dataclass(frozen=True)
class WsIdentity:
    """Who a valid token belongs to."""

    app_key: str
    account: str


class TokenValidator(Protocol):
    """What the endpoint needs from the REST token registry."""

    def validate_token(self, token: str) -> WsIdentity | None:
        """The identity for a live token, or ``None`` when unknown/expired/revoked."""
        ...


#: A pre-serialised REAL ``data`` entry: ``(type, item, json_text_of_the_entry)``. The
#: fast path for floods (no per-entry ``orjson.dumps``); account types (00/04) must be
#: published as mappings so that their account (FID 9201) can be routed.
RawItem = tuple[str, str, str]


RealListener = Callable[[Sequence[Mapping[str, Any] | RawItem]], None]


class RealFeed(Protocol):
    """A source of REAL ``data`` entries (the market model)."""

    def add_listener(self, listener: RealListener) -> Callable[[], None]:
        """Call ``listener(entries)`` for new entries; returns a function that detaches."""
        ...


@dataclass(frozen=True)
class SimWsConfig:
    """Knobs of the simulated WebSocket server (all intervals in seconds)."""

    ping_interval_s: float = 10.0
    #: Unanswered PINGs in a row before SYSTEM R10002 + close (one source says about 5).
    max_missed_pings: int = 5
    login_timeout_s: float = 10.0
    #: Distinct non-empty items one session may register ("등록 종목수 초과" beyond it).
    max_items_per_session: int = 100
    single_session_per_app_key: bool = True
    max_items_per_frame: int = 20
    #: Outbound entries buffered per session; beyond it REAL entries are dropped (counted).
    max_pending_per_session: int = 100_000
    sor_yn: str = "N"


@dataclass
class Session:
    sid: int
    ws: WebSocket
    identity: WsIdentity
    #: outbound frames ``(real_items, text)``: REAL frames built when routed (``real_items``
    #: entries each), control frames with 0
    out: deque[tuple[int, str]] = field(default_factory=deque)
    #: REAL entries queued in ``out`` (the slow-consumer cap counts these)
    pending: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    groups: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    #: caches of ``groups`` for routing (rebuilt on REG/REMOVE)
    pair_set: frozenset[tuple[str, str]] = frozenset()
    account_types: frozenset[str] = frozenset()
    version: int = 0
    awaiting_pong: bool = False
    missed: int = 0
    stalled: bool = False
    closed: bool = False
    unstall: asyncio.Event = field(default_factory=asyncio.Event)

    def pairs(self) -> set[tuple[str, str]]:
        return set().union(*self.groups.values()) if self.groups else set()

    def rebuild(self) -> None:
        self.version += 1
        self.pair_set = frozenset(self.pairs())
        self.account_types = frozenset(t for (t, _i) in self.pair_set if t in ACCOUNT_TYPES)

    def put(self, text: str) -> None:
        """Queue a control frame (LOGIN/REG replies, PING, SYSTEM, garbage)."""
        self.out.append((0, text))
        self.wake.set()

    def wants(self, typ: str, item: str) -> bool:
        if typ in ACCOUNT_TYPES:
            return any(t == typ for g in self.groups.values() for (t, _i) in g)
        return any((typ, item) in g for g in self.groups.values())


def wants(s: Session, typ: str, item: str, account: str | None) -> bool:
    """Does session ``s`` receive an entry of ``typ``/``item`` (account types: of
    ``account``)?"""
    if typ in ACCOUNT_TYPES:
        return typ in s.account_types and (account is None or s.identity.account == account)
    return (typ, item) in s.pair_set or (typ in ANY_ITEM_TYPES and (typ, "") in s.pair_set)


def system_frame(code: str, message: str) -> str:
    return orjson.dumps({"trnm": "SYSTEM", "code": code, "message": message}).decode()


def dumps(entry: Mapping[str, Any]) -> str:
    return orjson.dumps(entry).decode()


def loads(text: str) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def str_list(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
