"""What every part of the simulator's HTTP app shares: the handler contract (``Ctx`` in,
``Result`` out), the refusal a handler raises (:class:`ReplyError`), and the Kiwoom
envelope both are answered in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from gslts_kiwoom.sim._simulator import Simulator
from gslts_kiwoom.sim._universe import Stock

Body = dict[str, Any]
Row = dict[str, str]

OK_MSG = "정상적으로 처리되었습니다"
QUERY_MSG = " 조회가 완료되었습니다."


class ReplyError(Exception):
    """A call the simulator answers with Kiwoom's error envelope instead of a result:
    HTTP ``status``, ``return_code`` and ``return_msg`` (``message``), plus ``extra``
    top-level fields.

    The server side of the protocol. The client raises its own
    :class:`gslts_kiwoom.KiwoomError` family (``APIError`` …) when it *receives* one.
    """

    def __init__(self, return_code: int, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.return_code = return_code
        self.message = message
        self.status = status
        self.extra: dict[str, str] = {}


def input_error(detail: str) -> ReplyError:
    """rc 2 ``입력 값 오류입니다[<detail>]`` (``detail`` like ``1511:필수입력 파라미터=x``)."""
    return ReplyError(2, f"입력 값 오류입니다[{detail}]")


def envelope(body: Body, code: int, msg: str) -> Body:
    """``body`` with Kiwoom's ``return_code`` / ``return_msg``."""
    return {**body, "return_code": code, "return_msg": msg}


def error_response(err: ReplyError, api_id: str = "") -> JSONResponse:
    """The envelope of a refusal (with the ``api-id`` header when there is one)."""
    headers = {"api-id": api_id} if api_id else {}
    body: Body = {"return_code": err.return_code, "return_msg": err.message, **err.extra}
    return JSONResponse(body, status_code=err.status, headers=headers)


@dataclass(slots=True)
class Result:
    """A handler's answer: top-level fields, and optionally a list to page.

    By default the dispatcher pages ``rows`` (a snapshot kept for the continuation
    requests). A handler that pages by itself (``paged``) returns one page in ``rows`` and
    the ``next_key`` of the next one (``""``: the last page); it reads the request's key
    from :attr:`Ctx.cont_key`.
    """

    body: Body
    list_key: str | None = None
    rows: list[Row] | None = None
    message: str = QUERY_MSG
    paged: bool = False
    next_key: str = ""


class Ctx:
    """What a handler sees: the simulator (lock held) and helpers; ``cont_key`` is the
    request's ``next-key`` when it asks for a next page (``cont-yn: Y``), else ``""``."""

    def __init__(self, sim: Simulator, cont_key: str = "") -> None:
        self.sim = sim
        self.market = sim.market
        self.cont_key = cont_key

    def page_size(self, api_id: str) -> int:
        """Rows per page of ``api_id`` (``SimConfig.page_size``)."""
        return self.sim.config.page_size(api_id)

    def stock(self, raw: str) -> tuple[Stock, str]:
        """(stock, venue) from a request code like ``005930``, ``005930_NX``, ``A005930``."""
        code = raw.strip()
        venue = "KRX"
        if code.endswith(("_NX", "_AL")):
            venue = "NXT" if code.endswith("_NX") else "SOR"
            code = code[:-3]
        if len(code) == 7 and code.startswith("A"):
            code = code[1:]
        stock = self.market.universe.get(code)
        if stock is None:
            raise input_error(f"1902:존재하지 않는 종목코드입니다. 종목코드={raw}")
        if venue == "NXT" and not stock.nxt:
            raise input_error(f"1903:해당 거래소에 존재하지 않는 종목코드입니다. 종목코드={raw}")
        return stock, venue


#: An api-id's handler: the request body in, the answer out (raises :class:`ReplyError`).
Handler = Callable[[Ctx, Body], Result]


def int_field(body: Body, key: str, *, allow_zero: bool = False) -> int:
    """``body[key]`` as a positive integer (or 0 with ``allow_zero``); rc 2 [1517] else."""
    raw = str(body.get(key, "")).strip()
    try:
        value = int(raw)
    except ValueError:
        raise input_error(f"1517:입력값 형식 오류({key}, 숫자만 입력 가능합니다)") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise input_error(f"1517:입력값 형식 오류({key}, 0보다 큰 값을 입력하세요)")
    return value
