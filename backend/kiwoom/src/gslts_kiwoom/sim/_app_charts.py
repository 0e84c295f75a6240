"""REST handlers of charts: tick (ka10079), minute (ka10080) and daily (ka10081) bars,
newest first."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from gslts_kiwoom.models import Bar
from gslts_kiwoom.sim import _fmt as f
from gslts_kiwoom.sim._app_base import Body, Ctx, Handler, Result, Row, input_error, int_field


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
    scope = int_field(body, "tic_scope")
    if scope not in allowed:
        raise input_error(f"1517:입력값 형식 오류(tic_scope, {scope})")
    return scope


def h_ka10079(ctx: Ctx, body: Body) -> Result:
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


def h_ka10080(ctx: Ctx, body: Body) -> Result:
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


def _minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def h_ka10081(ctx: Ctx, body: Body) -> Result:
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


CHART_HANDLERS: dict[str, Handler] = {
    "ka10079": h_ka10079,
    "ka10080": h_ka10080,
    "ka10081": h_ka10081,
}
