"""The Starlette app: Kiwoom REST paths, api-id dispatch, auth, rate limits, paging.

Pipeline of a ``/api/dostk/*`` call: fault delay → api-id header (1501/1505/1504) →
rate limit (HTTP 429, rc 5, [1700]) → ``authorization`` (1513/1514, rc 3 [8005]) → JSON
body → required fields (rc 2 [1511]) → handler. Lists are paged with the ``cont-yn`` /
``next-key`` headers; a continuation reads from a snapshot taken on the first page, so
pages stay consistent while the market moves.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from gslts_kiwoom import krx
from gslts_kiwoom.models import Bar, OrderType, Side
from gslts_kiwoom.sim import _fmt as f
from gslts_kiwoom.sim._indexes import INDEXES
from gslts_kiwoom.sim._orders import Order, OrderRejected
from gslts_kiwoom.sim._simulator import (
    MAX_DELAY_MS,
    MAX_RATE_LIMIT_STORM_S,
    MAX_TRADES_PER_S,
    Simulator,
)
from gslts_kiwoom.sim._stock import StockState
from gslts_kiwoom.sim._universe import Stock, api_paths

Body = dict[str, Any]
Row = dict[str, str]

OK_MSG = "정상적으로 처리되었습니다"
QUERY_MSG = " 조회가 완료되었습니다."

#: Required request fields per api-id (catalogue.json has no required flags; these follow
#: PROTOCOL §4 and the guide's field tables). Missing → rc 2 [1511].
REQUIRED: dict[str, tuple[str, ...]] = {
    "ka10001": ("stk_cd",),
    "ka10004": ("stk_cd",),
    "ka10099": ("mrkt_tp",),
    "ka10101": ("mrkt_tp",),
    "ka10032": ("mrkt_tp", "mang_stk_incls", "stex_tp"),
    "ka10079": ("stk_cd", "tic_scope", "upd_stkpc_tp"),
    "ka10080": ("stk_cd", "tic_scope", "upd_stkpc_tp"),
    "ka10081": ("stk_cd", "base_dt", "upd_stkpc_tp"),
    "ka20001": ("mrkt_tp", "inds_cd"),
    "kt10000": ("dmst_stex_tp", "stk_cd", "ord_qty", "trde_tp"),
    "kt10001": ("dmst_stex_tp", "stk_cd", "ord_qty", "trde_tp"),
    "kt10002": ("dmst_stex_tp", "orig_ord_no", "stk_cd", "mdfy_qty", "mdfy_uv"),
    "kt10003": ("dmst_stex_tp", "orig_ord_no", "stk_cd", "cncl_qty"),
    "ka10075": ("all_stk_tp", "trde_tp", "stex_tp"),
    "ka10076": ("qry_tp", "sell_tp", "stex_tp"),
    "kt00018": ("qry_tp", "dmst_stex_tp"),
    "kt00001": ("qry_tp",),
}


class KiwoomError(Exception):
    """An error envelope: HTTP status, return_code and return_msg."""

    def __init__(self, return_code: int, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.return_code = return_code
        self.message = message
        self.status = status


def input_error(detail: str) -> KiwoomError:
    return KiwoomError(2, f"입력 값 오류입니다[{detail}]")


@dataclass(slots=True)
class Result:
    """A handler's answer: top-level fields, and optionally a list to page."""

    body: Body
    list_key: str | None = None
    rows: list[Row] | None = None
    message: str = QUERY_MSG


Handler = Callable[["_Ctx", Body], Result]


class _Ctx:
    """What a handler sees: the simulator (lock held) and helpers."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.market = sim.market

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


def _int_field(body: Body, key: str, *, allow_zero: bool = False) -> int:
    raw = str(body.get(key, "")).strip()
    try:
        value = int(raw)
    except ValueError:
        raise input_error(f"1517:입력값 형식 오류({key}, 숫자만 입력 가능합니다)") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise input_error(f"1517:입력값 형식 오류({key}, 0보다 큰 값을 입력하세요)")
    return value


# --- market data ------------------------------------------------------------------------


def _quote_fields(st: StockState) -> Row:
    last, base = st.last, st.base_price
    return {
        "cur_prc": f.signed(last, base),
        "pred_pre": f.change(last - base),
        "flu_rt": f.rate(last, base),
    }


def h_ka10001(ctx: _Ctx, body: Body) -> Result:
    """ka10001 주식기본정보요청."""
    stock, _ = ctx.stock(body["stk_cd"])
    st = ctx.market.state(stock.code)
    base = st.base_price
    bars = ctx.market.daily_bars(stock.code)[-250:]
    hi_bar = max(bars, key=lambda b: b.high)
    lo_bar = min(bars, key=lambda b: b.low)
    year = [b for b in bars if b.start.year == st.day.year] or bars
    listed = stock.listed_shares
    out = {
        "stk_cd": body["stk_cd"],
        "stk_nm": stock.name,
        "setl_mm": "12",
        "fav": "",
        "cap": "",
        "flo_stk": str(listed // 1000),
        "crd_rt": "0.00",
        "oyr_hgst": f.signed(max(b.high for b in year), base),
        "oyr_lwst": f.signed(min(b.low for b in year), base),
        "mac": str(st.last * listed // 100_000_000),
        "mac_wght": "",
        "for_exh_rt": "0.00",
        "repl_pric": str(krx.round_to_tick(base * 7 // 10, "down")),
        "per": "",
        "eps": "",
        "roe": "",
        "pbr": "",
        "ev": "",
        "bps": "",
        "sale_amt": "0",
        "bus_pro": "0",
        "cup_nga": "0",
        "250hgst": f.signed(hi_bar.high, base),
        "250lwst": f.signed(lo_bar.low, base),
        "high_pric": f.signed(st.high, base),
        "open_pric": f.signed(st.open, base),
        "low_pric": f.signed(st.low, base),
        "upl_pric": f.signed(st.upper, base),
        "lst_pric": f.signed(st.lower, base),
        "base_pric": str(base),
        "exp_cntr_pric": "0",
        "exp_cntr_qty": "0",
        "250hgst_pric_dt": f.ymd(hi_bar.start),
        "250hgst_pric_pre_rt": f.rate(st.last, hi_bar.high),
        "250lwst_pric_dt": f.ymd(lo_bar.start),
        "250lwst_pric_pre_rt": f.rate(st.last, lo_bar.low),
        **_quote_fields(st),
        "pre_sig": f.sign_code(st.last, base, st.lower, st.upper),
        "trde_qty": str(st.cum_volume),
        "trde_pre": f.rate(st.cum_volume, st.prev_volume),
        "fav_unit": "원",
        "dstr_stk": str(listed * 3 // 4000),
        "dstr_rt": "75.00",
    }
    return Result(out)


def h_ka10004(ctx: _Ctx, body: Body) -> Result:
    """ka10004 주식호가요청 (mind the ``fpr`` / ``2th`` / ``3th`` spelling)."""
    stock, _ = ctx.stock(body["stk_cd"])
    st = ctx.market.state(stock.code)
    base = st.base_price
    out: Row = {"bid_req_base_tm": f.hhmmss(st.last_trade_time or ctx.sim.now)}
    for side, levels in (("sel", st.asks), ("buy", st.bids)):
        for n in range(1, 11):
            price, qty = (levels[n - 1].price, levels[n - 1].qty) if n <= len(levels) else (0, 0)
            if n == 1:
                out[f"{side}_fpr_bid"] = f.signed(price, base)
                out[f"{side}_fpr_req"] = str(qty)
            else:
                out[f"{side}_{n}th_pre_bid"] = f.signed(price, base)
                out[f"{side}_{n}th_pre_req"] = str(qty)
            out[f"{side}_{n}th_pre_req_pre"] = "0"
    out["tot_sel_req"] = str(sum(lv.qty for lv in st.asks))
    out["tot_buy_req"] = str(sum(lv.qty for lv in st.bids))
    out["tot_sel_req_jub_pre"] = "0"
    out["tot_buy_req_jub_pre"] = "0"
    for k in ("ovt_sel_req", "ovt_buy_req", "ovt_sel_req_pre", "ovt_buy_req_pre"):
        out[k] = "0"
    return Result(out)


_MARKETS_BY_TP = {"0": ("KOSPI",), "10": ("KOSDAQ", "KOSDAQ GLOBAL"), "50": ("KONEX",)}
_MARKET_NAMES = {"0": "거래소", "10": "코스닥", "50": "코넥스"}


def _size_names(stocks: list[Stock]) -> dict[str, str]:
    ranked = sorted(stocks, key=lambda s: -s.marcap)
    return {
        s.code: "대형주" if i < 100 else ("중형주" if i < 300 else "소형주")
        for i, s in enumerate(ranked)
    }


def h_ka10099(ctx: _Ctx, body: Body) -> Result:
    """ka10099 종목정보 리스트 (camelCase fields, zero-padded listCount/lastPrice)."""
    tp = str(body["mrkt_tp"]).strip()
    markets = _MARKETS_BY_TP.get(tp, ())
    stocks = [s for s in ctx.sim.universe if s.market in markets]
    sizes = _size_names(stocks)
    rows = [
        {
            "code": s.code,
            "name": s.name,
            "listCount": f.pad(s.listed_shares, 16),
            "auditInfo": "정상",
            "regDay": "20000101",
            "lastPrice": f.pad(s.base_price, 8),
            "state": "증거금40%|담보대출|신용가능",
            "marketCode": tp,
            "marketName": _MARKET_NAMES.get(tp, ""),
            "upName": s.sector,
            "upSizeName": sizes[s.code],
            "companyClassName": s.dept if tp == "10" else "",
            "orderWarning": "0",
            "nxtEnable": "Y" if s.nxt else "N",
        }
        for s in stocks
    ]
    return Result({}, "list", rows, OK_MSG)


def h_ka10101(ctx: _Ctx, body: Body) -> Result:
    """ka10101 업종코드 리스트."""
    tp = str(body["mrkt_tp"]).strip()
    rows = [
        {"marketCode": tp, "code": ix.code, "name": ix.name, "group": ix.code[-1]}
        for ix in INDEXES
        if ix.market_tp == tp
    ]
    return Result({}, "list", rows, OK_MSG)


def _fmt_index(value: Decimal, base: Decimal) -> str:
    v = value.quantize(Decimal("0.01"))
    return f"+{v}" if value > base else (f"-{v}" if value < base else f" {v}")


def h_ka20001(ctx: _Ctx, body: Body) -> Result:
    """ka20001 업종현재가요청: cap-weighted level of the index's members (decimal)."""
    tp, code = str(body["mrkt_tp"]).strip(), str(body["inds_cd"]).strip()
    ix = next((i for i in INDEXES if i.code == code and i.market_tp == tp), None)
    if ix is None:
        raise input_error(f"1901:시장 코드값이 존재하지 않습니다. 업종코드={code}")
    members = ix.members(ctx.sim.universe)
    ref = cur = prev = Decimal(0)
    up = down = flat = upl = lst = traded = volume = value = 0
    for s in members:
        st = ctx.market.peek(s.code)  # untouched stocks sit at their base price
        last, base = (st.last, st.base_price) if st else (s.base_price, s.base_price)
        ref += s.listed_shares * s.base_price
        cur += s.listed_shares * last
        prev += s.listed_shares * base
        if st:
            volume += st.cum_volume
            value += st.cum_value_krw
            traded += 1 if st.cum_volume else 0
            upl += 1 if last >= st.upper else 0
            lst += 1 if last <= st.lower else 0
        up += last > base
        down += last < base
        flat += last == base
    level = ix.base_level * cur / ref
    prev_level = ix.base_level * prev / ref
    diff = (level - prev_level).quantize(Decimal("0.01"))
    cur_s = _fmt_index(level, prev_level)
    sig = "2" if diff > 0 else ("5" if diff < 0 else "3")
    pre = f"+{diff}" if diff > 0 else (str(diff) if diff < 0 else " 0.00")
    rt = f.percent((level - prev_level) * 100 / prev_level) if prev_level else "0.00"
    now = ctx.sim.now
    out: Body = {
        "cur_prc": cur_s,
        "pred_pre_sig": sig,
        "pred_pre": pre,
        "flu_rt": rt,
        "trde_qty": str(volume // 1000),
        "trde_prica": str(value // 1_000_000),
        "trde_frmatn_stk_num": str(traded),
        "trde_frmatn_rt": f.percent(Decimal(traded * 100) / max(1, len(members)), sign=False),
        "open_pric": _fmt_index(prev_level, prev_level),
        "high_pric": _fmt_index(max(level, prev_level), prev_level),
        "low_pric": _fmt_index(min(level, prev_level), prev_level),
        "upl": str(upl),
        "rising": str(up),
        "stdns": str(flat),
        "fall": str(down),
        "lst": str(lst),
        "52wk_hgst_pric": _fmt_index(max(level, prev_level), prev_level),
        "52wk_hgst_pric_dt": f.ymd(now),
        "52wk_hgst_pric_pre_rt": "0.00",
        "52wk_lwst_pric": _fmt_index(min(level, prev_level), prev_level),
        "52wk_lwst_pric_dt": f.ymd(now),
        "52wk_lwst_pric_pre_rt": "0.00",
        "inds_cur_prc_tm": [
            {
                "tm_n": f.hhmmss(now),
                "cur_prc_n": cur_s,
                "pred_pre_sig_n": sig,
                "pred_pre_n": pre,
                "flu_rt_n": rt,
                "trde_qty_n": "0",
                "acc_trde_qty_n": str(volume // 1000),
            }
        ],
    }
    return Result(out)


def h_ka10032(ctx: _Ctx, body: Body) -> Result:
    """ka10032 거래대금상위요청 (``trde_prica`` in 백만원)."""
    tp = str(body["mrkt_tp"]).strip()
    markets = {"000": ("KOSPI", "KOSDAQ", "KOSDAQ GLOBAL"), "001": ("KOSPI",)}.get(
        tp, ("KOSDAQ", "KOSDAQ GLOBAL")
    )
    nxt_only = str(body["stex_tp"]).strip() == "2"
    stocks = [s for s in ctx.sim.universe if s.market in markets and (s.nxt or not nxt_only)]
    states = [ctx.market.state(s.code) for s in stocks]
    prev_rank = {
        st.stock.code: i + 1
        for i, st in enumerate(sorted(states, key=lambda x: -x.prev_volume * x.base_price))
    }
    ranked = sorted(states, key=lambda x: (-x.cum_value_krw, x.stock.code))
    rows = []
    for i, st in enumerate(ranked):
        base = st.base_price
        rows.append(
            {
                "stk_cd": st.stock.code,
                "now_rank": str(i + 1),
                "pred_rank": str(prev_rank[st.stock.code]),
                "stk_nm": st.stock.name,
                **_quote_fields(st),
                "pred_pre_sig": f.sign_code(st.last, base, st.lower, st.upper),
                "sel_bid": f.signed(st.best_ask, base),
                "buy_bid": f.signed(st.best_bid, base),
                "now_trde_qty": str(st.cum_volume),
                "pred_trde_qty": str(st.prev_volume),
                "trde_prica": str(st.cum_value_krw // 1_000_000),
            }
        )
    return Result({}, "trde_prica_upper", rows)


def _bar_row(bar: Bar, base: int, cntr_tm: str, *, signed_prices: bool = True) -> Row:
    sp = (lambda p: f.signed(p, base)) if signed_prices else str
    return {
        "cur_prc": sp(bar.close),
        "trde_qty": str(bar.volume),
        "cntr_tm": cntr_tm,
        "open_pric": sp(bar.open),
        "high_pric": sp(bar.high),
        "low_pric": sp(bar.low),
        "pred_pre": f.change(bar.close - base),
        "pred_pre_sig": f.sign_code(bar.close, base),
    }


def _scope(body: Body, allowed: tuple[int, ...]) -> int:
    scope = _int_field(body, "tic_scope")
    if scope not in allowed:
        raise input_error(f"1517:입력값 형식 오류(tic_scope, {scope})")
    return scope


def h_ka10079(ctx: _Ctx, body: Body) -> Result:
    """ka10079 주식틱차트조회요청: groups of ``tic_scope`` trades, newest first."""
    stock, _ = ctx.stock(body["stk_cd"])
    scope = _scope(body, (1, 3, 5, 10, 30))
    st = ctx.market.state(stock.code)
    trades = list(st.trades)
    rows: list[Row] = []
    last_cnt = 0
    for i in range(0, len(trades), scope):
        group = trades[i : i + scope]
        prices = [t.price for t in group]
        bar = Bar(
            start=group[0].time,
            open=prices[0],
            high=max(prices),
            low=min(prices),
            close=prices[-1],
            volume=sum(abs(t.volume) for t in group),
            value=sum(t.price * abs(t.volume) for t in group),
            trade_count=len(group),
        )
        rows.append(_bar_row(bar, st.base_price, f.ymdhms(group[-1].time)))
        last_cnt = len(group)
    rows.reverse()
    return Result(
        {"stk_cd": body["stk_cd"], "last_tic_cnt": str(last_cnt)}, "stk_tic_chart_qry", rows
    )


def h_ka10080(ctx: _Ctx, body: Body) -> Result:
    """ka10080 주식분봉차트조회요청: ``cntr_tm`` labels the bar's **end** (PROTOCOL §4.4
    hints so: a 13:19 bar is labelled 132000)."""
    stock, _ = ctx.stock(body["stk_cd"])
    scope = _scope(body, (1, 3, 5, 10, 15, 30, 45, 60))
    base_dt = str(body.get("base_dt") or "").strip()
    st = ctx.market.state(stock.code)
    merged: list[Bar] = []
    for b in st.minute_bars:
        if base_dt and f.ymd(b.start) > base_dt:
            continue
        minute_of_day = b.start.hour * 60 + b.start.minute
        start = b.start.replace(hour=0, minute=0) + _minutes(minute_of_day - minute_of_day % scope)
        if merged and merged[-1].start == start:
            m = merged[-1]
            m.high, m.low, m.close = max(m.high, b.high), min(m.low, b.low), b.close
            m.volume += b.volume
            m.value += b.value
            m.trade_count += b.trade_count
            m.cum_volume = b.cum_volume
        else:
            merged.append(dataclasses.replace(b, start=start))
    rows = []
    for b in reversed(merged):
        row = _bar_row(b, st.base_price, f.ymdhms(b.start + _minutes(scope)))
        row["acc_trde_qty"] = str(b.cum_volume)
        rows.append(row)
    return Result({"stk_cd": body["stk_cd"]}, "stk_min_pole_chart_qry", rows)


def _minutes(n: int) -> Any:
    from datetime import timedelta

    return timedelta(minutes=n)


def h_ka10081(ctx: _Ctx, body: Body) -> Result:
    """ka10081 주식일봉차트조회요청: days up to ``base_dt``, newest first (unsigned OHLC
    as in the guide's examples; ``trde_prica`` in 백만원)."""
    stock, _ = ctx.stock(body["stk_cd"])
    base_dt = str(body["base_dt"]).strip()
    if len(base_dt) != 8 or not base_dt.isdigit():
        raise input_error("1517:입력값 형식 오류(base_dt, YYYYMMDD)")
    rows = []
    for b in reversed(ctx.market.daily_bars(stock.code)):
        if f.ymd(b.start) > base_dt:
            continue
        rows.append(
            {
                "cur_prc": str(b.close),
                "trde_qty": str(b.volume),
                "trde_prica": str(b.value // 1_000_000),
                "dt": f.ymd(b.start),
                "open_pric": str(b.open),
                "high_pric": str(b.high),
                "low_pric": str(b.low),
                "pred_pre": f.change(b.close - b.base_price),
                "pred_pre_sig": f.sign_code(b.close, b.base_price),
                "trde_tern_rt": f.percent(Decimal(b.volume * 100) / max(1, stock.listed_shares)),
            }
        )
    return Result({"stk_cd": body["stk_cd"]}, "stk_dt_pole_chart_qry", rows)


# --- orders -----------------------------------------------------------------------------


def _venue(body: Body) -> str:
    venue = str(body["dmst_stex_tp"]).strip().upper()
    if venue not in ("KRX", "NXT", "SOR"):
        raise input_error(f"1517:입력값 형식 오류(dmst_stex_tp, {venue})")
    return venue


def _order_no(body: Body) -> str:
    raw = str(body["orig_ord_no"]).strip()
    if not raw.isdigit():
        raise input_error("1517:입력값 형식 오류(orig_ord_no, 숫자만 입력 가능합니다)")
    return raw.zfill(7)


def _place(side: Side) -> Handler:
    def handler(ctx: _Ctx, body: Body) -> Result:
        venue = _venue(body)
        stock, _ = ctx.stock(body["stk_cd"])
        qty = _int_field(body, "ord_qty")
        trade_type = str(body["trde_tp"]).strip()
        price = 0
        known = trade_type in OrderType._value2member_map_  # unknown: the broker refuses it
        if not known or OrderType(trade_type).needs_price:
            if not str(body.get("ord_uv", "")).strip():
                raise input_error("1511:필수입력 파라미터=ord_uv")
            price = _int_field(body, "ord_uv")
        order = ctx.sim.broker.place(
            side=side,
            code=stock.code,
            qty=qty,
            price=price,
            trade_type=trade_type,
            venue=venue,
            now=ctx.sim.now,
        )
        word = "매수" if side == Side.BUY else "매도"
        return Result(
            {"ord_no": order.ord_no, "dmst_stex_tp": venue}, message=f"{word}주문이 완료되었습니다."
        )

    handler.__doc__ = (
        f"kt1000{0 if side == Side.BUY else 1} 주식 {'매수' if side == Side.BUY else '매도'}주문."
    )
    return handler


def h_kt10002(ctx: _Ctx, body: Body) -> Result:
    """kt10002 주식 정정주문: new ``ord_no``; ``base_orig_ord_no`` is the chain's root."""
    venue = _venue(body)
    stock, _ = ctx.stock(body["stk_cd"])
    qty = _int_field(body, "mdfy_qty", allow_zero=True)
    price = _int_field(body, "mdfy_uv")
    new = ctx.sim.broker.modify(
        orig_ord_no=_order_no(body), code=stock.code, qty=qty, price=price, now=ctx.sim.now
    )
    word = "매수" if new.side == Side.BUY else "매도"
    return Result(
        {
            "ord_no": new.ord_no,
            "base_orig_ord_no": new.root_ord_no,
            "mdfy_qty": f.pad(new.qty, 12),
            "dmst_stex_tp": venue,
        },
        message=f"{word}정정 주문입력이 완료되었습니다",
    )


def h_kt10003(ctx: _Ctx, body: Body) -> Result:
    """kt10003 주식 취소주문: ``cncl_qty`` "0" cancels everything still open."""
    _venue(body)
    stock, _ = ctx.stock(body["stk_cd"])
    qty = _int_field(body, "cncl_qty", allow_zero=True)
    rec = ctx.sim.broker.cancel(
        orig_ord_no=_order_no(body), code=stock.code, qty=qty, now=ctx.sim.now
    )
    word = "매수" if rec.side == Side.BUY else "매도"
    return Result(
        {"ord_no": rec.ord_no, "base_orig_ord_no": rec.root_ord_no, "cncl_qty": f.pad(rec.qty, 12)},
        message=f"{word}취소 주문입력이 완료되었습니다",
    )


# --- account ----------------------------------------------------------------------------

_STEX = {"KRX": ("1", "KRX", "N"), "NXT": ("2", "NXT", "N"), "SOR": ("0", "통합", "Y")}


def _io_name(o: Order) -> str:
    word = "매수" if o.side == Side.BUY else "매도"
    sign = "+" if o.side == Side.BUY else "-"
    suffix = {"new": "", "modify": "정정", "cancel": "취소"}[o.kind]
    return f"{sign}{word}{suffix}"


def _filter_orders(ctx: _Ctx, body: Body, side_key: str, one_key: str) -> list[Order]:
    side_tp = str(body.get(side_key, "0")).strip()
    one = str(body.get(one_key, "0")).strip() == "1"
    code = ""
    if one:
        if not str(body.get("stk_cd", "")).strip():
            raise input_error("1511:필수입력 파라미터=stk_cd")
        code = ctx.stock(body["stk_cd"])[0].code
    orders = sorted(ctx.sim.broker.account.orders.values(), key=lambda o: o.ord_no, reverse=True)
    return [
        o
        for o in orders
        if (not code or o.code == code)
        and (side_tp == "0" or (side_tp == "1") == (o.side == Side.SELL))
    ]


def h_ka10075(ctx: _Ctx, body: Body) -> Result:
    """ka10075 미체결요청: open orders, newest first."""
    rows = []
    for o in _filter_orders(ctx, body, "trde_tp", "all_stk_tp"):
        if o.open_qty <= 0 or o.kind == "cancel":
            continue
        st = ctx.market.state(o.code)
        stex, stex_txt, sor = _STEX[o.venue]
        rows.append(
            {
                "acnt_no": o.account,
                "ord_no": o.ord_no,
                "mang_empno": "",
                "stk_cd": o.code,
                "tsk_tp": "",
                "ord_stt": o.status,
                "stk_nm": o.name,
                "ord_qty": str(o.qty),
                "ord_pric": str(o.price),
                "oso_qty": str(o.open_qty),
                "cntr_tot_amt": str(o.filled_value),
                "orig_ord_no": o.orig_ord_no,
                "io_tp_nm": _io_name(o),
                "trde_tp": o.trade_type.label,
                "tm": f.hhmmss(o.time),
                "cntr_no": o.last_fill_no,
                "cntr_pric": str(o.last_fill_price) if o.filled_qty else "",
                "cntr_qty": str(o.filled_qty),
                "cur_prc": f.signed(st.last, st.base_price),
                "sel_bid": f.signed(st.best_ask, st.base_price),
                "buy_bid": f.signed(st.best_bid, st.base_price),
                "unit_cntr_pric": str(o.last_fill_price) if o.filled_qty else "",
                "unit_cntr_qty": str(o.last_fill_qty) if o.filled_qty else "",
                "tdy_trde_cmsn": str(o.commission),
                "tdy_trde_tax": str(o.tax),
                "ind_invsr": "0",
                "stex_tp": stex,
                "stex_tp_txt": stex_txt,
                "sor_yn": sor,
                "stop_pric": "",
            }
        )
    return Result({}, "oso", rows)


def h_ka10076(ctx: _Ctx, body: Body) -> Result:
    """ka10076 체결요청: orders with fills, newest first (``ord_no``: only older ones)."""
    before = str(body.get("ord_no", "")).strip()
    rows = []
    for o in _filter_orders(ctx, body, "sell_tp", "qry_tp"):
        if o.filled_qty <= 0 or (before and o.ord_no >= before.zfill(7)):
            continue
        stex, stex_txt, sor = _STEX[o.venue]
        rows.append(
            {
                "ord_no": o.ord_no,
                "stk_nm": o.name,
                "io_tp_nm": _io_name(o),
                "ord_pric": str(o.price),
                "ord_qty": str(o.qty),
                "cntr_pric": str(o.filled_value // o.filled_qty),
                "cntr_qty": str(o.filled_qty),
                "oso_qty": str(o.open_qty),
                "tdy_trde_cmsn": str(o.commission),
                "tdy_trde_tax": str(o.tax),
                "ord_stt": "체결",
                "trde_tp": o.trade_type.label,
                "orig_ord_no": o.orig_ord_no,
                "ord_tm": f.hhmmss(o.time),
                "stk_cd": o.code,
                "stex_tp": stex,
                "stex_tp_txt": stex_txt,
                "sor_yn": sor,
                "stop_pric": "",
            }
        )
    return Result({}, "cntr", rows)


def h_kt00018(ctx: _Ctx, body: Body) -> Result:
    """kt00018 계좌평가잔고내역요청: ``A``-prefixed codes, 15-digit amounts, 12-digit prices."""
    broker = ctx.sim.broker
    acct = broker.account
    held = [h for h in acct.holdings.values() if h.qty > 0]
    rows: list[Row] = []
    tot_pur = tot_eval = 0
    evals = {h.code: h.qty * ctx.market.state(h.code).last for h in held}
    total_eval = sum(evals.values()) or 1
    for h in sorted(held, key=lambda h: h.code):
        st = ctx.market.state(h.code)
        evlt = evals[h.code]
        sell_cmsn = broker._cost(evlt)
        tax = broker._tax(evlt)
        pl = evlt - h.purchase_amount
        tot_pur += h.purchase_amount
        tot_eval += evlt
        rows.append(
            {
                "stk_cd": "A" + h.code,
                "stk_nm": h.name,
                "evltv_prft": f.pad(pl, 15),
                "prft_rt": f.rate(evlt, h.purchase_amount, sign=False),
                "pur_pric": f.pad(h.avg_price, 12),
                "pred_close_pric": f.pad(st.base_price, 12),
                "rmnd_qty": f.pad(h.qty, 15),
                "trde_able_qty": f.pad(h.qty - acct.reserved_qty(h.code), 15),
                "cur_prc": f.pad(st.last, 12),
                "pred_buyq": f.pad(0, 15),
                "pred_sellq": f.pad(0, 15),
                "tdy_buyq": f.pad(h.today_buy_qty, 15),
                "tdy_sellq": f.pad(h.today_sell_qty, 15),
                "pur_amt": f.pad(h.purchase_amount, 15),
                "pur_cmsn": f.pad(h.purchase_commission, 15),
                "evlt_amt": f.pad(evlt, 15),
                "sell_cmsn": f.pad(sell_cmsn, 15),
                "tax": f.pad(tax, 15),
                "sum_cmsn": f.pad(h.purchase_commission + sell_cmsn, 15),
                "poss_rt": f.percent(Decimal(evlt * 100) / total_eval, sign=False),
                "crd_tp": "00",
                "crd_tp_nm": "",
                "crd_loan_dt": "",
            }
        )
    top = {
        "tot_pur_amt": f.pad(tot_pur, 15),
        "tot_evlt_amt": f.pad(tot_eval, 15),
        "tot_evlt_pl": f.pad(tot_eval - tot_pur, 15),
        "tot_prft_rt": f.rate(tot_eval, tot_pur, sign=False),
        "prsm_dpst_aset_amt": f.pad(acct.cash + tot_eval, 15),
        "tot_loan_amt": f.pad(0, 15),
        "tot_crd_loan_amt": f.pad(0, 15),
        "tot_crd_ls_amt": f.pad(0, 15),
    }
    return Result(top, "acnt_evlt_remn_indv_tot", rows)


KT00001_KEYS = [
    "entr",
    "profa_ch",
    "bncr_profa_ch",
    "nxdy_bncr_sell_exct",
    "fc_stk_krw_repl_set_amt",
    "crd_grnta_ch",
    "crd_grnt_ch",
    "add_grnt_ch",
    "etc_profa",
    "uncl_stk_amt",
    "shrts_prica",
    "crd_set_grnta",
    "chck_ina_amt",
    "etc_chck_ina_amt",
    "crd_grnt_ruse",
    "knx_asset_evltv",
    "elwdpst_evlta",
    "crd_ls_rght_frcs_amt",
    "lvlh_join_amt",
    "lvlh_trns_alowa",
    "repl_amt",
    "remn_repl_evlta",
    "trst_remn_repl_evlta",
    "bncr_remn_repl_evlta",
    "profa_repl",
    "crd_grnta_repl",
    "crd_grnt_repl",
    "add_grnt_repl",
    "rght_repl_amt",
    "pymn_alow_amt",
    "wrap_pymn_alow_amt",
    "ord_alow_amt",
    "bncr_buy_alowa",
    "20stk_ord_alow_amt",
    "30stk_ord_alow_amt",
    "40stk_ord_alow_amt",
    "100stk_ord_alow_amt",
    "ch_uncla",
    "ch_uncla_dlfe",
    "ch_uncla_tot",
    "crd_int_npay",
    "int_npay_amt_dlfe",
    "int_npay_amt_tot",
    "etc_loana",
    "etc_loana_dlfe",
    "etc_loan_tot",
    "nrpy_loan",
    "loan_sum",
    "ls_sum",
    "crd_grnt_rt",
    "mdstrm_usfe",
    "min_ord_alow_yn",
    "loan_remn_evlt_amt",
    "dpst_grntl_remn",
    "sell_grntl_remn",
    "d1_entra",
    "d1_slby_exct_amt",
    "d1_buy_exct_amt",
    "d1_out_rep_mor",
    "d1_sel_exct_amt",
    "d1_pymn_alow_amt",
    "d2_entra",
    "d2_slby_exct_amt",
    "d2_buy_exct_amt",
    "d2_out_rep_mor",
    "d2_sel_exct_amt",
    "d2_pymn_alow_amt",
    "50stk_ord_alow_amt",
    "60stk_ord_alow_amt",
]


def h_kt00001(ctx: _Ctx, body: Body) -> Result:
    """kt00001 예수금상세현황요청: every documented key, 15-digit zero-padded."""
    acct = ctx.sim.broker.account
    orderable = acct.orderable_cash
    values = dict.fromkeys(KT00001_KEYS, 0)
    values.update(
        entr=acct.cash,
        profa_ch=acct.reserved_cash,
        pymn_alow_amt=orderable,
        ord_alow_amt=orderable,
        d1_entra=acct.cash,
        d2_entra=acct.cash,
        d1_pymn_alow_amt=orderable,
        d2_pymn_alow_amt=orderable,
    )
    for pct in (20, 30, 40, 50, 60, 100):
        values[f"{pct}stk_ord_alow_amt"] = orderable * 100 // pct
    out: Body = {k: f.pad(v, 15) for k, v in values.items()}
    out["stk_entr_prst"] = []
    return Result(out)


HANDLERS: dict[str, Handler] = {
    "ka10001": h_ka10001,
    "ka10004": h_ka10004,
    "ka10099": h_ka10099,
    "ka10101": h_ka10101,
    "ka10032": h_ka10032,
    "ka10079": h_ka10079,
    "ka10080": h_ka10080,
    "ka10081": h_ka10081,
    "ka20001": h_ka20001,
    "kt10000": _place(Side.BUY),
    "kt10001": _place(Side.SELL),
    "kt10002": h_kt10002,
    "kt10003": h_kt10003,
    "ka10075": h_ka10075,
    "ka10076": h_ka10076,
    "kt00018": h_kt00018,
    "kt00001": h_kt00001,
}


# --- admin hooks (/_sim/*): input ------------------------------------------------------
#
# Every admin input is validated as a whole before anything is applied, so a refused
# request changes nothing. A refusal is HTTP 422 in the simulator's error envelope plus
# ``error``/``detail``/``field``; it names the field and never echoes the input back.

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


class AdminInputError(KiwoomError):
    """A refused ``/_sim/*`` request: HTTP 422, rc 2, naming the offending field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.detail = f"{field}: {problem}"
        super().__init__(2, f"입력 값 오류입니다[{self.detail}]", status=422)


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


# --- HTTP plumbing ----------------------------------------------------------------------


def _envelope(body: Body, code: int, msg: str) -> Body:
    return {**body, "return_code": code, "return_msg": msg}


def _error_response(err: KiwoomError, api_id: str = "") -> JSONResponse:
    headers = {"api-id": api_id} if api_id else {}
    body: Body = {"return_code": err.return_code, "return_msg": err.message}
    if isinstance(err, AdminInputError):
        body.update(error="InvalidAdminInput", detail=err.detail, field=err.field)
    return JSONResponse(body, status_code=err.status, headers=headers)


def _rate_limited(api_id: str, per_s: float) -> KiwoomError:
    n = int(per_s) if per_s == int(per_s) else per_s
    text = "허용된 요청 개수를 초과하였습니다"
    msg = f"{text}[1700:{text}. 유량={n}, API ID={api_id}]"
    return KiwoomError(5, msg, status=429)


async def _json_body(request: Request) -> Body:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise input_error("1517:입력값 형식 오류(body, JSON 형식이 아닙니다)") from None
    if not isinstance(data, dict):
        raise input_error("1517:입력값 형식 오류(body, JSON 객체가 아닙니다)")
    return data


class _Pages:
    """Snapshots of listed rows for continuation requests (bounded LRU)."""

    def __init__(self, size: int = 256) -> None:
        self._snaps: OrderedDict[str, list[Row]] = OrderedDict()
        self._size = size

    def put(self, rows: list[Row]) -> str:
        key = secrets.token_hex(8)
        self._snaps[key] = rows
        while len(self._snaps) > self._size:
            self._snaps.popitem(last=False)
        return key

    def get(self, key: str) -> list[Row] | None:
        return self._snaps.get(key)


def create_app(sim: Simulator) -> Starlette:
    """The simulator's ASGI app (Starlette). Serve it with uvicorn, or test it with
    ``starlette.testclient.TestClient``. The ticker runs from the lifespan when
    ``sim.config.ticker`` is set."""
    pages = _Pages()
    paths = api_paths()

    async def delay() -> None:
        if sim.faults.delay_ms:
            await asyncio.sleep(sim.faults.delay_ms / 1000)

    async def token(request: Request) -> Response:
        """au10001 접근토큰 발급 (no api-id/authorization header required)."""
        await delay()
        try:
            if not sim.allow("au10001"):
                raise _rate_limited("au10001", sim.config.rate_for("au10001"))
            body = await _json_body(request)
            grant = str(body.get("grant_type", "")).strip()
            if not grant:
                raise input_error("8011:grant_type이 입력되지 않았습니다.")
            if grant != "client_credentials":
                raise input_error("8012:grant_type이 올바르지 않습니다.")
            app_key = str(body.get("appkey", "")).strip()
            secret = str(body.get("secretkey", "")).strip()
            if not app_key or not secret:
                raise input_error("8020:appkey 또는 secretkey가 입력되지 않았습니다.")
            bad = sim.check_keys(app_key, secret)
            if bad == "8001":
                raise input_error("8001:App Key 검증에 실패했습니다.")
            if bad == "8002":
                raise input_error("8002:Secret Key 검증에 실패했습니다.")
        except KiwoomError as err:
            return _error_response(err, "au10001")
        issued = sim.issue_token(app_key)
        expires = datetime.fromtimestamp(issued.expires_at, krx.KST)
        return JSONResponse(
            _envelope(
                {"expires_dt": f.ymdhms(expires), "token_type": "bearer", "token": issued.token},
                0,
                OK_MSG,
            ),
            headers={"api-id": "au10001"},
        )

    async def revoke(request: Request) -> Response:
        """au10002 접근토큰폐기."""
        await delay()
        try:
            body = await _json_body(request)
            tok = str(body.get("token", "")).strip()
            if not tok:
                raise input_error("8016:폐기할 토큰이 입력되지 않았습니다.")
            if not sim.revoke_token(tok):
                raise input_error("8015:접근토큰 폐기에 실패했습니다.")
        except KiwoomError as err:
            return _error_response(err, "au10002")
        return JSONResponse(_envelope({}, 0, OK_MSG), headers={"api-id": "au10002"})

    async def dostk(request: Request) -> Response:
        await delay()
        path = request.url.path
        api_id = request.headers.get("api-id", "").strip()
        try:
            if not api_id:
                raise input_error("1501:API ID가 입력되지 않았습니다.")
            known_path = paths.get(api_id)
            if known_path is None:
                raise input_error(f"1505:존재하지 않는 API ID 입니다. API ID={api_id}")
            if known_path != path:
                raise input_error(
                    f"1504:해당 URI에서는 지원하지 않는 API ID 입니다. API ID={api_id}"
                )
            if not sim.allow(api_id):
                raise _rate_limited(api_id, sim.config.rate_for(api_id))
            auth = request.headers.get("authorization", "").strip()
            if not auth:
                raise input_error("1513:authorization 헤더가 입력되지 않았습니다.")
            scheme, _, tok = auth.partition(" ")
            if scheme.lower() != "bearer" or not tok.strip():
                raise input_error("1514:authorization 헤더 형식이 올바르지 않습니다.")
            if not sim.token_valid(tok.strip()):
                raise KiwoomError(3, "인증에 실패했습니다[8005:Token이 유효하지 않습니다]")
            handler = HANDLERS.get(api_id)
            if handler is None:
                raise KiwoomError(
                    20, "[2000](RC9000:시뮬레이터에서는 해당업무가 제공되지 않습니다.)"
                )
            body = await _json_body(request)
            for key in REQUIRED.get(api_id, ()):
                if key not in body or str(body[key]).strip() == "":
                    raise input_error(f"1511:필수입력 파라미터={key}")
            cont = request.headers.get("cont-yn", "").strip().upper() == "Y"
            next_key = request.headers.get("next-key", "").strip()
            with sim.lock:
                try:
                    result = handler(_Ctx(sim), body)
                except OrderRejected as rej:
                    raise KiwoomError(20, rej.message) from None
                finally:
                    if api_id.startswith("kt1"):
                        sim.flush()  # an order's 00/04/0B/0D go out right away
        except KiwoomError as err:
            return _error_response(err, api_id)
        headers = {"api-id": api_id, "cont-yn": "N", "next-key": ""}
        out = dict(result.body)
        if result.list_key is not None:
            rows = result.rows or []
            offset = 0
            if cont and next_key:
                snap_id, _, off = next_key.partition("-")
                snap = pages.get(snap_id)
                if snap is None or not off.isdigit():
                    return _error_response(
                        input_error(
                            "1517:입력값 형식 오류(next-key, 만료되었거나 잘못된 값입니다)"
                        ),
                        api_id,
                    )
                rows, offset = snap, int(off)
            size = sim.config.page_size(api_id)
            out[result.list_key] = rows[offset : offset + size]
            if offset + size < len(rows):
                snap_id = next_key.partition("-")[0] if cont and next_key else pages.put(rows)
                headers["cont-yn"] = "Y"
                headers["next-key"] = f"{snap_id}-{offset + size}"
        return JSONResponse(_envelope(out, 0, result.message), headers=headers)

    async def faults(request: Request) -> Response:
        """``POST /_sim/faults`` (all keys optional)::

            {"expire_tokens": true, "rate_limit_storm_s": 5, "delay_ms": 200,
             "drop_connections": true, "stall": true | false | 3.5, "garbage": 4,
             "reject_login": 2}

        ``stall``: true = WebSocket sessions get nothing (no PING, no data) until
        ``"stall": false``; a number = stall that many seconds (0 = no stall). Ranges:
        ``rate_limit_storm_s`` and ``stall`` 0..3600 s, ``delay_ms`` 0..60,000,
        ``garbage`` 0..1000 frames, ``reject_login`` 0..1000; bools are JSON bools.
        Anything else is refused (422, nothing changed). Answers the state plus
        ``ws_faults`` (how many sessions each fault hit)."""
        try:
            req = _admin_input(FaultsInput, await _admin_body(request))
        except AdminInputError as err:
            return _error_response(err)
        stall = req.stall
        if not isinstance(stall, bool) and stall == 0:
            stall = None  # the hub would read a bare 0 as "stall until told otherwise"
        sim.set_faults(
            expire_tokens=req.expire_tokens,
            rate_limit_storm_s=req.rate_limit_storm_s,
            delay_ms=req.delay_ms,
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
            return _error_response(err)
        with sim.lock:
            sim.set_rate(value)
            if "codes" in req.model_fields_set:
                sim.market.set_trade_codes(codes)
        return JSONResponse({"trades_per_s": sim.market.trades_per_s})

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
            return _error_response(err)
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

    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if sim.config.ticker:
            sim.start()
        try:
            yield
        finally:
            sim.stop()

    routes = [
        Route("/oauth2/token", token, methods=["POST"]),
        Route("/oauth2/revoke", revoke, methods=["POST"]),
        Route("/api/dostk/{group:str}", dostk, methods=["POST"]),
        Route("/_sim/faults", faults, methods=["POST"]),
        Route("/_sim/state", state, methods=["GET"]),
        Route("/_sim/rate", rate, methods=["POST"]),
        Route("/_sim/ground-truth", ground_truth, methods=["GET"]),
        Route("/_sim/trades", ground_truth, methods=["GET"]),
        WebSocketRoute("/api/dostk/websocket", sim.ws_hub.endpoint),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
