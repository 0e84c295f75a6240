"""Orders of the main server: ``/api/orders`` (docs/backend.md "Orders").

The service (:mod:`gslts_backend.orders.service`) places, modifies and cancels exactly
once and keeps the states from the ``00`` stream the hub relays and Kiwoom's lists; the
checks before any broker call are in :mod:`gslts_backend.orders.rules`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response

from gslts_backend.account import live_price
from gslts_backend.deps import Principal, require_role
from gslts_backend.orders.rules import type_catalogue
from gslts_backend.orders.schemas import ModifyIn, OrderIn, OrderList, OrderOut, OrderTypeOut
from gslts_backend.orders.service import OrderRefused, OrderService
from gslts_backend.security import order_rate_limit
from gslts_backend.services import Services
from gslts_common import errors
from gslts_common.errors import BadInput
from gslts_kiwoom.krx import STOCK_CODE_PATTERN

__all__ = ["OrderRefused", "OrderService", "router"]

viewer = require_role("viewer")
ViewerDep = Annotated[Principal, Depends(viewer)]
TraderDep = Annotated[Principal, Depends(order_rate_limit)]
_CURSOR = re.compile(r"[0-9]{1,18}")
_DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#: an order id in a path: digits only (``/api/orders/types`` is another route), 1..2**62
OrderId = Annotated[int, Path(ge=1, le=2**62, description="the order's id")]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    svc: Services = app.state.services
    orders = OrderService(
        svc,
        lambda: app.state.account.current(),  # the account area's cached snapshot
        lambda code: live_price(svc, code),
    )
    unsubscribe = svc.live.follower.subscribe(orders.on_bus)
    app.state.orders = orders
    orders.start()
    try:
        yield
    finally:
        unsubscribe()
        orders.close()


router = APIRouter(lifespan=lifespan)


def order_service(request: Request) -> OrderService:
    svc: OrderService = request.app.state.orders
    return svc


OrdersDep = Annotated[OrderService, Depends(order_service)]
_WRITE_ERRORS = errors.responses(401, 403, 404, 409, 422, 429, 502, 503)


@router.get(
    "/api/orders/types",
    response_model=list[OrderTypeOut],
    tags=["orders"],
    responses=errors.responses(401),
    description="Every Kiwoom order type (매매구분, trde_tp) the API takes, with the fields "
    "each needs and the venues it goes to.",
)
def order_types(_: ViewerDep) -> list[dict[str, object]]:
    return type_catalogue()


@router.post(
    "/api/orders",
    response_model=OrderOut,
    status_code=201,
    tags=["orders"],
    responses={
        200: {"model": OrderOut, "description": "the same client_order_id again: that order"},
        202: {
            "model": OrderOut,
            "description": "Kiwoom did not answer: the order is `unknown` and being checked "
            "(ka10075/ka10076, the 00 stream); it is never sent twice",
        },
        **_WRITE_ERRORS,
    },
    description="Place an order (kt10000 매수 / kt10001 매도), trader or admin. Checked "
    "before any broker call (422 naming the field, in English and Korean in detail_ko): "
    "quantity, the price on the tick grid and within the day's limits, the order type's "
    "fields, venue and session phase, orderable cash with fees for a buy, sellable shares "
    "for a sell. The order is stored (pending) before the call; the same client_order_id "
    "never creates a second broker order. A broker refusal is a 422 OrderRefused with "
    "Kiwoom's code and reason (the order is kept as rejected). Rate-limited per user "
    "(ORDER_RATE_PER_S). With KIWOOM_MODE=real and no KIWOOM_ALLOW_REAL_ORDERS: 403.",
)
def place_order(
    body: OrderIn, p: TraderDep, orders: OrdersDep, response: Response
) -> dict[str, Any]:
    doc, status = orders.place(p, body)
    response.status_code = status
    return doc


@router.get(
    "/api/orders",
    response_model=OrderList,
    tags=["orders"],
    responses=errors.responses(401, 422),
    description="Orders, newest first (every user's: one account serves the system). "
    "status: open (pending, unknown, accepted, partially_filled), filled, cancelled, "
    "rejected or all; from/to: KST days of creation; cursor: next_cursor of the page before.",
)
def list_orders(
    _: ViewerDep,
    orders: OrdersDep,
    status: Annotated[str, Query(pattern="^(open|filled|cancelled|rejected|all)$")] = "all",
    stock_code: Annotated[str | None, Query(pattern=STOCK_CODE_PATTERN)] = None,
    from_: Annotated[
        str | None, Query(alias="from", pattern=_DAY_PATTERN, description="YYYY-MM-DD (KST)")
    ] = None,
    to: Annotated[str | None, Query(pattern=_DAY_PATTERN, description="YYYY-MM-DD (KST)")] = None,
    cursor: Annotated[str | None, Query(max_length=18)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    if cursor is not None and not _CURSOR.fullmatch(cursor):
        raise BadInput("cursor: pass next_cursor of the previous page", field="cursor")
    day_from, day_to = _day(from_, "from"), _day(to, "to")
    if day_from is not None and day_to is not None and day_from > day_to:
        raise BadInput("from must not be after to", field="from")
    return orders.list_orders(
        status=status,
        stock_code=stock_code,
        day_from=day_from,
        day_to=day_to,
        cursor=int(cursor) if cursor else None,
        limit=limit,
    )


@router.get(
    "/api/orders/{order_id:int}",
    response_model=OrderOut,
    tags=["orders"],
    responses=errors.responses(401, 404, 422),
    description="One order with its events (requests, 접수/체결/확인/취소/거부 from the 00 "
    "stream, Kiwoom list snapshots).",
)
def get_order(order_id: OrderId, _: ViewerDep, orders: OrdersDep) -> dict[str, Any]:
    return orders.get(order_id, events=True)


@router.patch(
    "/api/orders/{order_id:int}",
    response_model=OrderOut,
    tags=["orders"],
    responses={
        202: {"model": OrderOut, "description": "Kiwoom did not answer: being checked"},
        **_WRITE_ERRORS,
    },
    description="Modify an open order: price moves all of its open quantity (kt10002 정정); "
    "quantity lowers the open quantity (kt10003 of the rest). The same checks as a new "
    "order. 409 when it has meanwhile filled or been cancelled, or while an earlier "
    "modify/cancel is unconfirmed.",
)
def modify_order(
    order_id: OrderId, body: ModifyIn, p: TraderDep, orders: OrdersDep, response: Response
) -> dict[str, Any]:
    doc, status = orders.amend(p, order_id, body)
    response.status_code = status
    return doc


@router.delete(
    "/api/orders/{order_id:int}",
    response_model=OrderOut,
    tags=["orders"],
    responses={
        202: {"model": OrderOut, "description": "Kiwoom did not answer: being checked"},
        **_WRITE_ERRORS,
    },
    description="Cancel the open quantity of an order (kt10003 취소). 409 when nothing is "
    "open any more (filled or cancelled meanwhile).",
)
def cancel_order(
    order_id: OrderId, p: TraderDep, orders: OrdersDep, response: Response
) -> dict[str, Any]:
    doc, status = orders.cancel(p, order_id)
    response.status_code = status
    return doc


def _day(raw: str | None, field: str) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"{field}: not a day (YYYY-MM-DD)", field=field) from None
