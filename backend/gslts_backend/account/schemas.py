"""Response models of the account and Kiwoom token routes (docs/backend.md "Account")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field


class HoldingOut(BaseModel):
    stock_code: str = Field(examples=["005930"])
    name: str = Field(examples=["삼성전자"])
    quantity: int = Field(description="shares held (보유수량)", examples=[10])
    sellable_quantity: int = Field(
        description="shares that can be sold now (매매가능수량: held minus open sells)"
    )
    avg_price: int = Field(description="average purchase price, KRW (매입단가)", examples=[70000])
    purchase_amount: int = Field(description="KRW paid (매입금액)", examples=[700000])
    price: int = Field(description="the price it is valued at, KRW", examples=[71000])
    price_source: Literal["live", "kiwoom"] = Field(
        description="live: the hub's latest trade; kiwoom: kt00018's current price"
    )
    prev_close: int = Field(description="previous close, KRW (전일종가)")
    evaluation: int = Field(description="quantity × price, KRW (평가금액)", examples=[710000])
    profit: int = Field(
        description="evaluation − purchase amount, KRW, before sell commission and tax",
        examples=[10000],
    )
    return_pct: Decimal = Field(
        description="profit / purchase amount × 100, two decimals (a string)", examples=["1.43"]
    )


class AccountOut(BaseModel):
    """The one Kiwoom account of the system (every user sees the same)."""

    cash: int = Field(description="deposit, KRW (예수금, kt00001 entr)", examples=[100000000])
    orderable_cash: int = Field(description="KRW a buy may use now (주문가능금액)")
    withdrawable_cash: int = Field(description="KRW that can be withdrawn (출금가능금액)")
    d2_cash: int = Field(description="D+2 deposit, KRW (D+2 추정예수금)")
    total_purchase: int = Field(description="sum of the holdings' purchase amounts, KRW")
    total_evaluation: int = Field(description="sum of the holdings' evaluations, KRW")
    total_profit: int = Field(description="total evaluation − total purchase, KRW")
    total_return_pct: Decimal = Field(description="total profit / total purchase × 100")
    estimated_assets: int = Field(description="D+2 cash + total evaluation, KRW (추정예탁자산)")
    holdings: list[HoldingOut]
    fetched_at: datetime = Field(description="when Kiwoom was asked (KST)")
    valued_at: datetime = Field(description="when the holdings were valued (KST)")


class TokenStatus(BaseModel):
    """The Kiwoom access token's state — never the token itself."""

    mode: Literal["sim", "mock", "real"]
    held: bool = Field(description="this process holds a token now")
    cached: bool = Field(description="the shared token cache holds one for this app key")
    cache: str = Field(description="where tokens are shared", examples=["MemoryTokenCache"])
    expires_at: datetime | None = Field(description="the held (else cached) token's expiry")
    expires_in_s: float | None


class OrderableOut(BaseModel):
    """가능수량 of an order at a price (PROTOCOL §8.5): what an order panel shows as
    현금(미수불가) and 최대(미수발생)."""

    code: str = Field(examples=["005930"])
    side: Literal["buy", "sell"]
    price: int = Field(description="the price the quantities are for, KRW", examples=[70000])
    cash_qty: int = Field(
        description="현금(미수불가): shares payable in cash without 미수 (kt00011 "
        "min_ord_alowq); sells: the sellable shares",
        examples=[1428],
    )
    max_qty: int = Field(
        description="최대(미수발생): shares at the applied margin rate (= cash_qty on a cash "
        "account); sells: the sellable shares",
        examples=[7142],
    )
    cash_amount: int = Field(description="KRW behind cash_qty (0 for sells)")
    max_amount: int = Field(description="KRW behind max_qty (0 for sells)")
    applied_margin_rate: int | None = Field(
        description="적용 증거금율, % (None for sells or when not reported)", examples=[100]
    )
