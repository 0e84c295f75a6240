"""REST handlers of orders: buy/sell (kt10000/kt10001), modify (kt10002), cancel
(kt10003). The broker validates and matches; these parse and answer."""

from __future__ import annotations

from gslts_kiwoom.models import OrderType, Side
from gslts_kiwoom.sim import _fmt as f
from gslts_kiwoom.sim._app_base import Body, Ctx, Handler, Result, input_error, int_field


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
    def handler(ctx: Ctx, body: Body) -> Result:
        venue = _venue(body)
        stock, _ = ctx.stock(body["stk_cd"])
        qty = int_field(body, "ord_qty")
        trade_type = str(body["trde_tp"]).strip()
        price = 0
        known = trade_type in OrderType._value2member_map_  # unknown: the broker refuses it
        if not known or OrderType(trade_type).needs_price:
            if not str(body.get("ord_uv", "")).strip():
                raise input_error("1511:필수입력 파라미터=ord_uv")
            price = int_field(body, "ord_uv")
        stop = 0
        if known and OrderType(trade_type).needs_stop_price:
            if not str(body.get("cond_uv", "")).strip():
                raise input_error("1511:필수입력 파라미터=cond_uv")
            stop = int_field(body, "cond_uv")
        order = ctx.sim.broker.place(
            side=side,
            code=stock.code,
            qty=qty,
            price=price,
            trade_type=trade_type,
            venue=venue,
            now=ctx.sim.now,
            stop_price=stop,
        )
        word = "매수" if side == Side.BUY else "매도"
        return Result(
            {"ord_no": order.ord_no, "dmst_stex_tp": venue}, message=f"{word}주문이 완료되었습니다."
        )

    handler.__doc__ = (
        f"kt1000{0 if side == Side.BUY else 1} 주식 {'매수' if side == Side.BUY else '매도'}주문."
    )
    return handler


def h_kt10002(ctx: Ctx, body: Body) -> Result:
    """kt10002 주식 정정주문: new ``ord_no``; ``base_orig_ord_no`` is the chain's root."""
    venue = _venue(body)
    stock, _ = ctx.stock(body["stk_cd"])
    qty = int_field(body, "mdfy_qty", allow_zero=True)
    price = int_field(body, "mdfy_uv")
    stop = 0
    if str(body.get("mdfy_cond_uv", "")).strip():
        stop = int_field(body, "mdfy_cond_uv")
    new = ctx.sim.broker.modify(
        orig_ord_no=_order_no(body),
        code=stock.code,
        qty=qty,
        price=price,
        now=ctx.sim.now,
        stop_price=stop,
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


def h_kt10003(ctx: Ctx, body: Body) -> Result:
    """kt10003 주식 취소주문: ``cncl_qty`` "0" cancels everything still open."""
    _venue(body)
    stock, _ = ctx.stock(body["stk_cd"])
    qty = int_field(body, "cncl_qty", allow_zero=True)
    rec = ctx.sim.broker.cancel(
        orig_ord_no=_order_no(body), code=stock.code, qty=qty, now=ctx.sim.now
    )
    word = "매수" if rec.side == Side.BUY else "매도"
    return Result(
        {"ord_no": rec.ord_no, "base_orig_ord_no": rec.root_ord_no, "cncl_qty": f.pad(rec.qty, 12)},
        message=f"{word}취소 주문입력이 완료되었습니다",
    )


ORDER_HANDLERS: dict[str, Handler] = {
    "kt10000": _place(Side.BUY),
    "kt10001": _place(Side.SELL),
    "kt10002": h_kt10002,
    "kt10003": h_kt10003,
}
