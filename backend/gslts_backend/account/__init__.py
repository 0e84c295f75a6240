"""Account routes of the main server: ``GET /api/account`` (viewer) and the Kiwoom token
``GET|POST|DELETE /api/kiwoom/token`` (admin). See docs/backend.md "Account".

The router's lifespan (merged into the app's by ``include_router``; it runs after the app's
own, so the shared services exist) builds the :class:`~gslts_backend.account.service.
AccountService`, follows the bus for its refreshes and starts its refresher thread.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from gslts_backend.account.schemas import AccountOut, OrderableOut, TokenStatus
from gslts_backend.account.service import AccountService, kiwoom_failure
from gslts_backend.auth import record_audit
from gslts_backend.deps import Principal, require_role, services
from gslts_backend.services import Services
from gslts_common import errors
from gslts_kiwoom import KiwoomClient, KiwoomError, token_cache_key
from gslts_kiwoom.krx import KST, STOCK_CODE_PATTERN
from gslts_kiwoom.models import Side

log = logging.getLogger(__name__)

#: the role dependencies (module attributes, so a test can override them)
viewer = require_role("viewer")
admin = require_role("admin")
ViewerDep = Annotated[Principal, Depends(viewer)]
AdminDep = Annotated[Principal, Depends(admin)]
ServicesDep = Annotated[Services, Depends(services)]


def live_price(svc: Services, code: str) -> int | None:
    """The stock's latest trade the hub relayed, else its latest quote (or None)."""
    trade = svc.live.last_trades.get(code)
    if trade is not None:
        return int(trade["price"])
    quote = svc.live.quotes.get(code)
    return None if quote is None else int(quote["price"])


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    svc: Services = app.state.services
    acct = AccountService(
        svc.kiwoom,
        lambda code: live_price(svc, code),
        svc.events,
        ttl_s=svc.settings.account_cache_ttl_s,
    )
    unsubscribe = svc.live.follower.subscribe(acct.on_bus)
    acct.start()
    app.state.account = acct
    try:
        yield
    finally:
        unsubscribe()
        acct.close()


router = APIRouter(lifespan=lifespan)


def account_service(request: Request) -> AccountService:
    acct: AccountService = request.app.state.account
    return acct


@router.get(
    "/api/account",
    response_model=AccountOut,
    tags=["account"],
    responses=errors.responses(401, 403, 429, 502, 503),
    description="Cash, orderable cash and the holdings with average price, P&L and return "
    "(kt00018 + kt00001, cached for ACCOUNT_CACHE_TTL_S and refreshed by the account's 04/00 "
    "events), each holding valued at the hub's latest trade. One Kiwoom account serves the "
    "system: every user sees the same.",
)
def get_account(
    _: ViewerDep, acct: Annotated[AccountService, Depends(account_service)]
) -> dict[str, Any]:
    return acct.account()


_CODE_RE = re.compile(STOCK_CODE_PATTERN)
#: the highest price an orderable-quantity request may name (KRW; above any listed stock)
MAX_PRICE = 100_000_000


@router.get(
    "/api/account/orderable",
    response_model=OrderableOut,
    tags=["account"],
    responses=errors.responses(401, 403, 422, 429, 502, 503),
    description="가능수량 for an order of `code` at `price`: 현금(미수불가) and 최대(미수발생) "
    "(buys: kt00011 증거금율별주문가능수량조회요청 for that price; sells: the sellable shares, "
    "the same figure twice). Asked of Kiwoom each time (not cached): the order panel asks "
    "when a quantity preset is used.",
)
def get_orderable(
    _: ViewerDep,
    svc: ServicesDep,
    code: Annotated[str, Query(max_length=40, examples=["005930"])],
    price: Annotated[str, Query(max_length=12, examples=["70000"])],
    side: Annotated[Literal["buy", "sell"], Query(examples=["buy"])] = "buy",
) -> dict[str, Any]:
    if not _CODE_RE.match(code):
        raise errors.BadInput(
            detail="stock code must be 6 characters (digits/letters)",
            field="code",
            detail_ko="종목코드 형식이 올바르지 않습니다",
        )
    if not price.isascii() or not price.isdigit() or not 1 <= int(price) <= MAX_PRICE:
        raise errors.BadInput(
            detail=f"price must be a whole number of KRW in 1..{MAX_PRICE}",
            field="price",
            detail_ko="가격이 올바르지 않습니다",
        )
    if side not in ("buy", "sell"):
        raise errors.BadInput(
            detail='side must be "buy" or "sell"', field="side", detail_ko="매수/매도 구분 오류"
        )
    try:
        q = svc.kiwoom().orderable_quantity(code, int(price), Side(side))
    except KiwoomError as exc:
        raise kiwoom_failure(exc, "orderable quantity (kt00011)") from exc
    return {
        "code": q.code,
        "side": str(q.side),
        "price": q.price,
        "cash_qty": q.cash_qty,
        "max_qty": q.max_qty,
        "cash_amount": q.cash_amount,
        "max_amount": q.max_amount,
        "applied_margin_rate": q.applied_margin_rate,
    }


def _status(client: KiwoomClient) -> dict[str, Any]:
    """The token's state, never its value."""
    cfg = client.config
    key = token_cache_key(cfg.mode, cfg.rest_url.rstrip("/"), cfg.app_key.get_secret_value())
    cached = client.token_cache.get(key)
    held = client.token_expires_at()
    expires = held or (cached.expires_at if cached is not None else None)
    now = datetime.now(KST)
    return {
        "mode": cfg.mode,
        "held": held is not None,
        "cached": cached is not None and cached.expires_at > now,
        "cache": type(client.token_cache).__name__,
        "expires_at": expires,
        "expires_in_s": None if expires is None else round((expires - now).total_seconds(), 1),
    }


_ADMIN_NOTE = " Admin only. The token itself is never returned nor logged."


@router.get(
    "/api/kiwoom/token",
    response_model=TokenStatus,
    tags=["kiwoom"],
    responses=errors.responses(401, 403),
    description="The Kiwoom access token's state: mode, expiry, whether held and cached."
    + _ADMIN_NOTE,
)
def token_status(_: AdminDep, svc: ServicesDep) -> dict[str, Any]:
    return _status(svc.kiwoom())


@router.post(
    "/api/kiwoom/token",
    response_model=TokenStatus,
    tags=["kiwoom"],
    responses=errors.responses(401, 403, 429, 502, 503),
    description="Issue a new access token now (au10001 접근토큰 발급), replacing the held one; "
    "recorded in the audit trail (kiwoom.token_reissue)." + _ADMIN_NOTE,
)
def token_reissue(p: AdminDep, svc: ServicesDep) -> dict[str, Any]:
    client = svc.kiwoom()
    try:
        client.token(force_new=True)
    except KiwoomError as exc:
        _audit(svc, p, "kiwoom.token_reissue", "failed", type(exc).__name__)
        raise kiwoom_failure(exc, "token issue (au10001)") from exc
    log.info("kiwoom_token_reissued by=%s ip=%s", p.username, p.ip)
    status = _status(client)
    _audit(svc, p, "kiwoom.token_reissue", "ok")
    return status


@router.delete(
    "/api/kiwoom/token",
    response_model=TokenStatus,
    tags=["kiwoom"],
    responses=errors.responses(401, 403, 429, 502, 503),
    description="Revoke the held access token (au10002 접근토큰 폐기); the next Kiwoom call "
    "issues a new one; recorded in the audit trail (kiwoom.token_revoke)." + _ADMIN_NOTE,
)
def token_revoke(p: AdminDep, svc: ServicesDep) -> dict[str, Any]:
    client = svc.kiwoom()
    try:
        client.revoke_token()
    except KiwoomError as exc:
        _audit(svc, p, "kiwoom.token_revoke", "failed", type(exc).__name__)
        raise kiwoom_failure(exc, "token revoke (au10002)") from exc
    log.info("kiwoom_token_revoked by=%s ip=%s", p.username, p.ip)
    _audit(svc, p, "kiwoom.token_revoke", "ok")
    return _status(client)


def _audit(
    svc: Services, p: Principal, action: str, outcome: str, error: str | None = None
) -> None:
    """The admin action in the audit trail (who, when, from where; never the token)."""
    if error is not None:  # the Kiwoom failure is the answer; a trail failure only logged
        try:
            _write_audit(svc, p, action, outcome, {"error": error})
        except Exception:
            log.exception("audit_write_failed action=%s", action)
        return
    _write_audit(svc, p, action, outcome, None)


def _write_audit(
    svc: Services, p: Principal, action: str, outcome: str, detail: dict[str, Any] | None
) -> None:
    with svc.sessions.begin() as session:
        record_audit(session, p, action, "kiwoom_token", outcome, detail)
