"""Response models of the market routes: the OpenAPI document's contract (the frontend's
typed client is generated from it) and what FastAPI checks the answers against."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MatchTier = Literal["code", "code_prefix", "name", "name_prefix", "chosung", "substring", "typo"]


class MasterStatus(BaseModel):
    """The stock master's refresh state (ka10099 → ``stock_master``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "state": "ok",
                    "count": 2771,
                    "last_refresh": "2026-03-03T08:00:02.512+09:00",
                    "last_error": None,
                }
            ]
        }
    )

    state: Literal["idle", "running", "ok", "failed"]
    count: int = Field(description="stocks in the search index")
    last_refresh: str | None = Field(description="when the last refresh ended (ISO, KST)")
    last_error: str | None = Field(description="the last failure's error class, if any")


class RefreshOut(MasterStatus):
    """``POST /api/stocks/refresh``: whether this request started one, and the state."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "started": True,
                    "state": "running",
                    "count": 2771,
                    "last_refresh": "2026-03-03T08:00:02.512+09:00",
                    "last_error": None,
                }
            ]
        }
    )

    started: bool = Field(description="false while a refresh runs already")


class SearchHit(BaseModel):
    code: str
    name: str
    market: str = Field(examples=["KOSPI"])
    match: MatchTier = Field(description="the tier that matched, best first (see the docs)")
    rank_value: int | None = Field(
        description="the ranking value within the tier: the day's trading value (KRW), "
        "else last price × listed shares"
    )


class SearchOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "ㅅㅅㅈㅈ",
                    "count": 1,
                    "master": {
                        "state": "ok",
                        "count": 2771,
                        "last_refresh": "2026-03-03T08:00:02.512+09:00",
                        "last_error": None,
                    },
                    "results": [
                        {
                            "code": "005930",
                            "name": "삼성전자",
                            "market": "KOSPI",
                            "match": "chosung",
                            "rank_value": 1234000000,
                        }
                    ],
                }
            ]
        }
    )

    query: str = Field(description="q as searched (trimmed)")
    count: int
    master: MasterStatus
    results: list[SearchHit]


class QuoteOut(BaseModel):
    """The latest quote: the hub's last trade (``source: hub``: price, volume, value, time,
    and from the trade's change its 기준가, change, open, high and low) or ka10001
    (``source: kiwoom``, the limits and the auction's expected price too)."""

    source: Literal["hub", "kiwoom"]
    age_s: float | None = Field(description="seconds since the quote's time")
    price: int
    change: int | None = Field(description="versus the previous close")
    change_rate: float | None = Field(description="percent")
    open: int | None
    high: int | None
    low: int | None
    base_price: int | None = Field(
        description="기준가 (the previous close, or the day's reference price)"
    )
    upper_limit: int | None
    lower_limit: int | None
    volume: int | None = Field(description="the day's cumulative volume")
    cum_value: int | float | None = Field(description="the day's cumulative value, 백만원 (hub)")
    expected_price: int | None = Field(description="예상체결가 in an auction (kiwoom only)")
    expected_qty: int | None
    time: str | None = Field(description="the trade's time (ISO, KST; hub only)")


class StockOut(BaseModel):
    """A listed stock: master data (``stock_master``) and its latest quote."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "005930",
                    "name": "삼성전자",
                    "market": "KOSPI",
                    "sector": "전기전자",
                    "size_class": "대형주",
                    "listed_shares": 5969782550,
                    "listed_on": "1975-06-11",
                    "audit_info": "정상",
                    "state": ["증거금20%"],
                    "order_warning": 0,
                    "nxt_enabled": True,
                    "quote": {
                        "source": "hub",
                        "age_s": 0.4,
                        "price": 72100,
                        "change": None,
                        "change_rate": None,
                        "open": None,
                        "high": None,
                        "low": None,
                        "base_price": None,
                        "upper_limit": None,
                        "lower_limit": None,
                        "volume": 8812345,
                        "cum_value": 635210,
                        "expected_price": None,
                        "expected_qty": None,
                        "time": "2026-03-03T10:15:02+09:00",
                    },
                }
            ]
        }
    )

    code: str
    name: str
    market: str
    sector: str | None
    size_class: str | None
    listed_shares: int | None
    listed_on: str | None = Field(description="listing date (ISO)")
    audit_info: str | None = Field(description="감리구분")
    state: list[str] = Field(description="종목상태 flags")
    order_warning: int | None = Field(
        description="0 none, 1 ETF 투자주의, 2 정리매매, 3 단기과열, 4 투자위험, 5 투자경고"
    )
    nxt_enabled: bool | None = Field(description="tradable on Nextrade")
    quote: QuoteOut


class Level(BaseModel):
    price: int = Field(description="0 for an empty level")
    qty: int


class ViOut(BaseModel):
    """A stock's latest volatility interruption (1h VI발동/해제) the hub relayed."""

    code: str
    active: bool = Field(description="true from the trigger until its release")
    kind: str = Field(description="VI적용구분 as sent (정적 / 동적 / 정적+동적)")
    trigger_price: int | None = Field(description="VI발동가격, KRW")
    triggered_at: str | None = Field(description="the trigger's KRX time (ISO, KST)")
    release_at: str | None = Field(
        description="the announced release (while active) or the actual one (ISO, KST)"
    )
    count: int | None = Field(description="the stock's VI count of the day")
    direction: Literal["up", "down", ""]


class BookOut(BaseModel):
    """10 levels each side (best first: asks ascending, bids descending) and totals."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "005930",
                    "source": "hub",
                    "age_s": 0.1,
                    "time": "2026-03-03T10:15:02+09:00",
                    "venue": "KRX",
                    "asks": [{"price": 72100 + 100 * i, "qty": 1500 + i} for i in range(10)],
                    "bids": [{"price": 72000 - 100 * i, "qty": 1200 + i} for i in range(10)],
                    "total_ask_qty": 15045,
                    "total_bid_qty": 12045,
                    "expected_price": None,
                    "expected_qty": None,
                }
            ]
        }
    )

    code: str
    source: Literal["hub", "kiwoom"]
    age_s: float | None
    time: str | None = Field(description="the book's time (ISO, KST)")
    venue: str | None
    asks: list[Level] = Field(min_length=10, max_length=10)
    bids: list[Level] = Field(min_length=10, max_length=10)
    total_ask_qty: int
    total_bid_qty: int
    expected_price: int | None = Field(description="예상체결가 in an auction, when carried")
    expected_qty: int | None
    vi: ViOut | None = Field(
        default=None,
        description="the stock's latest VI state the hub relayed (null: none seen since the "
        "backend started); live changes come as /ws `vi` messages",
    )
