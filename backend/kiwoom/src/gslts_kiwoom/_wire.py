"""Kiwoom wire format → Python values and domain models. Every parsing quirk lives here.

Quirks (PROTOCOL.md §3.4): all values are strings; prices carry a sign that is the
*direction* versus the previous close (``"-78800"`` is 78,800 KRW); unchanged values may
start with a space (``" 67300"``); account amounts are zero-padded (``"000000017598258"``,
``"-00000000196888"``); account responses prefix codes with ``A`` (``"A005930"``); times
are ``HHMMSS`` / ``YYYYMMDD`` / ``YYYYMMDDHHMMSS`` in KST; sector chart indices are ×100
integers while ka20001 sends decimals; ka10004 spells levels ``2th``/``3th``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from gslts_kiwoom._errors import ProtocolError
from gslts_kiwoom.krx import KST
from gslts_kiwoom.models import (
    AmendAck,
    Balance,
    BookLevel,
    Candle,
    Cash,
    DailyCandle,
    Direction,
    FilledOrder,
    Holding,
    OpenOrder,
    OrderableQuantity,
    OrderAck,
    OrderBookSnapshot,
    OrderHistoryEntry,
    Quote,
    SectorIndex,
    SectorInfo,
    Side,
    StockInfo,
    TradingValueRank,
)

Body = Mapping[str, Any]

# --------------------------------------------------------------------------------------
# Scalar parsers


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def opt_int(value: object) -> int | None:
    """Signed integer; ``"+600"``→600, ``"-00000000196888"``→-196888, ``""``→None."""
    s = _text(value)
    if not s:
        return None
    try:
        return int(s)
    except ValueError:
        # Some amount fields come with decimals (".00"); accept only whole numbers.
        d = opt_decimal(s)
        if d is None or d != d.to_integral_value():
            raise ProtocolError(f"not an integer: {s!r}") from None
        return int(d)


def to_int(value: object) -> int:
    """Signed integer; empty → 0."""
    v = opt_int(value)
    return 0 if v is None else v


def opt_price(value: object) -> int | None:
    """A price: the sign is the direction, so the value is the absolute; ``""``→None."""
    v = opt_int(value)
    return None if v is None else abs(v)


def price(value: object) -> int:
    """A price (absolute value of the signed string); empty → 0. ``"-78800"``→78800."""
    return abs(to_int(value))


def opt_decimal(value: object) -> Decimal | None:
    """Signed decimal; ``"-0.24"``→Decimal("-0.24"), ``""``→None."""
    s = _text(value)
    if not s:
        return None
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise ProtocolError(f"not a number: {s!r}") from None
    if not d.is_finite():
        raise ProtocolError(f"not a finite number: {s!r}")
    return d


def to_decimal(value: object) -> Decimal:
    """Signed decimal; empty → 0."""
    d = opt_decimal(value)
    return Decimal(0) if d is None else d


def index_x100(value: object) -> Decimal:
    """Sector-chart index sent as ×100 integer: ``"252127"``→Decimal("2521.27")."""
    return Decimal(abs(to_int(value))) / 100


def index_value(value: object) -> Decimal:
    """ka20001 / 0J index sent as signed decimal: ``"-2394.49"``→Decimal("2394.49")."""
    return abs(to_decimal(value))


def stock_code(value: object) -> str:
    """Short code without the account-API ``A`` prefix: ``"A005930"``→``"005930"``."""
    s = _text(value)
    base, sep, suffix = s.partition("_")
    if len(base) == 7 and base[0] == "A":
        # Account APIs send "A" + the 6-char code; plain codes are exactly 6 chars.
        base = base[1:]
    return base + sep + suffix


def parse_date(value: object) -> date | None:
    """``YYYYMMDD`` → date; empty or all zeros → None."""
    s = _text(value)
    if not s or s.strip("0") == "":
        return None
    try:
        return datetime.strptime(s[:8], "%Y%m%d").date()  # noqa: DTZ007 - a date, no tz
    except ValueError:
        raise ProtocolError(f"not a YYYYMMDD date: {s!r}") from None


def parse_time(value: object, on: date) -> datetime | None:
    """``HHMMSS`` on day ``on`` → aware KST datetime; empty → None."""
    s = _text(value)
    if not s:
        return None
    s = s.zfill(6)
    try:
        t = time(int(s[0:2]), int(s[2:4]), int(s[4:6]))
    except ValueError:
        raise ProtocolError(f"not an HHMMSS time: {s!r}") from None
    return datetime.combine(on, t, tzinfo=KST)


def parse_datetime(value: object) -> datetime | None:
    """``YYYYMMDDHHMMSS`` (KST) → aware datetime; ``YYYYMMDD`` alone → midnight KST."""
    s = _text(value)
    if not s:
        return None
    fmt, s = ("%Y%m%d%H%M%S", s[:14]) if len(s) >= 14 else ("%Y%m%d", s[:8])
    try:
        return datetime.strptime(s, fmt).replace(tzinfo=KST)
    except ValueError:
        raise ProtocolError(f"not a YYYYMMDDHHMMSS timestamp: {s!r}") from None


def direction(value: object) -> Direction | None:
    """Sign code 1–5 → :class:`Direction`; anything else → None."""
    s = _text(value).lstrip("+-")
    try:
        return Direction(s)
    except ValueError:
        return None


def side_from_text(value: object) -> Side | None:
    """``"+매수"``, ``"매수정정"`` → BUY; ``"-매도"``, ``"매도취소"`` → SELL."""
    s = _text(value)
    if "매수" in s:
        return Side.BUY
    if "매도" in s:
        return Side.SELL
    return None


def order_no(value: object) -> str | None:
    """An order number kept as a string (leading zeros matter); all zeros/empty → None."""
    s = _text(value)
    return s if s and s.strip("0") else None


def _list(body: Body, key: str) -> Sequence[Mapping[str, Any]]:
    rows = body.get(key)
    if rows is None or rows == "":
        return ()
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise ProtocolError(f"expected a list of objects in {key!r}")
    return rows


# --------------------------------------------------------------------------------------
# Per-API parsers


def parse_quote(body: Body, code: str) -> Quote:
    """ka10001 주식기본정보요청."""
    return Quote(
        code=stock_code(body.get("stk_cd")) or code,
        name=_text(body.get("stk_nm")),
        price=price(body.get("cur_prc")),
        direction=direction(body.get("pre_sig")),
        change=to_int(body.get("pred_pre")),
        change_rate=to_decimal(body.get("flu_rt")),
        open=price(body.get("open_pric")),
        high=price(body.get("high_pric")),
        low=price(body.get("low_pric")),
        base_price=price(body.get("base_pric")),
        upper_limit=price(body.get("upl_pric")),
        lower_limit=price(body.get("lst_pric")),
        volume=abs(to_int(body.get("trde_qty"))),
        expected_price=opt_price(body.get("exp_cntr_pric")),
        expected_qty=opt_price(body.get("exp_cntr_qty")),
        year_high=opt_price(body.get("oyr_hgst")),
        year_low=opt_price(body.get("oyr_lwst")),
        face_value=opt_price(body.get("fav")),
        market_cap_eok=opt_int(body.get("mac")),
        per=opt_decimal(body.get("per")),
        eps=opt_decimal(body.get("eps")),
        roe=opt_decimal(body.get("roe")),
        pbr=opt_decimal(body.get("pbr")),
        bps=opt_decimal(body.get("bps")),
    )


def _book_keys(side: str, level: int) -> tuple[str, str, str]:
    # Level 1 is "fpr" (최우선); the others are spelled "2th", "3th", … "10th".
    if level == 1:
        return f"{side}_fpr_bid", f"{side}_fpr_req", f"{side}_1th_pre_req_pre"
    stem = f"{side}_{level}th_pre"
    return f"{stem}_bid", f"{stem}_req", f"{stem}_req_pre"


def parse_order_book(body: Body, code: str, today: date) -> OrderBookSnapshot:
    """ka10004 주식호가요청."""

    def levels(side: str) -> tuple[BookLevel, ...]:
        out = []
        for n in range(1, 11):
            p, q, c = _book_keys(side, n)
            out.append(
                BookLevel(
                    price=price(body.get(p)),
                    qty=abs(to_int(body.get(q))),
                    qty_change=to_int(body.get(c)),
                )
            )
        return tuple(out)

    return OrderBookSnapshot(
        code=code,
        time=parse_time(body.get("bid_req_base_tm"), today),
        asks=levels("sel"),
        bids=levels("buy"),
        total_ask_qty=to_int(body.get("tot_sel_req")),
        total_bid_qty=to_int(body.get("tot_buy_req")),
        after_hours_ask_qty=to_int(body.get("ovt_sel_req")),
        after_hours_bid_qty=to_int(body.get("ovt_buy_req")),
    )


def parse_stock_list(body: Body) -> list[StockInfo]:
    """ka10099 종목정보 리스트 (camelCase fields, unlike the rest of the API)."""
    return [
        StockInfo(
            code=stock_code(row.get("code")),
            name=_text(row.get("name")),
            listed_shares=to_int(row.get("listCount")),
            audit_info=_text(row.get("auditInfo")),
            listed_date=parse_date(row.get("regDay")),
            last_price=price(row.get("lastPrice")),
            state=tuple(s for s in _text(row.get("state")).split("|") if s),
            market_code=_text(row.get("marketCode")),
            market_name=_text(row.get("marketName")),
            sector_name=_text(row.get("upName")),
            size_class=_text(row.get("upSizeName")),
            company_class=_text(row.get("companyClassName")),
            order_warning=_text(row.get("orderWarning")) or "0",
            nxt_enabled=_text(row.get("nxtEnable")).upper() == "Y",
        )
        for row in _list(body, "list")
    ]


def parse_sector_list(body: Body) -> list[SectorInfo]:
    """ka10101 업종코드 리스트."""
    return [
        SectorInfo(
            market_code=_text(row.get("marketCode")),
            code=_text(row.get("code")),
            name=_text(row.get("name")),
            group=_text(row.get("group")),
        )
        for row in _list(body, "list")
    ]


MILLION = 1_000_000


def parse_trading_value_ranking(body: Body) -> list[TradingValueRank]:
    """ka10032 거래대금상위요청 (``trde_prica`` is in 백만원; converted to KRW)."""
    return [
        TradingValueRank(
            rank=to_int(row.get("now_rank")),
            prev_rank=opt_int(row.get("pred_rank")) or None,
            code=stock_code(row.get("stk_cd")),
            name=_text(row.get("stk_nm")),
            price=price(row.get("cur_prc")),
            direction=direction(row.get("pred_pre_sig")),
            change=to_int(row.get("pred_pre")),
            change_rate=to_decimal(row.get("flu_rt")),
            best_ask=price(row.get("sel_bid")),
            best_bid=price(row.get("buy_bid")),
            volume=abs(to_int(row.get("now_trde_qty"))),
            prev_volume=abs(to_int(row.get("pred_trde_qty"))),
            trading_value=abs(to_int(row.get("trde_prica"))) * MILLION,
        )
        for row in _list(body, "trde_prica_upper")
    ]


def _intraday_candles(body: Body, key: str) -> list[Candle]:
    out = []
    for row in _list(body, key):
        t = parse_datetime(row.get("cntr_tm"))
        if t is None:
            raise ProtocolError(f"chart row without cntr_tm in {key!r}")
        close = price(row.get("cur_prc"))
        # Tick rows may leave OHL empty: a tick's open/high/low is its price.
        out.append(
            Candle(
                time=t,
                open=opt_price(row.get("open_pric")) or close,
                high=opt_price(row.get("high_pric")) or close,
                low=opt_price(row.get("low_pric")) or close,
                close=close,
                volume=abs(to_int(row.get("trde_qty"))),
            )
        )
    return out


def parse_tick_chart(body: Body) -> list[Candle]:
    """ka10079 주식틱차트조회요청, in the server's order (newest first)."""
    return _intraday_candles(body, "stk_tic_chart_qry")


def parse_minute_chart(body: Body) -> list[Candle]:
    """ka10080 주식분봉차트조회요청, in the server's order (newest first)."""
    return _intraday_candles(body, "stk_min_pole_chart_qry")


def parse_daily_chart(body: Body) -> list[DailyCandle]:
    """ka10081 주식일봉차트조회요청, newest first (``trde_prica`` 백만원 → KRW)."""
    out = []
    for row in _list(body, "stk_dt_pole_chart_qry"):
        d = parse_date(row.get("dt"))
        if d is None:
            raise ProtocolError("daily chart row without dt")
        value = opt_int(row.get("trde_prica"))
        out.append(
            DailyCandle(
                date=d,
                open=price(row.get("open_pric")),
                high=price(row.get("high_pric")),
                low=price(row.get("low_pric")),
                close=price(row.get("cur_prc")),
                volume=abs(to_int(row.get("trde_qty"))),
                trading_value=None if value is None else abs(value) * MILLION,
                turnover_rate=opt_decimal(row.get("trde_tern_rt")),
            )
        )
    return out


def parse_sector_index(body: Body, market: str, sector_code: str) -> SectorIndex:
    """ka20001 업종현재가요청 (index values are signed decimals here)."""
    return SectorIndex(
        market=market,
        sector_code=sector_code,
        value=index_value(body.get("cur_prc")),
        direction=direction(body.get("pred_pre_sig")),
        change=to_decimal(body.get("pred_pre")),
        change_rate=to_decimal(body.get("flu_rt")),
        open=_opt_index(body.get("open_pric")),
        high=_opt_index(body.get("high_pric")),
        low=_opt_index(body.get("low_pric")),
        volume=abs(to_int(body.get("trde_qty"))),
        trading_value=abs(to_int(body.get("trde_prica"))),
        limit_up_count=to_int(body.get("upl")),
        rising_count=to_int(body.get("rising")),
        flat_count=to_int(body.get("stdns")),
        falling_count=to_int(body.get("fall")),
        limit_down_count=to_int(body.get("lst")),
    )


def _opt_index(value: object) -> Decimal | None:
    d = opt_decimal(value)
    return None if d is None else abs(d)


def parse_order_ack(body: Body) -> OrderAck:
    """kt10000 / kt10001 response."""
    no = order_no(body.get("ord_no"))
    if no is None:
        raise ProtocolError("order accepted without ord_no")
    return OrderAck(order_no=no, exchange=_text(body.get("dmst_stex_tp")))


def parse_amend_ack(body: Body, qty_key: str) -> AmendAck:
    """kt10002 (``qty_key="mdfy_qty"``) / kt10003 (``"cncl_qty"``) response."""
    no = order_no(body.get("ord_no"))
    if no is None:
        raise ProtocolError("modify/cancel accepted without ord_no")
    return AmendAck(
        order_no=no,
        root_order_no=order_no(body.get("base_orig_ord_no")),
        qty=to_int(body.get(qty_key)),
        exchange=_text(body.get("dmst_stex_tp")) or None,
    )


def parse_open_orders(body: Body, today: date) -> list[OpenOrder]:
    """ka10075 미체결요청."""
    return [
        OpenOrder(
            order_no=_text(row.get("ord_no")),
            original_order_no=order_no(row.get("orig_ord_no")),
            code=stock_code(row.get("stk_cd")),
            name=_text(row.get("stk_nm")),
            side=side_from_text(row.get("io_tp_nm")),
            order_kind=_text(row.get("io_tp_nm")),
            order_type=_text(row.get("trde_tp")),
            status=_text(row.get("ord_stt")),
            order_qty=to_int(row.get("ord_qty")),
            order_price=price(row.get("ord_pric")),
            open_qty=to_int(row.get("oso_qty")),
            filled_qty=to_int(row.get("cntr_qty")),
            filled_price=opt_price(row.get("cntr_pric")) or None,
            filled_amount=to_int(row.get("cntr_tot_amt")),
            current_price=opt_price(row.get("cur_prc")),
            time=parse_time(row.get("tm"), today),
            exchange=_text(row.get("stex_tp_txt")) or _text(row.get("stex_tp")),
        )
        for row in _list(body, "oso")
    ]


def parse_filled_orders(body: Body, today: date) -> list[FilledOrder]:
    """ka10076 체결요청."""
    return [
        FilledOrder(
            order_no=_text(row.get("ord_no")),
            original_order_no=order_no(row.get("orig_ord_no")),
            code=stock_code(row.get("stk_cd")),
            name=_text(row.get("stk_nm")),
            side=side_from_text(row.get("io_tp_nm")),
            order_kind=_text(row.get("io_tp_nm")),
            order_type=_text(row.get("trde_tp")),
            status=_text(row.get("ord_stt")),
            order_qty=to_int(row.get("ord_qty")),
            order_price=price(row.get("ord_pric")),
            filled_qty=to_int(row.get("cntr_qty")),
            filled_price=opt_price(row.get("cntr_pric")) or None,
            open_qty=to_int(row.get("oso_qty")),
            commission=to_int(row.get("tdy_trde_cmsn")),
            tax=to_int(row.get("tdy_trde_tax")),
            time=parse_time(row.get("ord_tm"), today),
            exchange=_text(row.get("stex_tp_txt")) or _text(row.get("stex_tp")),
        )
        for row in _list(body, "cntr")
    ]


def parse_order_history(body: Body, today: date) -> list[OrderHistoryEntry]:
    """kt00007 계좌별주문체결내역상세요청 (``acnt_ord_cntr_prps_dtl``): zero-padded
    quantities and prices, ``A``-prefixed codes, ``HH:MM:SS`` (or ``HHMMSS``) times."""
    return [
        OrderHistoryEntry(
            order_no=_text(row.get("ord_no")),
            original_order_no=order_no(row.get("ori_ord")),
            code=stock_code(row.get("stk_cd")),
            name=_text(row.get("stk_nm")),
            side=side_from_text(row.get("io_tp_nm")),
            order_kind=_text(row.get("io_tp_nm")),
            modify_cancel=_text(row.get("mdfy_cncl")),
            order_type=_text(row.get("trde_tp")),
            acceptance=_text(row.get("acpt_tp")),
            order_qty=to_int(row.get("ord_qty")),
            order_price=price(row.get("ord_uv")),
            confirmed_qty=to_int(row.get("cnfm_qty")),
            filled_qty=to_int(row.get("cntr_qty")),
            filled_price=opt_price(row.get("cntr_uv")) or None,
            open_qty=to_int(row.get("ord_remnq")),
            stop_price=opt_price(row.get("cond_uv")) or None,
            time=parse_time(_text(row.get("ord_tm")).replace(":", ""), today),
            confirm_time=parse_time(_text(row.get("cnfm_tm")).replace(":", ""), today),
            exchange=_text(row.get("dmst_stex_tp")),
        )
        for row in _list(body, "acnt_ord_cntr_prps_dtl")
    ]


def parse_holdings(body: Body) -> list[Holding]:
    """Rows of kt00018 계좌평가잔고내역요청 (``acnt_evlt_remn_indv_tot``)."""
    return [
        Holding(
            code=stock_code(row.get("stk_cd")),
            name=_text(row.get("stk_nm")),
            qty=to_int(row.get("rmnd_qty")),
            sellable_qty=to_int(row.get("trde_able_qty")),
            avg_price=price(row.get("pur_pric")),
            current_price=price(row.get("cur_prc")),
            prev_close=price(row.get("pred_close_pric")),
            purchase_amount=to_int(row.get("pur_amt")),
            evaluation_amount=to_int(row.get("evlt_amt")),
            profit=to_int(row.get("evltv_prft")),
            profit_rate=to_decimal(row.get("prft_rt")),
            commission=to_int(row.get("sum_cmsn")),
            tax=to_int(row.get("tax")),
            weight=opt_decimal(row.get("poss_rt")),
        )
        for row in _list(body, "acnt_evlt_remn_indv_tot")
    ]


def parse_balance(pages: Sequence[Body]) -> Balance:
    """kt00018: totals from the first page, holdings from every page."""
    if not pages:
        raise ProtocolError("kt00018 returned no pages")
    first = pages[0]
    holdings = [h for page in pages for h in parse_holdings(page)]
    return Balance(
        total_purchase=to_int(first.get("tot_pur_amt")),
        total_evaluation=to_int(first.get("tot_evlt_amt")),
        total_profit=to_int(first.get("tot_evlt_pl")),
        total_profit_rate=to_decimal(first.get("tot_prft_rt")),
        estimated_assets=to_int(first.get("prsm_dpst_aset_amt")),
        holdings=tuple(holdings),
    )


_MARGIN_RATES = (20, 30, 40, 50, 60, 100)


def parse_cash(body: Body) -> Cash:
    """kt00001 예수금상세현황요청."""
    by_margin = {
        rate: to_int(body.get(f"{rate}stk_ord_alow_amt"))
        for rate in _MARGIN_RATES
        if _text(body.get(f"{rate}stk_ord_alow_amt"))
    }
    return Cash(
        deposit=to_int(body.get("entr")),
        orderable=to_int(body.get("ord_alow_amt")),
        withdrawable=to_int(body.get("pymn_alow_amt")),
        d1_deposit=to_int(body.get("d1_entra")),
        d2_deposit=to_int(body.get("d2_entra")),
        orderable_by_margin=by_margin,
    )


def _rate_pct(value: object) -> int | None:
    """A margin rate as sent (``"20%"``, ``"100"``) → percent; blank → None."""
    s = _text(value).rstrip("%").strip()
    if not s:
        return None
    d = opt_decimal(s)
    if d is None or d != d.to_integral_value():
        raise ProtocolError(f"not a whole percent: {s!r}")
    return int(d)


def parse_orderable_quantity(body: Body, code: str, price: int) -> OrderableQuantity:
    """kt00011 증거금율별주문가능수량조회요청 (a buy at ``price``): 미수불가 amount and
    quantity, and the per-rate ones the server filled (``""`` = not for this account)."""
    by_rate = {
        rate: (
            to_int(body.get(f"profa_{rate}ord_alow_amt")),
            to_int(body.get(f"profa_{rate}ord_alowq")),
        )
        for rate in _MARGIN_RATES
        if _text(body.get(f"profa_{rate}ord_alowq"))
    }
    cash_amount = to_int(body.get("min_ord_alow_amt"))
    cash_qty = to_int(body.get("min_ord_alowq"))
    applied = _rate_pct(body.get("aplc_rt"))
    max_amount, max_qty = by_rate.get(applied or 0, (cash_amount, cash_qty))
    return OrderableQuantity(
        code=code,
        side=Side.BUY,
        price=price,
        cash_qty=cash_qty,
        max_qty=max(max_qty, cash_qty),
        cash_amount=cash_amount,
        max_amount=max(max_amount, cash_amount),
        stock_margin_rate=_rate_pct(body.get("stk_profa_rt")),
        account_margin_rate=_rate_pct(body.get("profa_rt")),
        applied_margin_rate=applied,
        by_margin_rate=by_rate,
    )


def parse_token(body: Body) -> tuple[str, datetime]:
    """au10001 접근토큰 발급: the token and its expiry (``expires_dt`` KST)."""
    token = _text(body.get("token"))
    expires = parse_datetime(body.get("expires_dt"))
    if not token or expires is None:
        raise ProtocolError("au10001 response without token/expires_dt")
    return token, expires
