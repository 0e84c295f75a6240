"""Market data routes of the main server (see docs/backend.md "Market data"):

* ``GET /api/stocks/search?q=&limit=`` — the in-memory index (:mod:`.search`);
* ``GET /api/stocks/status`` / ``POST /api/stocks/refresh`` (admin) — the stock master
  (:mod:`.master`);
* ``GET /api/stocks/{code}`` — master data and quote (hub, else ka10001);
* ``GET /api/orderbook/{code}`` — the book (hub, else ka10004 while the hub is asked to
  collect the stock, :mod:`.quotes`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request

from gslts_backend.deps import Principal, require_role, services
from gslts_backend.market.master import MasterService
from gslts_backend.market.quotes import (
    InterestClient,
    book_asker,
    book_from_hub,
    book_from_kiwoom,
    quote_from_hub,
    quote_from_kiwoom,
    with_base_price,
)
from gslts_backend.market.schemas import BookOut, MasterStatus, RefreshOut, SearchOut, StockOut
from gslts_backend.market.search import MAX_QUERY_CHARS, QUERY_RE, TIER_NAMES
from gslts_backend.services import Services
from gslts_common.errors import BadInput, NotFound, responses
from gslts_db.models import StockMaster
from gslts_kiwoom import KiwoomError
from gslts_kiwoom.krx import KST, STOCK_CODE_PATTERN

viewer = require_role("viewer")
admin = require_role("admin")
ViewerDep = Annotated[Principal, Depends(viewer)]
AdminDep = Annotated[Principal, Depends(admin)]
ServicesDep = Annotated[Services, Depends(services)]

_CODE_RE = re.compile(STOCK_CODE_PATTERN)
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_lock = threading.Lock()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    svc: Services = app.state.services
    master = MasterService(svc.engine, svc.kiwoom)
    asker = book_asker(svc.settings.ws_interest_asker)
    interest = InterestClient(svc.settings.hub_url, asker=asker)
    app.state.market_master = master
    app.state.market_interest = interest
    master.start()  # loads the stored list; the refresh runs in its own thread
    try:
        yield
    finally:
        master.close()
        interest.close()


router = APIRouter(lifespan=lifespan)


def _master(request: Request) -> MasterService:
    m: MasterService = request.app.state.market_master
    return m


def _code(code: str) -> str:
    if len(code) > 12 or not _CODE_RE.match(code):
        raise BadInput(
            detail="stock code must be 6 characters (digits/letters)",
            field="code",
            detail_ko="종목코드 형식이 올바르지 않습니다",
        )
    return code


def _live_value(svc: Services) -> Any:
    quotes = svc.live.quotes

    def value_of(code: str) -> int | None:
        q = quotes.get(code)
        v = q.get("cum_value") if q else None
        return int(v) * 1_000_000 if isinstance(v, (int, float)) else None

    return value_of


#: the Kiwoom failures a route that may call Kiwoom answers
_KIWOOM_ERRORS = (429, 502, 503)


@router.get(
    "/api/stocks/search",
    tags=["market"],
    response_model=SearchOut,
    responses=responses(401, 422),
)
def search_stocks(
    request: Request,
    p: ViewerDep,
    svc: ServicesDep,
    q: Annotated[str, Query(max_length=200, examples=["삼성", "ㅅㅅㅈㅈ", "0059"])] = "",
    limit: Annotated[str, Query(max_length=6, examples=["20"])] = str(DEFAULT_LIMIT),
) -> dict[str, Any]:
    """Stocks by code, name, 초성 or a one-jamo typo, ranked (see docs)."""
    text = q.strip()
    if not text:
        raise BadInput(detail="q must not be empty", field="q", detail_ko="검색어를 입력하세요")
    if len(text) > MAX_QUERY_CHARS:
        raise BadInput(
            detail=f"q must be at most {MAX_QUERY_CHARS} characters",
            field="q",
            detail_ko="검색어가 너무 깁니다",
        )
    if not QUERY_RE.match(text):
        raise BadInput(
            detail="q holds characters a stock name never has",
            field="q",
            detail_ko="검색어에 사용할 수 없는 문자가 있습니다",
        )
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise BadInput(
            detail=f"limit must be 1..{MAX_LIMIT}", field="limit", detail_ko="limit 범위 오류"
        )
    master = _master(request)
    hits = master.index.search(text, int(limit), _live_value(svc))
    return {
        "query": text,
        "count": len(hits),
        "master": master.status(),
        "results": [
            {
                "code": h.entry.code,
                "name": h.entry.name,
                "market": h.entry.market,
                "match": TIER_NAMES[h.tier],
                "rank_value": h.value,
            }
            for h in hits
        ],
    }


@router.get(
    "/api/stocks/status", tags=["market"], response_model=MasterStatus, responses=responses(401)
)
def master_status(request: Request, p: ViewerDep) -> dict[str, Any]:
    """The stock master's refresh state and size."""
    return _master(request).status()


@router.post(
    "/api/stocks/refresh",
    status_code=202,
    tags=["market"],
    response_model=RefreshOut,
    responses=responses(401, 403),
)
def refresh_master(request: Request, p: AdminDep) -> dict[str, Any]:
    """Starts a ka10099 refresh of the stock master now (admin)."""
    master = _master(request)
    started = master.refresh_in_background()
    return {"started": started, **master.status()}


#: (code, KST day) → 기준가 read from ka10001, for live quotes without one (it holds all day)
_BASES: dict[tuple[str, date], int] = {}
_BASES_LOCK = threading.Lock()


def _base_price(svc: Services, code: str) -> int | None:
    """The day's 기준가 of ``code``: once a day from ka10001 (None when Kiwoom fails: the
    quote is still served, without a change)."""
    key = (code, datetime.now(KST).date())
    with _BASES_LOCK:
        if key in _BASES:
            return _BASES[key]
    try:
        base = svc.kiwoom().get_quote(code).base_price
    except KiwoomError:
        return None
    with _BASES_LOCK:
        if len(_BASES) > 10_000:  # yesterday's keys and more: start again
            _BASES.clear()
        if base:
            _BASES[key] = base
    return base or None


@router.get(
    "/api/stocks/{code}",
    tags=["market"],
    response_model=StockOut,
    responses=responses(401, 404, 422, *_KIWOOM_ERRORS),
)
def stock_detail(
    request: Request,
    p: ViewerDep,
    svc: ServicesDep,
    code: Annotated[str, Path(max_length=40, examples=["005930"])],
) -> dict[str, Any]:
    """Master data and the latest quote (the hub's last trade, else ka10001)."""
    code = _code(code)
    with svc.sessions() as s:
        row = s.execute(sa.select(StockMaster).where(StockMaster.stock_code == code)).scalar()
    if row is None:
        raise NotFound(detail="no such listed stock", field="code", detail_ko="없는 종목입니다")
    hub_q = svc.live.quotes.get(code)
    trade = svc.live.last_trades.get(code)
    if trade is not None and (hub_q is None or (trade.get("time") or 0) > 0):
        quote = quote_from_hub({**(hub_q or {}), **trade})
    elif hub_q is not None:
        quote = quote_from_hub(hub_q)
    else:
        quote = quote_from_kiwoom(svc.kiwoom().get_quote(code))
    if quote["base_price"] is None:  # a live stock whose quote the stream has not shown
        with_base_price(quote, _base_price(svc, code))
    return {
        "code": row.stock_code,
        "name": row.name,
        "market": row.market,
        "sector": row.sector,
        "size_class": row.size_class,
        "listed_shares": row.listed_shares,
        "listed_on": row.listed_on.isoformat() if row.listed_on else None,
        "audit_info": row.audit_info,
        "state": row.state.split("|") if row.state else [],
        "order_warning": row.order_warning,
        "nxt_enabled": row.nxt_enabled,
        "quote": quote,
    }


@router.get(
    "/api/orderbook/{code}",
    tags=["market"],
    response_model=BookOut,
    responses=responses(401, 404, 422, *_KIWOOM_ERRORS),
)
def order_book(
    request: Request,
    p: ViewerDep,
    svc: ServicesDep,
    code: Annotated[str, Path(max_length=40, examples=["005930"])],
) -> dict[str, Any]:
    """10 levels each side with totals: the hub's latest book, else ka10004 (the hub is
    then asked to collect the stock); with the stock's latest VI state the hub relayed."""
    code = _code(code)
    answer = _book_answer(request, svc, code)
    answer["vi"] = svc.live.vi.get(code)
    return answer


def _book_answer(request: Request, svc: Services, code: str) -> dict[str, Any]:
    interest: InterestClient = request.app.state.market_interest
    book = svc.live.books.get(code)
    if book is not None:
        if not interest.holds(code):
            return book_from_hub(code, book)  # collected by the hub for its own reasons
        lapsed = not interest.live(code)
        interest.want(code)  # renew while asked for: else the lease lapses, the book freezes
        if not lapsed:
            return book_from_hub(code, book)
        # the lease lapsed since the last request: the hub's book stopped; ka10004 for now
    if code not in _master(request).index.by_code:
        with svc.sessions() as s:
            known = s.execute(
                sa.select(StockMaster.stock_code).where(StockMaster.stock_code == code)
            ).scalar()
        if known is None:
            raise NotFound(detail="no such listed stock", field="code", detail_ko="없는 종목입니다")
    interest.want(code)
    client = svc.kiwoom()
    snap = client.get_order_book(code)
    return book_from_kiwoom(code, snap, (None, None))
