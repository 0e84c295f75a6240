"""REST handlers of market data: quote (ka10001), book (ka10004), listings (ka10099),
index codes and levels (ka10101, ka20001), the trading-value ranking (ka10032)."""

from __future__ import annotations

from decimal import Decimal

from gslts_kiwoom import krx
from gslts_kiwoom.sim import _fmt as f
from gslts_kiwoom.sim._app_base import OK_MSG, Body, Ctx, Handler, Result, Row, input_error
from gslts_kiwoom.sim._indexes import INDEXES
from gslts_kiwoom.sim._stock import SimStock
from gslts_kiwoom.sim._universe import Stock


def _quote_fields(st: SimStock) -> Row:
    last, base = st.last, st.base_price
    return {
        "cur_prc": f.signed(last, base),
        "pred_pre": f.change(last - base),
        "flu_rt": f.rate(last, base),
    }


def h_ka10001(ctx: Ctx, body: Body) -> Result:
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


def h_ka10004(ctx: Ctx, body: Body) -> Result:
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


def h_ka10099(ctx: Ctx, body: Body) -> Result:
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


def h_ka10101(ctx: Ctx, body: Body) -> Result:
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


def h_ka20001(ctx: Ctx, body: Body) -> Result:
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


def h_ka10032(ctx: Ctx, body: Body) -> Result:
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


MARKET_HANDLERS: dict[str, Handler] = {
    "ka10001": h_ka10001,
    "ka10004": h_ka10004,
    "ka10099": h_ka10099,
    "ka10101": h_ka10101,
    "ka20001": h_ka20001,
    "ka10032": h_ka10032,
}
