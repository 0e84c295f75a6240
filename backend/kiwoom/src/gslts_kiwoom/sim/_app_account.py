"""REST handlers of the account: open orders (ka10075), fills (ka10076), today's order
history (kt00007), holdings with P&L (kt00018), cash (kt00001), orderable amounts and
quantities (kt00010, kt00011)."""

from __future__ import annotations

from decimal import Decimal

from gslts_kiwoom.models import Side
from gslts_kiwoom.sim import _fmt as f
from gslts_kiwoom.sim._app_base import Body, Ctx, Handler, ReplyError, Result, Row, input_error
from gslts_kiwoom.sim._orders import Order, kind_text

_STEX = {"KRX": ("1", "KRX", "N"), "NXT": ("2", "NXT", "N"), "SOR": ("0", "통합", "Y")}


def _io_name(o: Order) -> str:
    return kind_text(o.kind, o.side)


#: ``stex_tp`` of ka10075/ka10076 (0 통합, 1 KRX, 2 NXT) → the order venues it lists
_STEX_FILTER = {"0": ("KRX", "NXT", "SOR"), "1": ("KRX",), "2": ("NXT",)}


def _filter_orders(ctx: Ctx, body: Body, side_key: str, one_key: str) -> list[Order]:
    """The account's orders picked by the request (side, one stock, venue), newest first."""
    side_tp = str(body.get(side_key, "0")).strip()
    one = str(body.get(one_key, "0")).strip() == "1"
    stex = str(body.get("stex_tp", "0")).strip()
    if stex not in _STEX_FILTER:
        raise input_error(f"1517:입력값 형식 오류(stex_tp, {stex})")
    venues = _STEX_FILTER[stex]
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
        and o.venue in venues
    ]


def h_ka10075(ctx: Ctx, body: Body) -> Result:
    """ka10075 미체결요청: open orders, newest first, as the 00 stream left them: ``ord_stt``
    the last event's 913, ``oso_qty`` its 902, ``cntr_qty`` the filled total (911),
    ``cntr_pric``/``unit_cntr_*`` the last fill (910/914/915)."""
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
                "stop_pric": str(o.stop_price) if o.stop_price else "",
            }
        )
    return Result({}, "oso", rows)


def h_ka10076(ctx: Ctx, body: Body) -> Result:
    """ka10076 체결요청: orders with fills, newest first (``ord_no``: only older ones), one
    row per order: ``cntr_qty`` the filled total (00 FID 911 of its last 체결), ``cntr_pric``
    the average fill price, ``oso_qty`` what is still open (0 once cancelled or done)."""
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
                "stop_pric": str(o.stop_price) if o.stop_price else "",
            }
        )
    return Result({}, "cntr", rows)


#: kt00007 ``dmst_stex_tp`` (``%`` all, KRX, NXT, SOR) → the order venues it lists
_KT00007_VENUES = {"%": ("KRX", "NXT", "SOR"), "KRX": ("KRX",), "NXT": ("NXT",), "SOR": ("SOR",)}


def _choice(body: Body, key: str, allowed: tuple[str, ...]) -> str:
    value = str(body.get(key, "")).strip()
    if value not in allowed:
        raise input_error(f"1517:입력값 형식 오류({key}, {'/'.join(allowed)})")
    return value


def _history_row(o: Order) -> Row:
    """One kt00007 row, formatted like the guide's example: 10-digit zero-padded
    quantities and prices, ``A``-prefixed code, ``HH:MM:SS`` times, texts for 매매구분
    (``시장가``), 신용구분 (``보통매매``) and 주문구분 (``현금매수``/``현금매도``; a modify or
    cancel says so in ``mdfy_cncl``: ``정정``/``취소``). ``acpt_tp`` 접수구분 is ``접수`` for
    a new order, ``확인`` for a confirmed modify/cancel, ``거부`` for an order the exchange
    refused after accepting it [I: the guide shows ``접수`` only]."""
    confirmed = o.kind != "new" and o.confirm_time is not None
    accept = "거부" if o.status == "거부" else ("확인" if confirmed else "접수")
    return {
        "ord_no": o.ord_no,
        "stk_cd": "A" + o.code,
        "trde_tp": o.trade_type.label,
        "crd_tp": "보통매매",
        "ord_qty": f.pad(o.qty, 10),
        "ord_uv": f.pad(o.price, 10),
        "cnfm_qty": f.pad(o.qty if confirmed else 0, 10),
        "acpt_tp": accept,
        "rsrv_tp": "",
        "ord_tm": f.hh_mm_ss(o.time),
        "ori_ord": o.orig_ord_no,
        "stk_nm": o.name,
        "io_tp_nm": "현금매수" if o.side == Side.BUY else "현금매도",
        "loan_dt": "",
        "cntr_qty": f.pad(o.filled_qty, 10),
        "cntr_uv": f.pad(o.filled_value // o.filled_qty if o.filled_qty else 0, 10),
        "ord_remnq": f.pad(0 if o.kind == "cancel" else o.open_qty, 10),
        "comm_ord_tp": "REST API",
        "mdfy_cncl": {"new": "", "modify": "정정", "cancel": "취소"}[o.kind],
        "cnfm_tm": f.hh_mm_ss(o.confirm_time) if confirmed and o.confirm_time else "",
        "dmst_stex_tp": o.venue,
        "cond_uv": f.pad(o.stop_price, 10),
    }


def h_kt00007(ctx: Ctx, body: Body) -> Result:
    """kt00007 계좌별주문체결내역상세요청: the day's orders of the account *including* filled,
    cancelled, modified and refused ones (PROTOCOL §8.4), one row per order number
    (a modify or cancel is a row of its own, ``ori_ord`` = the order it changes).

    ``ord_dt`` (blank = today) picks the day; ``qry_tp`` 1 주문순 (ascending order
    number), 2 역순 (descending), 3 미체결 (open only), 4 체결내역만 (with fills);
    ``stk_bond_tp`` 0/1 (2 bonds: none here); ``sell_tp`` 0/1 매도/2 매수; ``stk_cd``
    blank = all; ``fr_ord_no`` the order number to start from, in the listing's direction
    (ascending: that number and later, descending: that number and earlier) [I: the guide
    says only 시작주문번호]; ``dmst_stex_tp`` ``%``/KRX/NXT/SOR. Paged with
    ``cont-yn``/``next-key``."""
    day_raw = str(body.get("ord_dt", "")).strip()
    if day_raw and not (len(day_raw) == 8 and day_raw.isdigit()):
        raise input_error("1517:입력값 형식 오류(ord_dt, YYYYMMDD)")
    day = day_raw or f.ymd(ctx.sim.now)
    qry = _choice(body, "qry_tp", ("1", "2", "3", "4"))
    bond = _choice(body, "stk_bond_tp", ("0", "1", "2"))
    side_tp = _choice(body, "sell_tp", ("0", "1", "2"))
    stex = str(body.get("dmst_stex_tp", "")).strip().upper()
    if stex not in _KT00007_VENUES:
        raise input_error("1517:입력값 형식 오류(dmst_stex_tp, %/KRX/NXT/SOR)")
    venues = _KT00007_VENUES[stex]
    code = ""
    if str(body.get("stk_cd", "")).strip():
        code = ctx.stock(str(body["stk_cd"]))[0].code
    start = str(body.get("fr_ord_no", "")).strip()
    if start and not start.isdigit():
        raise input_error("1517:입력값 형식 오류(fr_ord_no, 숫자만 입력 가능합니다)")
    start = start.zfill(7) if start.strip("0") else ""
    descending = qry == "2"
    orders = sorted(
        ctx.sim.broker.account.orders.values(), key=lambda o: o.ord_no, reverse=descending
    )
    rows = [
        _history_row(o)
        for o in orders
        if bond != "2"
        and f.ymd(o.time) == day
        and (not code or o.code == code)
        and (side_tp == "0" or (side_tp == "1") == (o.side == Side.SELL))
        and o.venue in venues
        and (not start or (o.ord_no <= start if descending else o.ord_no >= start))
        and (qry != "3" or (o.kind != "cancel" and o.open_qty > 0))
        and (qry != "4" or o.filled_qty > 0)
    ]
    return Result({}, "acnt_ord_cntr_prps_dtl", rows)


def h_kt00018(ctx: Ctx, body: Body) -> Result:
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


def h_kt00001(ctx: Ctx, body: Body) -> Result:
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


#: The margin rates (증거금율, %) kt00010/kt00011 report amounts and quantities for.
MARGIN_RATES = (20, 30, 40, 50, 60, 100)
#: 종목증거금율 the simulator gives every stock [I: Kiwoom's per-stock rates are not
#: published here; 20 % as in the guide's example]. The account is a cash account (계좌
#: 증거금율 100 %: the broker takes no order it cannot pay in full, no 미수), so the
#: applied rate (the higher of the two) is 100 % and 최대 equals 현금(미수불가).
STOCK_MARGIN_RATE = 20
ACCOUNT_MARGIN_RATE = 100


def _amount(body: Body, key: str) -> int:
    """A non-negative whole amount or quantity field; blank = 0."""
    raw = str(body.get(key, "")).strip()
    if not raw:
        return 0
    if not raw.isdigit():
        raise input_error(f"1517:입력값 형식 오류({key}, 숫자만 입력 가능합니다)")
    return int(raw)


def _buy_price(ctx: Ctx, body: Body, key: str) -> tuple[str, int]:
    """``(code, price)`` of an orderable-quantity request: ``uv`` 0 = the current price
    [I]."""
    stock, _ = ctx.stock(str(body.get("stk_cd", "")))
    price = _amount(body, key)
    return stock.code, price or ctx.market.state(stock.code).last


def _per_share(ctx: Ctx, price: int) -> int:
    """Cash one share bought at ``price`` takes: the broker's own reservation (price,
    commission, 1 won of rounding), so the quantity answered is exactly what it accepts."""
    return price + ctx.sim.broker._cost(price) + 1


def h_kt00011(ctx: Ctx, body: Body) -> Result:
    """kt00011 증거금율별주문가능수량조회요청 (``stk_cd``, ``uv`` 매수가격): how many shares the
    account can buy at ``uv`` (PROTOCOL §8.5). ``min_ord_alow_amt``/``min_ord_alowq``:
    without 미수 (현금); the per-rate fields are filled for the rates the account can use
    (100 % only: a cash account) and ``""`` for the others, as in the guide's example.
    Rates as ``20%``, amounts and quantities 12-digit zero-padded; every quantity is one
    the broker accepts at that price (and one more is refused)."""
    _, price = _buy_price(ctx, body, "uv")
    acct = ctx.sim.broker.account
    cash = max(0, acct.orderable_cash)
    qty = cash // _per_share(ctx, price)
    out: Body = {
        "stk_profa_rt": f"{STOCK_MARGIN_RATE}%",
        "profa_rt": f"{ACCOUNT_MARGIN_RATE}%",
        "aplc_rt": f"{max(STOCK_MARGIN_RATE, ACCOUNT_MARGIN_RATE)}%",
    }
    for rate in MARGIN_RATES:
        usable = rate >= max(STOCK_MARGIN_RATE, ACCOUNT_MARGIN_RATE)
        out[f"profa_{rate}ord_alow_amt"] = f.pad(cash, 12) if usable else ""
        out[f"profa_{rate}ord_alowq"] = f.pad(qty, 12) if usable else ""
        out[f"profa_{rate}pred_reu_amt"] = f.pad(0, 12) if usable else ""
        out[f"profa_{rate}tdy_reu_amt"] = f.pad(0, 12) if usable else ""
    out.update(
        min_ord_alow_amt=f.pad(cash, 12),
        min_ord_alowq=f.pad(qty, 12),
        min_pred_reu_amt=f.pad(0, 12),
        min_tdy_reu_amt=f.pad(0, 12),
        entr=f.pad(acct.cash, 12),
        repl_amt=f.pad(0, 12),
        uncla=f.pad(0, 12),
        ord_pos_repl=f.pad(0, 12),
        ord_alowa=f.pad(cash, 12),
    )
    return Result(out, message="자료를 조회하였습니다.")


def h_kt00010(ctx: Ctx, body: Body) -> Result:
    """kt00010 주문인출가능금액요청: what the account could order and withdraw if it traded
    ``trde_qty`` at ``uv`` (``trde_tp`` 1 sell / 2 buy; ``uv`` 0 = the current price):
    the per-rate orderable amounts and quantities at ``uv`` (rates the account cannot use
    ``0``), ``ord_alowa`` orderable cash, and for the trade ``pur_amt``/``cmsn``/
    ``pur_exct_amt`` (a buy) and the withdrawable and D+2 cash after it (a sale's proceeds
    count at once, as Kiwoom reuses them). ``io_amt`` is checked, not used [I].
    Amounts 12-digit, quantities 10-digit zero-padded, as in the guide's example."""
    trade_tp = _choice(body, "trde_tp", ("1", "2"))
    _amount(body, "io_amt")
    code, price = _buy_price(ctx, body, "uv")
    trade_qty = _amount(body, "trde_qty")
    _amount(body, "exp_buy_unp")
    broker = ctx.sim.broker
    acct = broker.account
    cash = max(0, acct.orderable_cash)
    value = trade_qty * price
    cost = broker._cost(value)
    if trade_tp == "2":
        purchase, settle = value, value + cost
        after = cash - settle
    else:
        held = acct.holdings.get(code)
        sellable = (held.qty if held else 0) - acct.reserved_qty(code)
        if trade_qty > sellable:
            raise ReplyError(
                20, f"[2000](800033:매도가능수량이 부족합니다. {max(0, sellable)}주 매도가능)"
            )
        purchase = settle = 0
        after = cash + value - cost - broker._tax(value)
    usable_rate = max(STOCK_MARGIN_RATE, ACCOUNT_MARGIN_RATE)
    qty = max(0, after) // _per_share(ctx, price)
    out: Body = {}
    for rate in MARGIN_RATES:
        usable = rate >= usable_rate
        out[f"profa_{rate}ord_alow_amt"] = f.pad(max(0, after) if usable else 0, 12)
        out[f"profa_{rate}ord_alowq"] = f.pad(qty if usable else 0, 10)
        if rate == 60:
            out["profa_rdex_60ord_alow_amt"] = f.pad(0, 12)
            out["profa_rdex_60ord_alowq"] = f.pad(0, 10)
    out.update(
        pred_reu_alowa=f.pad(0, 12),
        tdy_reu_alowa=f.pad(max(0, after - cash) if trade_tp == "1" else 0, 12),
        entr=f.pad(acct.cash, 12),
        repl_amt=f.pad(0, 12),
        uncla=f.pad(0, 12),
        ord_pos_repl=f.pad(0, 12),
        ord_alowa=f.pad(cash, 12),
        wthd_alowa=f.pad(max(0, after), 12),
        nxdy_wthd_alowa=f.pad(max(0, after), 12),
        pur_amt=f.pad(purchase, 12),
        cmsn=f.pad(cost, 12),
        pur_exct_amt=f.pad(settle, 12),
        d2entra=f.pad(acct.cash + (after - cash), 12),
        profa_rdex_aplc_tp="0",
    )
    return Result(out, message="주문/인출가능금액 시뮬레이션 조회완료하였습니다.")


ACCOUNT_HANDLERS: dict[str, Handler] = {
    "ka10075": h_ka10075,
    "ka10076": h_ka10076,
    "kt00007": h_kt00007,
    "kt00018": h_kt00018,
    "kt00001": h_kt00001,
    "kt00010": h_kt00010,
    "kt00011": h_kt00011,
}
