"""A scriptable fake Kiwoom REST server for ``httpx.MockTransport``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
from pydantic import SecretStr

from gslts_kiwoom import KiwoomClient, KiwoomConfig, TokenCache

KST = ZoneInfo("Asia/Seoul")
APP_KEY = "PSappKEY0123456789abcdef"
SECRET_KEY = "SKsecret0123456789abcdef"
OK = {"return_code": 0, "return_msg": "정상적으로 처리되었습니다"}

Handler = Callable[[httpx.Request, dict[str, Any]], httpx.Response]


def reply(
    body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, content=orjson.dumps(body), headers=headers or {})


class Clock:
    """Aware-datetime clock plus a sleep that records (and advances the clock)."""

    def __init__(self) -> None:
        self.t = datetime(2025, 3, 4, 9, 0, tzinfo=KST)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += timedelta(seconds=s)


class FakeKiwoom:
    """Issues tokens like au10001, checks ``authorization``, dispatches on ``api-id``."""

    def __init__(self, clock: Clock, token_lifetime: timedelta = timedelta(hours=24)) -> None:
        self.clock = clock
        self.lifetime = token_lifetime
        self.requests: list[httpx.Request] = []
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.handlers: dict[str, Handler] = {}

    def calls(self, api_id: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.headers.get("api-id") == api_id]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = orjson.loads(request.content) if request.content else {}
        if request.url.path == "/oauth2/token":
            if body.get("appkey") != APP_KEY or body.get("secretkey") != SECRET_KEY:
                return reply({"return_code": 3, "return_msg": "[8001:App Key 검증 실패]"})
            token = f"TOKEN{len(self.issued):04d}xyzxyzxyz"
            self.issued.append(token)
            self.valid.add(token)
            expires = (self.clock.now() + self.lifetime).strftime("%Y%m%d%H%M%S")
            return reply({**OK, "token": token, "token_type": "bearer", "expires_dt": expires})
        if request.url.path == "/oauth2/revoke":
            self.valid.discard(body.get("token", ""))
            return reply(OK)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.valid:
            return reply(
                {
                    "return_code": 3,
                    "return_msg": "인증에 실패했습니다[8005:Token이 유효하지 않습니다]",
                }
            )
        handler = self.handlers.get(request.headers["api-id"])
        if handler is None:
            return reply({"return_code": 2, "return_msg": "입력 값 오류입니다[1505:API ID 없음]"})
        return handler(request, body)


def make_config(app_key: str = APP_KEY, **kw: Any) -> KiwoomConfig:
    kw.setdefault("rate_per_s", 1000.0)
    kw.setdefault("rate_burst", 1000)
    kw.setdefault("mode", "sim")
    return KiwoomConfig(
        app_key=SecretStr(app_key),
        secret_key=SecretStr(SECRET_KEY),
        rest_url="http://kiwoom.test",
        **kw,
    )


def make_client(
    server: FakeKiwoom, *, token_cache: TokenCache | None = None, **config: Any
) -> KiwoomClient:
    """A client of ``server`` sharing its clock (sleeps advance it)."""
    return KiwoomClient(
        make_config(**config),
        transport=httpx.MockTransport(server),
        sleep=server.clock.sleep,
        now=server.clock.now,
        token_cache=token_cache,
    )
