"""The simulator's admin hooks (``/_sim/*``): faults, the trade rate, the ground truth
and the state.

Every admin input is validated as a whole before anything is applied, so a refused
request changes nothing. A refusal is HTTP 422 in the simulator's error envelope plus
``error``/``detail``/``field``; it names the field and never echoes the input back.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, datetime
from typing import Annotated, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gslts_kiwoom import krx
from gslts_kiwoom.sim._app_base import Body, ReplyError, error_response
from gslts_kiwoom.sim._simulator import (
    MAX_DELAY_MS,
    MAX_RATE_LIMIT_STORM_S,
    MAX_REJECT_ORDERS,
    MAX_TIME_WARP,
    MAX_TRADES_PER_S,
    Simulator,
)

#: Largest admin request body (a ``codes`` list of 3,000 stocks is about 30 KB).
MAX_ADMIN_BODY = 64 * 1024
MAX_STALL_S = 3600.0
MAX_GARBAGE_FRAMES = 1000
MAX_REJECT_LOGINS = 1000
MAX_RATE_CODES = 3000
MAX_GROUND_TRUTH_LIMIT = 1_000_000
MAX_SEQ = 2**63 - 1

_CODE_PATTERN = r"^[0-9A-Z]{6}$"
_CODE_RE = re.compile(_CODE_PATTERN)
_UINT_RE = re.compile(r"[0-9]{1,19}")
_NAME_MAX = 40

StockCode = Annotated[str, StringConstraints(pattern=_CODE_PATTERN)]


class AdminInputError(ReplyError):
    """A refused ``/_sim/*`` request: HTTP 422, rc 2, naming the offending field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.detail = f"{field}: {problem}"
        super().__init__(2, f"입력 값 오류입니다[{self.detail}]", status=422)
        self.extra = {"error": "InvalidAdminInput", "detail": self.detail, "field": field}


class _AdminInput(BaseModel):
    """Strict JSON: bools are JSON bools, numbers are finite JSON numbers, no extras."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class FaultsInput(_AdminInput):
    """``POST /_sim/faults`` body (every key optional)."""

    expire_tokens: bool = Field(default=False, description="true or false")
    drop_connections: bool = Field(default=False, description="true or false")
    stall: bool | Annotated[float, Field(ge=0, le=MAX_STALL_S)] | None = Field(
        default=None, description=f"true, false or seconds in 0..{MAX_STALL_S:g}"
    )
    garbage: int = Field(
        default=0,
        ge=0,
        le=MAX_GARBAGE_FRAMES,
        description=f"an integer number of frames in 0..{MAX_GARBAGE_FRAMES}",
    )
    reject_login: int = Field(
        default=0,
        ge=0,
        le=MAX_REJECT_LOGINS,
        description=f"an integer number of LOGINs in 0..{MAX_REJECT_LOGINS}",
    )
    rate_limit_storm_s: float | None = Field(
        default=None,
        ge=0,
        le=MAX_RATE_LIMIT_STORM_S,
        description=f"seconds in 0..{MAX_RATE_LIMIT_STORM_S:g}",
    )
    delay_ms: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DELAY_MS,
        description=f"an integer number of milliseconds in 0..{MAX_DELAY_MS}",
    )
    order_delay_ms: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DELAY_MS,
        description=f"an integer number of milliseconds in 0..{MAX_DELAY_MS}",
    )
    order_delay_phase: Literal["before", "after"] | None = Field(
        default=None, description='"before" or "after"'
    )
    order_delay_api_ids: (
        Annotated[
            list[Literal["kt10000", "kt10001", "kt10002", "kt10003"]],
            Field(min_length=1, max_length=4),
        ]
        | None
    ) = Field(
        default=None,
        description='a non-empty list of order api-ids ("kt10000", "kt10001", "kt10002", '
        '"kt10003")',
    )
    reject_orders: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REJECT_ORDERS,
        description=f"an integer number of orders in 0..{MAX_REJECT_ORDERS}",
    )


_RATE_HELP = f"a number of trades per second in 0..{MAX_TRADES_PER_S:.0f}"
_RATE_KEYS = ("trades_per_s", "ticks_per_s", "rate")


class RateInput(_AdminInput):
    """``POST /_sim/rate`` body: one of the rate keys (aliases), optionally ``codes``."""

    trades_per_s: float | None = Field(
        default=None, ge=0, le=MAX_TRADES_PER_S, description=_RATE_HELP
    )
    ticks_per_s: float | None = Field(
        default=None, ge=0, le=MAX_TRADES_PER_S, description=_RATE_HELP
    )
    rate: float | None = Field(default=None, ge=0, le=MAX_TRADES_PER_S, description=_RATE_HELP)
    codes: list[StockCode] | None = Field(
        default=None,
        max_length=MAX_RATE_CODES,
        description=f"a list of at most {MAX_RATE_CODES} six-character stock codes "
        '(e.g. "005930"); [] or null = every stock',
    )


class ClockInput(_AdminInput):
    """``POST /_sim/clock`` body."""

    time_warp: float = Field(
        ge=0,
        le=MAX_TIME_WARP,
        description=f"simulated seconds per wall second in 0..{MAX_TIME_WARP:.0f} "
        "(0 stops the clock)",
    )


def _safe_name(name: object) -> str:
    """A client-supplied key fit to quote in an error: short, printable, no surrogates."""
    text = str(name)
    cut = text[:_NAME_MAX]
    clean = "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in cut)
    return clean + ("…" if len(text) > _NAME_MAX else "")


def _refusal(model: type[_AdminInput], err: ValidationError) -> AdminInputError:
    """The first problem of ``err`` as an :class:`AdminInputError` (no input echoed)."""
    problems = err.errors(include_url=False, include_context=False, include_input=False)
    first = problems[0]
    loc = first["loc"]
    name = _safe_name(loc[0]) if loc else "body"
    others = list(dict.fromkeys(_safe_name(p["loc"][0]) for p in problems if p["loc"]))[1:]
    more = f" (also wrong: {', '.join(others[:5])}{', …' if len(others) > 5 else ''})"
    more = more if others else ""
    if first["type"] == "extra_forbidden":
        known = ", ".join(model.model_fields)
        return AdminInputError(name, f"unknown field; known fields: {known}{more}")
    info = model.model_fields.get(str(loc[0])) if loc else None
    if len(loc) > 1 and isinstance(loc[1], int):
        name = f"{name}[{loc[1]}]"
    if info is not None and info.description:
        return AdminInputError(name, f"must be {info.description}{more}")
    if first["type"] == "string_unicode":  # e.g. a key holding a lone surrogate
        return AdminInputError(name, f"keys and strings must be valid Unicode{more}")
    return AdminInputError(name, f"{first['msg'][:200]}{more}")


_M = TypeVar("_M", bound=_AdminInput)


def _admin_input(model: type[_M], body: Body) -> _M:
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise _refusal(model, err) from None


async def _admin_body(request: Request) -> Body:
    """The JSON object of an admin request (empty body = ``{}``), at most
    :data:`MAX_ADMIN_BODY` bytes (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if len(declared) > 12 or (
        declared.isascii() and declared.isdigit() and int(declared) > MAX_ADMIN_BODY
    ):
        raise AdminInputError("body", f"larger than {MAX_ADMIN_BODY} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_ADMIN_BODY:
            raise AdminInputError("body", f"larger than {MAX_ADMIN_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON/UTF-8, a 4,300+ digit int, deep nesting
        raise AdminInputError("body", "not valid JSON") from None
    if not isinstance(data, dict):
        raise AdminInputError("body", "must be a JSON object")
    return data


def _query_uint(params: QueryParams, key: str, default: int, lo: int, hi: int) -> int:
    """Query parameter ``key`` as an ASCII-digit integer in ``lo..hi`` (blank = default)."""
    raw = str(params.get(key) or "").strip()
    if not raw:
        return default
    value = int(raw) if _UINT_RE.fullmatch(raw) else -1
    if not lo <= value <= hi:
        raise AdminInputError(key, f"must be an integer in {lo}..{hi}")
    return value


def _query_date(params: QueryParams, key: str, default: date) -> date:
    """Query parameter ``key`` as ``YYYY-MM-DD`` (blank = default)."""
    raw = str(params.get(key) or "").strip()
    if not raw:
        return default
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise AdminInputError(key, "must be a date YYYY-MM-DD") from None


def admin_routes(sim: Simulator) -> list[Route]:
    """The ``/_sim/*`` routes of ``sim``."""

    async def faults(request: Request) -> Response:
        """``POST /_sim/faults`` (all keys optional)::

            {"expire_tokens": true, "rate_limit_storm_s": 5, "delay_ms": 200,
             "order_delay_ms": 3000, "order_delay_phase": "after",
             "order_delay_api_ids": ["kt10000", "kt10001"], "reject_orders": 1,
             "drop_connections": true, "stall": true | false | 3.5, "garbage": 4,
             "reject_login": 2}

        ``stall``: true = WebSocket sessions get nothing (no PING, no data) until
        ``"stall": false``; a number = stall that many seconds (0 = no stall).
        ``delay_ms`` holds every REST request before it is handled. ``order_delay_ms``
        holds only the order APIs (kt10000–kt10003, or the ``order_delay_api_ids`` given):
        phase ``after`` (the default) applies the order at once (its 00 events go out)
        and holds the answer, so a client that times out has really placed it; ``before``
        holds the request, so the order is applied only after the delay; 0 turns it off.
        ``reject_orders``: the next N new orders are accepted (an order number, 00 접수)
        and then refused by the exchange (00 거부, FID 919 the reason). Keys left out keep
        their value. Ranges: ``rate_limit_storm_s`` and ``stall`` 0..3600 s, ``delay_ms``
        and ``order_delay_ms`` 0..60,000 (integers), ``garbage`` 0..1000 frames,
        ``reject_login`` and ``reject_orders`` 0..1000; bools are JSON bools. Anything
        else is refused (422, nothing changed). Answers the state plus ``ws_faults`` (how
        many sessions each fault hit)."""
        try:
            req = _admin_input(FaultsInput, await _admin_body(request))
        except AdminInputError as err:
            return error_response(err)
        stall = req.stall
        if not isinstance(stall, bool) and stall == 0:
            stall = None  # the hub would read a bare 0 as "stall until told otherwise"
        sim.set_faults(
            expire_tokens=req.expire_tokens,
            rate_limit_storm_s=req.rate_limit_storm_s,
            delay_ms=req.delay_ms,
            order_delay_ms=req.order_delay_ms,
            order_delay_phase=req.order_delay_phase,
            order_delay_api_ids=(
                frozenset(req.order_delay_api_ids) if req.order_delay_api_ids else None
            ),
            reject_orders=req.reject_orders,
        )
        if req.reject_login:
            sim.ws_hub.reject_logins(req.reject_login)
        ws = await sim.ws_hub.apply_faults(
            drop=req.drop_connections, stall=stall, garbage=req.garbage
        )
        return JSONResponse({**sim.state(), "ws_faults": ws})

    async def rate(request: Request) -> Response:
        """``POST /_sim/rate`` ``{"trades_per_s": 50000}`` (or one alias: ``ticks_per_s``,
        ``rate``; a number in 0..1,000,000), optionally ``"codes": [...]`` (at most 3,000
        known six-character codes) to restrict trading to those stocks (``[]`` = all).
        Anything else is refused (422, nothing changed)."""
        try:
            req = _admin_input(RateInput, await _admin_body(request))
            given = [k for k in _RATE_KEYS if getattr(req, k) is not None]
            if not given:
                raise AdminInputError("trades_per_s", f"required ({_RATE_HELP})")
            if len(given) > 1:
                raise AdminInputError(given[1], f"give only one of {', '.join(_RATE_KEYS)}")
            value: float = getattr(req, given[0])
            codes = req.codes or None
            universe = sim.market.universe
            for i, code in enumerate(codes or ()):
                if code not in universe:
                    raise AdminInputError(f"codes[{i}]", f"unknown stock code {code}")
        except AdminInputError as err:
            return error_response(err)
        with sim.lock:
            sim.set_rate(value)
            if "codes" in req.model_fields_set:
                sim.market.set_trade_codes(codes)
        return JSONResponse({"trades_per_s": sim.market.trades_per_s})

    async def clock(request: Request) -> Response:
        """``POST /_sim/clock`` ``{"time_warp": 0}``: how fast the simulated clock runs
        from now on (0 stops it: no more trades, REST still answers; a harness stops it
        before comparing a finished day, so the simulated midnight cannot roll the day
        under it). Anything else is refused (422, nothing changed)."""
        try:
            req = _admin_input(ClockInput, await _admin_body(request))
        except AdminInputError as err:
            return error_response(err)
        sim.set_time_warp(req.time_warp)
        return JSONResponse({"time_warp": sim.time_warp, "now": sim.clock_time().isoformat()})

    async def ground_truth(request: Request) -> Response:
        """``GET /_sim/ground-truth?since_seq=0&limit=100000&code=005930`` (also
        ``/_sim/trades``): every trade the simulator made, oldest first, compact::

            {"columns": ["seq","code","venue","date","time","price","volume","cum_volume"],
             "rows": [[1,"005930","KRX","20260928","100000123456",68100,12,5000012], …],
             "next_seq": 1, "total": 1, "dropped": 0, "cap": 2000000}

        ``time`` is HHMMSS + microseconds; ``volume`` is signed (+ buy-initiated). Page
        with ``since_seq=next_seq`` until ``rows`` is empty. ``dropped`` > 0 means the cap
        was reached and ground truth is incomplete. ``since_seq`` 0..2**63-1, ``limit``
        1..1,000,000, ``code`` a known stock; other parameters are refused (422)."""
        q = request.query_params
        try:
            for key in q:
                if key not in ("since_seq", "limit", "code"):
                    raise AdminInputError(
                        _safe_name(key), "unknown parameter; known: since_seq, limit, code"
                    )
            since = _query_uint(q, "since_seq", 0, 0, MAX_SEQ)
            limit = _query_uint(q, "limit", 100_000, 1, MAX_GROUND_TRUTH_LIMIT)
            code = (q.get("code") or "").strip() or None
            if code is not None and not (_CODE_RE.match(code) and code in sim.market.universe):
                raise AdminInputError("code", "must be a known six-character stock code")
        except AdminInputError as err:
            return error_response(err)
        with sim.lock:
            gt = sim.market.ground_truth
            rows = gt.rows(since, limit, code)
            total, dropped, cap = len(gt), gt.dropped, gt.cap
        out = []
        for seq, c, t_us, price, volume, cum, _sseq in rows:
            t = datetime.fromtimestamp(t_us / 1_000_000, krx.KST)
            out.append(
                [seq, c, "KRX", t.strftime("%Y%m%d"), t.strftime("%H%M%S%f"), price, volume, cum]
            )
        body = {
            "columns": ["seq", "code", "venue", "date", "time", "price", "volume", "cum_volume"],
            "rows": out,
            "next_seq": rows[-1][0] if rows else since,
            "total": total,
            "dropped": dropped,
            "cap": cap,
        }
        return Response(orjson.dumps(body), media_type="application/json")

    async def state(request: Request) -> Response:
        """``GET /_sim/state``: clock, account and fault summary (no secrets)."""
        return JSONResponse(sim.state())

    async def us_daily(request: Request) -> Response:
        """``GET /_sim/us-daily?symbol=SOXX&start=2024-01-02&end=2026-12-04``: the sector
        feed's daily bars of a US instrument (adjusted; sessions closed by the simulator's
        clock), oldest first::

            {"symbol": "SOXX", "world": "planted", "source": "sim",
             "columns": ["date","open","high","low","close","volume"],
             "rows": [["2024-01-02", 101.2, 102.0, 100.9, 101.7, 1234567], …]}

        Without ``symbol``: ``{"world": …, "symbols": [...]}``. 404 without a sector feed
        (no ``SimConfig.sector_links``) or for an unknown symbol; dates ``YYYY-MM-DD``
        (default: all)."""
        feed = sim.market.sector_feed
        q = request.query_params
        try:
            for key in q:
                if key not in ("symbol", "start", "end"):
                    raise AdminInputError(
                        _safe_name(key), "unknown parameter; known: symbol, start, end"
                    )
            start = _query_date(q, "start", date.min)
            end = _query_date(q, "end", date.max)
        except AdminInputError as err:
            return error_response(err)
        if feed is None:
            return JSONResponse({"error": "no sector feed (SimConfig.sector_links is empty)"}, 404)
        symbol = (q.get("symbol") or "").strip().upper()
        if not symbol:
            return JSONResponse({"world": feed.kind, "symbols": list(feed.symbols)})
        if symbol not in feed.symbols:
            return JSONResponse({"error": f"unknown symbol {_safe_name(symbol)}"}, 404)
        now = sim.clock_time()
        rows = await asyncio.to_thread(feed.us_bars, symbol, start, end, now)
        body = {
            "symbol": symbol,
            "world": feed.kind,
            "source": "sim",
            "columns": ["date", "open", "high", "low", "close", "volume"],
            "rows": [[d.isoformat(), o, h, lo, c, v] for d, o, h, lo, c, v in rows],
        }
        return Response(orjson.dumps(body), media_type="application/json")

    return [
        Route("/_sim/faults", faults, methods=["POST"]),
        Route("/_sim/state", state, methods=["GET"]),
        Route("/_sim/rate", rate, methods=["POST"]),
        Route("/_sim/clock", clock, methods=["POST"]),
        Route("/_sim/ground-truth", ground_truth, methods=["GET"]),
        Route("/_sim/trades", ground_truth, methods=["GET"]),
        Route("/_sim/us-daily", us_daily, methods=["GET"]),
    ]
