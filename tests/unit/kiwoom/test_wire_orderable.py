"""kt00011 증거금율별주문가능수량조회요청 → :class:`OrderableQuantity` (PROTOCOL §8.5)."""

from __future__ import annotations

import pytest

from gslts_kiwoom import OrderableQuantity, ProtocolError, Side
from gslts_kiwoom import _wire as w

#: the guide's example: a 100 % account, per-rate fields blank, 63,380 KRW orderable
#: without 미수, not enough for one share at 124,500
GUIDE = {
    "stk_profa_rt": "20%",
    "profa_rt": "100%",
    "aplc_rt": "100%",
    **{
        f"profa_{r}{k}": ""
        for r in (20, 30, 40, 50, 60, 100)
        for k in ("ord_alow_amt", "ord_alowq", "pred_reu_amt", "tdy_reu_amt")
    },
    "min_ord_alow_amt": "000000063380",
    "min_ord_alowq": "000000000000",
    "min_pred_reu_amt": "000000027194",
    "min_tdy_reu_amt": "000000000000",
    "entr": "000000017534",
    "repl_amt": "000003915500",
    "uncla": "000000000000",
    "ord_pos_repl": "000003915500",
    "ord_alowa": "000000085341",
}


def test_guide_example() -> None:
    q = w.parse_orderable_quantity(GUIDE, "005930", 124_500)
    assert q == OrderableQuantity(
        code="005930",
        side=Side.BUY,
        price=124_500,
        cash_qty=0,
        max_qty=0,
        cash_amount=63_380,
        max_amount=63_380,
        stock_margin_rate=20,
        account_margin_rate=100,
        applied_margin_rate=100,
        by_margin_rate={},
    )


def test_margin_account_max_comes_from_the_applied_rate() -> None:
    body = {
        **GUIDE,
        "profa_rt": "40%",
        "aplc_rt": "40%",
        "profa_40ord_alow_amt": "000002500000",
        "profa_40ord_alowq": "000000000020",
        "profa_100ord_alow_amt": "000001000000",
        "profa_100ord_alowq": "000000000008",
        "min_ord_alow_amt": "000001000000",
        "min_ord_alowq": "000000000008",
    }
    q = w.parse_orderable_quantity(body, "005930", 124_500)
    assert (q.cash_qty, q.max_qty, q.cash_amount, q.max_amount) == (8, 20, 1_000_000, 2_500_000)
    assert q.by_margin_rate == {40: (2_500_000, 20), 100: (1_000_000, 8)}
    assert (q.account_margin_rate, q.applied_margin_rate) == (40, 40)


def test_bad_rate_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        w.parse_orderable_quantity({**GUIDE, "aplc_rt": "12.5%"}, "005930", 1000)
    assert (
        w.parse_orderable_quantity({**GUIDE, "aplc_rt": ""}, "005930", 1).applied_margin_rate
        is None
    )
