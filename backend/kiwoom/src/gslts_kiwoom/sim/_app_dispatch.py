"""The Kiwoom REST paths: token issue/revoke and the ``/api/dostk/*`` api-id pipeline.

Pipeline of a ``/api/dostk/*`` call: fault delay (``delay_ms``) → api-id header
(1501/1505/1504) → rate limit (HTTP 429, rc 5, [1700]) → ``authorization`` (1513/1514,
rc 3 [8005]) → JSON body → required fields (rc 2 [1511]) → order fault delay
(``order_delay_ms``, phase ``before``) → handler (``_app_market``, ``_app_charts``,
``_app_orders``, ``_app_account``) → order fault delay (phase ``after``: the order is
applied and its 00 sent, the answer held) → answer. Lists are paged with the
``cont-yn`` / ``next-key`` headers; a continuation reads from a snapshot taken on the
first page, so pages stay consistent while the market moves. A handler may page by
itself instead (ka10080, whose history is too long to snapshot): its ``next-key`` says
where the next page starts.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import OrderedDict
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gslts_kiwoom import krx
from gslts_kiwoom.sim import _fmt as f
from gslts_kiwoom.sim._app_account import ACCOUNT_HANDLERS
from gslts_kiwoom.sim._app_base import (
    OK_MSG,
    Body,
    Ctx,
    Handler,
    ReplyError,
    Row,
    envelope,
    error_response,
    input_error,
)
from gslts_kiwoom.sim._app_charts import CHART_HANDLERS
from gslts_kiwoom.sim._app_market import MARKET_HANDLERS
from gslts_kiwoom.sim._app_orders import ORDER_HANDLERS
from gslts_kiwoom.sim._orders import OrderRejected
from gslts_kiwoom.sim._simulator import Simulator
from gslts_kiwoom.sim._universe import api_paths

#: Required request fields per api-id (catalogue.json has no required flags; these follow
#: PROTOCOL §4 and the guide's field tables). Missing → rc 2 [1511].
REQUIRED: dict[str, tuple[str, ...]] = {
    "ka10001": ("stk_cd",),
    "ka10004": ("stk_cd",),
    "ka10099": ("mrkt_tp",),
    "ka10101": ("mrkt_tp",),
    "ka10032": ("mrkt_tp", "mang_stk_incls", "stex_tp"),
    "ka10079": ("stk_cd", "tic_scope", "upd_stkpc_tp"),
    "ka10080": ("stk_cd", "tic_scope", "upd_stkpc_tp"),
    "ka10081": ("stk_cd", "base_dt", "upd_stkpc_tp"),
    "ka20001": ("mrkt_tp", "inds_cd"),
    "kt10000": ("dmst_stex_tp", "stk_cd", "ord_qty", "trde_tp"),
    "kt10001": ("dmst_stex_tp", "stk_cd", "ord_qty", "trde_tp"),
    "kt10002": ("dmst_stex_tp", "orig_ord_no", "stk_cd", "mdfy_qty", "mdfy_uv"),
    "kt10003": ("dmst_stex_tp", "orig_ord_no", "stk_cd", "cncl_qty"),
    "ka10075": ("all_stk_tp", "trde_tp", "stex_tp"),
    "ka10076": ("qry_tp", "sell_tp", "stex_tp"),
    "kt00007": ("qry_tp", "stk_bond_tp", "sell_tp", "dmst_stex_tp"),
    "kt00018": ("qry_tp", "dmst_stex_tp"),
    "kt00001": ("qry_tp",),
    "kt00011": ("stk_cd", "uv"),
    "kt00010": ("stk_cd", "trde_tp", "uv"),
}

#: Every api-id the simulator answers; others get rc 20 [RC9000].
HANDLERS: dict[str, Handler] = {
    **MARKET_HANDLERS,
    **CHART_HANDLERS,
    **ORDER_HANDLERS,
    **ACCOUNT_HANDLERS,
}


def _rate_limited(api_id: str, per_s: float) -> ReplyError:
    n = int(per_s) if per_s == int(per_s) else per_s
    text = "허용된 요청 개수를 초과하였습니다"
    msg = f"{text}[1700:{text}. 유량={n}, API ID={api_id}]"
    return ReplyError(5, msg, status=429)


async def _json_body(request: Request) -> Body:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise input_error("1517:입력값 형식 오류(body, JSON 형식이 아닙니다)") from None
    if not isinstance(data, dict):
        raise input_error("1517:입력값 형식 오류(body, JSON 객체가 아닙니다)")
    return data


class _Pages:
    """Snapshots of listed rows for continuation requests (bounded LRU)."""

    def __init__(self, size: int = 256) -> None:
        self._snaps: OrderedDict[str, list[Row]] = OrderedDict()
        self._size = size

    def put(self, rows: list[Row]) -> str:
        key = secrets.token_hex(8)
        self._snaps[key] = rows
        while len(self._snaps) > self._size:
            self._snaps.popitem(last=False)
        return key

    def get(self, key: str) -> list[Row] | None:
        return self._snaps.get(key)


def kiwoom_routes(sim: Simulator) -> list[Route]:
    """The Kiwoom REST paths of ``sim``: ``/oauth2/token``, ``/oauth2/revoke`` and
    ``/api/dostk/*`` (every api-id through :data:`HANDLERS`)."""
    pages = _Pages()
    paths = api_paths()

    async def delay() -> None:
        if sim.faults.delay_ms:
            await asyncio.sleep(sim.faults.delay_ms / 1000)

    async def token(request: Request) -> Response:
        """au10001 접근토큰 발급 (no api-id/authorization header required)."""
        await delay()
        try:
            if not sim.allow("au10001"):
                raise _rate_limited("au10001", sim.config.rate_for("au10001"))
            body = await _json_body(request)
            grant = str(body.get("grant_type", "")).strip()
            if not grant:
                raise input_error("8011:grant_type이 입력되지 않았습니다.")
            if grant != "client_credentials":
                raise input_error("8012:grant_type이 올바르지 않습니다.")
            app_key = str(body.get("appkey", "")).strip()
            secret = str(body.get("secretkey", "")).strip()
            if not app_key or not secret:
                raise input_error("8020:appkey 또는 secretkey가 입력되지 않았습니다.")
            bad = sim.check_keys(app_key, secret)
            if bad == "8001":
                raise input_error("8001:App Key 검증에 실패했습니다.")
            if bad == "8002":
                raise input_error("8002:Secret Key 검증에 실패했습니다.")
        except ReplyError as err:
            return error_response(err, "au10001")
        issued = sim.issue_token(app_key)
        expires = datetime.fromtimestamp(issued.expires_at, krx.KST)
        return JSONResponse(
            envelope(
                {"expires_dt": f.ymdhms(expires), "token_type": "bearer", "token": issued.token},
                0,
                OK_MSG,
            ),
            headers={"api-id": "au10001"},
        )

    async def revoke(request: Request) -> Response:
        """au10002 접근토큰폐기."""
        await delay()
        try:
            body = await _json_body(request)
            tok = str(body.get("token", "")).strip()
            if not tok:
                raise input_error("8016:폐기할 토큰이 입력되지 않았습니다.")
            if not sim.revoke_token(tok):
                raise input_error("8015:접근토큰 폐기에 실패했습니다.")
        except ReplyError as err:
            return error_response(err, "au10002")
        return JSONResponse(envelope({}, 0, OK_MSG), headers={"api-id": "au10002"})

    async def after_delay(api_id: str) -> None:
        """The ``order_delay_ms`` fault, phase ``after``: the order is applied (and its 00
        events sent), its answer held, so a client timing out has really placed it."""
        hold = sim.faults.order_delay_s(api_id, "after")
        if hold:
            await asyncio.sleep(hold)

    async def dostk(request: Request) -> Response:
        await delay()
        handled = False
        path = request.url.path
        api_id = request.headers.get("api-id", "").strip()
        try:
            if not api_id:
                raise input_error("1501:API ID가 입력되지 않았습니다.")
            known_path = paths.get(api_id)
            if known_path is None:
                raise input_error(f"1505:존재하지 않는 API ID 입니다. API ID={api_id}")
            if known_path != path:
                raise input_error(
                    f"1504:해당 URI에서는 지원하지 않는 API ID 입니다. API ID={api_id}"
                )
            if not sim.allow(api_id):
                raise _rate_limited(api_id, sim.config.rate_for(api_id))
            auth = request.headers.get("authorization", "").strip()
            if not auth:
                raise input_error("1513:authorization 헤더가 입력되지 않았습니다.")
            scheme, _, tok = auth.partition(" ")
            if scheme.lower() != "bearer" or not tok.strip():
                raise input_error("1514:authorization 헤더 형식이 올바르지 않습니다.")
            if not sim.token_valid(tok.strip()):
                raise ReplyError(3, "인증에 실패했습니다[8005:Token이 유효하지 않습니다]")
            handler = HANDLERS.get(api_id)
            if handler is None:
                raise ReplyError(
                    20, "[2000](RC9000:시뮬레이터에서는 해당업무가 제공되지 않습니다.)"
                )
            body = await _json_body(request)
            for key in REQUIRED.get(api_id, ()):
                if key not in body or str(body[key]).strip() == "":
                    raise input_error(f"1511:필수입력 파라미터={key}")
            cont = request.headers.get("cont-yn", "").strip().upper() == "Y"
            next_key = request.headers.get("next-key", "").strip()
            hold = sim.faults.order_delay_s(api_id, "before")
            if hold:
                await asyncio.sleep(hold)  # the order is applied only after the delay
            handled = True
            with sim.lock:
                try:
                    result = handler(Ctx(sim, next_key if cont else ""), body)
                except OrderRejected as rej:
                    raise ReplyError(20, rej.message) from None
                finally:
                    if api_id.startswith("kt1"):
                        sim.flush()  # an order's 00/04/0B/0D go out right away
        except ReplyError as err:
            if handled:
                await after_delay(api_id)
            return error_response(err, api_id)
        await after_delay(api_id)
        headers = {"api-id": api_id, "cont-yn": "N", "next-key": ""}
        out = dict(result.body)
        if result.paged and result.list_key is not None:
            out[result.list_key] = result.rows or []
            if result.next_key:
                headers["cont-yn"] = "Y"
                headers["next-key"] = result.next_key
        elif result.list_key is not None:
            rows = result.rows or []
            offset = 0
            if cont and next_key:
                snap_id, _, off = next_key.partition("-")
                snap = pages.get(snap_id)
                if snap is None or not off.isdigit():
                    return error_response(
                        input_error(
                            "1517:입력값 형식 오류(next-key, 만료되었거나 잘못된 값입니다)"
                        ),
                        api_id,
                    )
                rows, offset = snap, int(off)
            size = sim.config.page_size(api_id)
            out[result.list_key] = rows[offset : offset + size]
            if offset + size < len(rows):
                snap_id = next_key.partition("-")[0] if cont and next_key else pages.put(rows)
                headers["cont-yn"] = "Y"
                headers["next-key"] = f"{snap_id}-{offset + size}"
        return JSONResponse(envelope(out, 0, result.message), headers=headers)

    return [
        Route("/oauth2/token", token, methods=["POST"]),
        Route("/oauth2/revoke", revoke, methods=["POST"]),
        Route("/api/dostk/{group:str}", dostk, methods=["POST"]),
    ]
