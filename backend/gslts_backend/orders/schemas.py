"""Request and response documents of ``/api/orders`` (the OpenAPI the frontend's typed
client is generated from)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gslts_kiwoom.krx import STOCK_CODE_PATTERN

State = Literal[
    "pending", "unknown", "accepted", "partially_filled", "filled", "cancelled", "rejected"
]
OrderTypeName = Literal[
    "limit",
    "market",
    "conditional_limit",
    "best_limit",
    "priority_limit",
    "limit_ioc",
    "market_ioc",
    "best_ioc",
    "limit_fok",
    "market_fok",
    "best_fok",
    "stop_limit",
    "mid_price",
    "mid_price_ioc",
    "mid_price_fok",
    "pre_open_close_price",
    "after_hours_single_price",
    "post_close_close_price",
]
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
#: prices and quantities beyond any KRX value (keeps the arithmetic in range)
MAX_PRICE = 100_000_000
MAX_QTY = 1_000_000_000


class OrderIn(BaseModel):
    """A new order (kt10000 매수 / kt10001 매도)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "stock_code": "005930",
                    "side": "buy",
                    "quantity": 10,
                    "order_type": "limit",
                    "price": 72000,
                    "venue": "KRX",
                    "client_order_id": "web-7f1c2a9e-0001",
                },
                {"stock_code": "005930", "side": "sell", "quantity": 5, "order_type": "market"},
            ]
        },
    )

    stock_code: str = Field(pattern=STOCK_CODE_PATTERN, description="6-character code")
    side: Literal["buy", "sell"]
    quantity: int = Field(ge=1, le=MAX_QTY, description="shares (ORDER_MAX_QUANTITY caps it)")
    order_type: OrderTypeName = Field(
        default="limit", description="see GET /api/orders/types (매매구분)"
    )
    price: int | None = Field(
        default=None,
        ge=1,
        le=MAX_PRICE,
        description="KRW on the tick grid; only for types with needs_price",
    )
    stop_price: int | None = Field(
        default=None, ge=1, le=MAX_PRICE, description="스톱지정가 only (cond_uv)"
    )
    venue: Literal["KRX", "NXT", "SOR"] = "KRX"
    client_order_id: str | None = Field(
        default=None,
        pattern=CLIENT_ID_PATTERN,
        description="yours, unique: the same id again returns the same order, never a "
        "second one (generated when omitted — then a retry is a new order)",
    )


class ModifyIn(BaseModel):
    """Change an open order: ``price`` moves all its open quantity to a new price
    (kt10002); ``quantity`` lowers the open quantity to that many shares (kt10003 of the
    rest); both: first the reduction, then the move."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"price": 71900}, {"quantity": 5}]},
    )

    price: int | None = Field(default=None, ge=1, le=MAX_PRICE)
    quantity: int | None = Field(default=None, ge=1, le=MAX_QTY, description="new open quantity")
    stop_price: int | None = Field(default=None, ge=1, le=MAX_PRICE)


class Actions(BaseModel):
    modify: bool = Field(description="PATCH is possible now")
    cancel: bool = Field(description="DELETE is possible now")


class OrderEventOut(BaseModel):
    at: datetime = Field(description="the event's time (KST)")
    type: str = Field(
        description="request, acked, accepted (접수), fill (체결), confirmed (확인), "
        "cancelled (취소), rejected (거부), rest (a ka10075/ka10076 snapshot), unknown, "
        "broker_rejected, resolved"
    )
    broker_order_no: str | None
    fill_no: str | None = None
    fill_price: int | None = None
    fill_qty: int | None = None
    open_qty: int | None = None
    message: str | None = None


class OrderOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "client_order_id": "web-7f1c2a9e-0001",
                    "broker_order_no": "0000123",
                    "root_order_no": "0000121",
                    "stock_code": "005930",
                    "venue": "KRX",
                    "side": "buy",
                    "order_type": "limit",
                    "order_type_label": "보통",
                    "price": 72000,
                    "stop_price": None,
                    "quantity": 10,
                    "filled_quantity": 4,
                    "open_quantity": 6,
                    "avg_fill_price": 72000,
                    "state": "partially_filled",
                    "reject_reason": None,
                    "created_at": "2026-03-03T10:15:02.120000+09:00",
                    "updated_at": "2026-03-03T10:15:03.004000+09:00",
                    "username": "trader1",
                    "actions": {"modify": True, "cancel": True},
                }
            ]
        }
    )

    id: int
    client_order_id: str
    broker_order_no: str | None = Field(description="Kiwoom's number now holding the order")
    root_order_no: str | None = Field(description="the first number of the chain")
    stock_code: str
    venue: str
    side: Literal["buy", "sell"]
    order_type: str
    order_type_label: str
    price: int | None
    stop_price: int | None
    quantity: int
    filled_quantity: int
    open_quantity: int
    avg_fill_price: int | None
    state: State
    reject_reason: str | None
    created_at: datetime
    updated_at: datetime
    username: str | None
    actions: Actions
    events: list[OrderEventOut] | None = Field(
        default=None, description="GET /api/orders/{id} only"
    )


class OrderList(BaseModel):
    orders: list[OrderOut]
    next_cursor: str | None = Field(description="pass as cursor for the next (older) page")


class OrderTypeOut(BaseModel):
    order_type: str
    code: str = Field(description="Kiwoom's trde_tp")
    label: str = Field(description="매매구분")
    needs_price: bool
    needs_stop_price: bool
    time_in_force: Literal["day", "ioc", "fok"]
    venues: list[Literal["KRX", "NXT", "SOR"]]
    off_hours: bool
