"""The interest API: ``PUT``/``DELETE /api/interest/{stock_code}``, ``GET /api/interest``.

Another service (the main server, when a user opens a stock page) leases a stock it wants
collected and renews the lease before its TTL runs out; see :mod:`gslts_hub.interest` for
the semantics (reference-counted across askers, released when the last lease ends, caps).

The routes reach the manager as ``request.app.state.hub.interest`` (an
:class:`~gslts_hub.interest.InterestManager`) and check a code with the hub's
``validate_code`` (404 for a code that is no listed stock). They are plain ``def`` routes:
a first lease waits for the WebSocket's REG acknowledgement, in the thread pool.

No ``from __future__ import annotations`` here: the request model is built per app (its
TTL bound is the app's ``HUB_INTEREST_MAX_TTL_S``, so the OpenAPI document states it), and
FastAPI must see that local class itself, not a name it cannot resolve.
"""

from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from gslts_common import errors
from gslts_hub.interest import ASKER_PATTERN, MIN_TTL_S, InterestManager
from gslts_kiwoom.krx import STOCK_CODE_PATTERN

_CODE_DOC = "6 characters: a digit, then 5 digits or capital letters"
_ASKER_DOC = "who holds the lease: a service name, e.g. backend or backend:web-1"


class InterestHub(Protocol):
    """What the routes need of the hub."""

    interest: InterestManager

    def validate_code(self, code: str) -> str: ...


def get_interest_hub(request: Request) -> InterestHub:
    hub: InterestHub = request.app.state.hub
    return hub


InterestHubDep = Annotated[InterestHub, Depends(get_interest_hub)]
StockCode = Annotated[
    str, PathParam(pattern=STOCK_CODE_PATTERN, description=_CODE_DOC, examples=["005930"])
]
Asker = Annotated[str, Query(pattern=ASKER_PATTERN, description=_ASKER_DOC, examples=["backend"])]


class LeaseOut(BaseModel):
    """The asker's lease as granted or renewed."""

    stock_code: str = Field(pattern=STOCK_CODE_PATTERN)
    name: str
    asker: str
    ttl_s: float
    granted_at: datetime = Field(description="when this asker's lease was first granted")
    expires_at: datetime = Field(description="renew before this (PUT again)")
    renewals: int = Field(description="0: granted by this request")
    askers: int = Field(description="askers holding a lease on the stock now")
    held_elsewhere: bool = Field(description="collected anyway (top 50 or watchlist)")


class AskerLease(BaseModel):
    asker: str
    ttl_s: float
    granted_at: datetime
    expires_at: datetime
    renewals: int


class InterestStock(BaseModel):
    stock_code: str = Field(pattern=STOCK_CODE_PATTERN)
    expires_at: datetime = Field(description="when the last lease on it ends (then released)")
    expires_in_s: float
    held_elsewhere: bool = Field(description="collected anyway (top 50 or watchlist)")
    askers: list[AskerLease]


class InterestState(BaseModel):
    """The lease table (also the ``interest`` part of ``/api/status``)."""

    max_codes: int = Field(description="HUB_INTEREST_MAX_CODES")
    max_per_asker: int = Field(description="HUB_INTEREST_MAX_PER_ASKER")
    max_ttl_s: float = Field(description="HUB_INTEREST_MAX_TTL_S")
    codes_counted: int = Field(description="stocks collected on interest alone (the cap's count)")
    leases: int
    stocks: list[InterestStock]


def interest_router(max_ttl_s: int) -> APIRouter:
    """The interest routes; ``max_ttl_s`` (``HUB_INTEREST_MAX_TTL_S``) bounds ``ttl_s``."""

    class InterestIn(BaseModel):
        asker: str = Field(pattern=ASKER_PATTERN, description=_ASKER_DOC, examples=["backend"])
        ttl_s: int = Field(
            ge=MIN_TTL_S,
            le=max_ttl_s,
            description="seconds the lease lives unless renewed (PUT again before it ends)",
            examples=[30],
        )

    router = APIRouter(tags=["interest"])

    @router.put(
        "/api/interest/{stock_code}",
        status_code=201,
        response_model=LeaseOut,
        responses={
            200: {"model": LeaseOut, "description": "renewed: the asker's lease, new expiry"},
            201: {"description": "granted: the stock is collected while a lease lives"},
            **errors.responses(404, 409, 413, 422, 503),
        },
        description="Lease a stock for ``ttl_s`` seconds on behalf of ``asker``: the hub "
        "collects it (live 0B trades and 0D books) while any asker's lease lives. Asking "
        "again renews the asker's lease (200); the first lease subscribes it (201). "
        "404: not a listed stock. 409: a cap is reached (the detail says which: the "
        "interest cap, the asker's, or the WebSocket's registration cap).",
    )
    def put_interest(hub: InterestHubDep, stock_code: StockCode, body: InterestIn) -> JSONResponse:
        name = hub.validate_code(stock_code)
        lease = hub.interest.acquire(stock_code, body.asker, body.ttl_s)
        doc: dict[str, Any] = {
            "stock_code": stock_code,
            "name": name,
            **lease.as_dict(),
            "askers": len(hub.interest.leases(stock_code)),
            "held_elsewhere": hub.interest.held_elsewhere(stock_code),
        }
        return JSONResponse(doc, status_code=201 if lease.renewals == 0 else 200)

    @router.delete(
        "/api/interest/{stock_code}",
        status_code=204,
        response_class=Response,
        responses=errors.responses(404, 422),
        description="End ``asker``'s lease now (the stock is released if it was the last "
        "lease and nothing else collects it). 404: that asker holds no lease on it.",
    )
    def delete_interest(hub: InterestHubDep, stock_code: StockCode, asker: Asker) -> Response:
        if not hub.interest.release(stock_code, asker):
            raise errors.NotFound(f"{asker} holds no lease on {stock_code}")
        return Response(status_code=204)

    @router.get(
        "/api/interest",
        response_model=InterestState,
        description="Every leased stock with its askers and expiries, and the caps.",
    )
    def get_interest(hub: InterestHubDep) -> dict[str, Any]:
        return hub.interest.snapshot()

    return router
