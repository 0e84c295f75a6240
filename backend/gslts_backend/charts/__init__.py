"""Chart routes of the main server: ``GET /api/charts/{code}`` (viewer). See docs/backend.md
"Charts" for the time convention, the bucket alignment and paging.

Module roles: :mod:`~gslts_backend.charts.aggregate` (bar arithmetic, the chart time),
:mod:`~gslts_backend.charts.repository` (the queries), :mod:`~gslts_backend.charts.service`
(pages, the forming bar, the Kiwoom backfill).
"""

from __future__ import annotations

import re
import threading
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from gslts_backend.charts.aggregate import INTERVALS, MINUTES
from gslts_backend.charts.service import ChartService
from gslts_backend.deps import Principal, require_role, services
from gslts_backend.services import Services
from gslts_common.errors import BadInput, ErrorBody, responses
from gslts_kiwoom.krx import is_stock_code

#: the role dependency (a module attribute, so a test can override it)
viewer = require_role("viewer")
ViewerDep = Annotated[Principal, Depends(viewer)]
ServicesDep = Annotated[Services, Depends(services)]

DEFAULT_LIMIT = 500
MAX_LIMIT = 2000
#: the range of ``before`` (older or later than any chart; keeps the date arithmetic safe)
MIN_DAY = date(1900, 1, 1)
MAX_SECONDS = 253_402_128_000  # 9999-12-30 00:00 (chart time)
_lock = threading.Lock()
_SECONDS = re.compile(r"[0-9]{1,12}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LIMIT = re.compile(r"[0-9]{1,6}")


class Candle(BaseModel):
    """One bar as lightweight-charts takes it (``series.setData``)."""

    time: int | str = Field(
        description="intraday: the bar's KST wall-clock start as if UTC, in epoch seconds "
        "(UTCTimestamp); 1d/1w: the KST trading day 'YYYY-MM-DD' (a week: its first "
        "trading day)",
        examples=[1764666000, "2025-12-02"],
    )
    open: int
    high: int
    low: int
    close: int
    volume: int = Field(description="shares traded in the bar")


class ChartOut(BaseModel):
    code: str
    interval: str
    candles: list[Candle] = Field(description="oldest first")
    next_before: int | str | None = Field(
        description="pass as `before` for the older page; null at the start of history"
    )


router = APIRouter()


def chart_service(request: Request, svc: ServicesDep) -> ChartService:
    """The app's one :class:`ChartService` (it remembers where Kiwoom's history starts)."""
    state = request.app.state
    with _lock:
        cs: ChartService | None = getattr(state, "charts", None)
        if cs is None or cs.svc is not svc:
            cs = ChartService(svc)
            state.charts = cs
    return cs


def _before(raw: str | None, interval: str) -> int | date | None:
    if raw is None or raw == "":
        return None
    if interval in MINUTES:
        if not _SECONDS.fullmatch(raw) or int(raw) > MAX_SECONDS:
            raise BadInput(
                "before must be a chart time in seconds (a candle's time)",
                field="before",
                detail_ko="before는 초 단위 차트 시각이어야 합니다",
            )
        return int(raw)
    try:
        if not _DAY.fullmatch(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
        if day < MIN_DAY:
            raise ValueError(raw)
        return day
    except ValueError:
        raise BadInput(
            "before must be a day YYYY-MM-DD for 1d and 1w",
            field="before",
            detail_ko="1d/1w의 before는 YYYY-MM-DD 날짜여야 합니다",
        ) from None


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadInput(
            f"limit must be a whole number from 1 to {MAX_LIMIT}",
            field="limit",
            detail_ko=f"limit는 1~{MAX_LIMIT} 사이의 정수여야 합니다",
        )
    return int(raw)


@router.get(
    "/api/charts/{code}",
    response_model=ChartOut,
    tags=["charts"],
    summary="Candles of a stock, newest page first",
    responses={
        **responses(401, 429, 502, 503),  # 429/502/503: a Kiwoom backfill that failed
        404: {"model": ErrorBody, "description": "unknown stock code"},
        422: {
            "model": ErrorBody,
            "description": "bad code, interval, before or limit (the field is named)",
        },
    },
)
def get_chart(
    _p: ViewerDep,
    cs: Annotated[ChartService, Depends(chart_service)],
    code: Annotated[str, Path(description="stock code, e.g. 005930", examples=["005930"])],
    interval: Annotated[
        str, Query(description="1m 3m 5m 10m 15m 30m 60m 1d 1w", examples=["1m"])
    ] = "1m",
    before: Annotated[
        str | None,
        Query(
            description="exclusive: bars starting before this time (the `next_before` of "
            "the previous page): seconds for intraday, YYYY-MM-DD for 1d/1w (1w: weeks "
            "before the week holding that day)"
        ),
    ] = None,
    limit: Annotated[
        str | None, Query(description=f"bars at most (1..{MAX_LIMIT}, default {DEFAULT_LIMIT})")
    ] = None,
) -> ChartOut:
    """Candles from the stored 1-minute and daily bars, the forming bar from the latest
    ticks, older history backfilled from Kiwoom (ka10080/ka10081) and stored."""
    if not is_stock_code(code):
        raise BadInput(
            "code must be 6 characters like 005930",
            field="code",
            detail_ko="종목코드는 005930 같은 6자리여야 합니다",
        )
    if interval not in INTERVALS:
        raise BadInput(
            "interval must be one of " + " ".join(INTERVALS),
            field="interval",
            detail_ko="interval은 " + " ".join(INTERVALS) + " 중 하나여야 합니다",
        )
    page = cs.page(code, interval, _before(before, interval), _limit(limit))
    return ChartOut(
        code=code,
        interval=interval,
        candles=[Candle(**vars_of(b)) for b in page.bars],
        next_before=page.next_before,
    )


def vars_of(b: object) -> dict[str, object]:
    return {k: getattr(b, k) for k in ("time", "open", "high", "low", "close", "volume")}
