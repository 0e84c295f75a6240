"""REST handlers of charts: tick (ka10079), minute (ka10080) and daily (ka10081) bars,
newest first."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from gslts_kiwoom.models import Bar
from gslts_kiwoom.sim import _fmt as f
from gslts_kiwoom.sim._app_base import Body, Ctx, Handler, Result, Row, input_error, int_field
from gslts_kiwoom.sim._stock import SimStock


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
    """ka10079 주식틱차트조회요청: groups of ``tic_scope`` trades, newest first.

    One trade a row (``tic_scope`` 1, what a gap backfill reads) is paged by itself: a
    page costs its 900 rows, not the whole kept history (a snapshot of which used to be
    rebuilt under the simulator's lock for every page, stalling the market while a client
    paged), and its ``next-key`` is the number of the next older trade, which newer
    trades do not shift. Larger scopes are grouped from the oldest kept trade and paged
    from a snapshot."""
    stock, _ = ctx.stock(body["stk_cd"])
    scope = _scope(body, (1, 3, 5, 10, 30))
    st = ctx.market.state(stock.code)
    if scope == 1:
        return _tick_page(ctx, body, st)
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


def _tick_page(ctx: Ctx, body: Body, st: SimStock) -> Result:
    start: int | None = None
    if ctx.cont_key:
        if not ctx.cont_key.isdigit():
            raise input_error("1517:입력값 형식 오류(next-key, 만료되었거나 잘못된 값입니다)")
        start = int(ctx.cont_key)
    size = ctx.page_size("ka10079")
    base = st.base_price
    rows: list[Row] = []
    next_key = ""
    for number, time, price, qty in st.trades.newest_first(start):
        if len(rows) == size:
            next_key = str(number)
            break
        bar = Bar(
            start=time,
            open=price,
            high=price,
            low=price,
            close=price,
            volume=qty,
            value=price * qty,
            trade_count=1,
        )
        rows.append(_bar_row(bar, base, f.ymdhms(time)))
    return Result(
        {"stk_cd": body["stk_cd"], "last_tic_cnt": "1" if rows else "0"},
        "stk_tic_chart_qry",
        rows,
        paged=True,
        next_key=next_key,
    )


def _merge(bars: list[Bar], scope: int) -> list[Bar]:
    """1-minute bars (oldest first) folded into bars of ``scope`` minutes, aligned on
    midnight (a 5-minute bar starts at :00, :05, …)."""
    merged: list[Bar] = []
    for b in bars:
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
    return merged


def _ymd_field(body: Body, key: str) -> str:
    raw = str(body.get(key) or "").strip()
    if raw and (len(raw) != 8 or not raw.isdigit()):
        raise input_error(f"1517:입력값 형식 오류({key}, YYYYMMDD)")
    return raw


def h_ka10080(ctx: Ctx, body: Body) -> Result:
    """ka10080 주식분봉차트조회요청: bars newest first, today's from the live market, then
    every past session's (:meth:`Market.minute_bars`), from ``base_dt`` (that day and
    earlier) when given. ``cntr_tm`` labels the bar's **end** (PROTOCOL §4.4 hints so: a
    13:19 bar is labelled 132000).

    Paged by itself, ``page_size`` rows a page (900, PROTOCOL §3.2 [T2]): the history is
    too long to snapshot, and a page's ``next-key`` is the ``cntr_tm`` of its last row, the
    next page the rows before it. Past bars never change and new ones only come at the
    newest end, so pages neither overlap nor leave a gap while the market moves.
    """
    stock, _ = ctx.stock(body["stk_cd"])
    scope = _scope(body, (1, 3, 5, 10, 15, 30, 45, 60))
    base_dt = _ymd_field(body, "base_dt")
    cursor = ctx.cont_key
    if cursor and (len(cursor) != 14 or not cursor.isdigit()):
        raise input_error("1517:입력값 형식 오류(next-key, 만료되었거나 잘못된 값입니다)")
    size = ctx.page_size("ka10080")
    market = ctx.market
    rows: list[Row] = []
    more = False
    for day, base in market.minute_days(stock.code):
        ymd = f.ymd_date(day)
        if (base_dt and ymd > base_dt) or (cursor and ymd + "000000" >= cursor):
            continue
        for b in reversed(_merge(market.minute_bars(stock.code, day), scope)):
            cntr_tm = f.ymdhms(b.start + _minutes(scope))
            if cursor and cntr_tm >= cursor:
                continue
            if len(rows) == size:
                more = True
                break
            row = _bar_row(b, base, cntr_tm)
            row["acc_trde_qty"] = str(b.cum_volume)
            rows.append(row)
        if more:
            break
    next_key = rows[-1]["cntr_tm"] if more else ""
    return Result(
        {"stk_cd": body["stk_cd"]}, "stk_min_pole_chart_qry", rows, paged=True, next_key=next_key
    )


def _minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def h_ka10081(ctx: Ctx, body: Body) -> Result:
    """ka10081 주식일봉차트조회요청: days up to ``base_dt``, newest first (unsigned OHLC
    as in the guide's examples; ``trde_prica`` in 백만원)."""
    stock, _ = ctx.stock(body["stk_cd"])
    base_dt = _ymd_field(body, "base_dt")
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
