"""kt00007 계좌별주문체결내역상세요청 rows → :class:`OrderHistoryEntry` (PROTOCOL §8.4).

The first row is shaped like the guide's example (a filled market buy from 영웅문4:
10-digit zero-padded numbers, ``A``-prefixed code, ``HH:MM:SS`` time)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from gslts_kiwoom import OrderHistoryEntry, ProtocolError, Side
from gslts_kiwoom import _wire as w

KST = ZoneInfo("Asia/Seoul")
DAY = date(2026, 9, 28)

GUIDE_ROW = {
    "ord_no": "0000050",
    "stk_cd": "A069500",
    "trde_tp": "시장가",
    "crd_tp": "보통매매",
    "ord_qty": "0000000001",
    "ord_uv": "0000000000",
    "cnfm_qty": "0000000000",
    "acpt_tp": "접수",
    "rsrv_tp": "",
    "ord_tm": "13:05:43",
    "ori_ord": "0000000",
    "stk_nm": "KODEX 200",
    "io_tp_nm": "현금매수",
    "loan_dt": "",
    "cntr_qty": "0000000001",
    "cntr_uv": "0000004900",
    "ord_remnq": "0000000000",
    "comm_ord_tp": "영웅문4",
    "mdfy_cncl": "",
    "cnfm_tm": "",
    "dmst_stex_tp": "KRX",
    "cond_uv": "0000000000",
}


def test_guide_example_row() -> None:
    (e,) = w.parse_order_history({"acnt_ord_cntr_prps_dtl": [GUIDE_ROW]}, DAY)
    assert e == OrderHistoryEntry(
        order_no="0000050",
        original_order_no=None,
        code="069500",
        name="KODEX 200",
        side=Side.BUY,
        order_kind="현금매수",
        modify_cancel="",
        order_type="시장가",
        acceptance="접수",
        order_qty=1,
        order_price=0,
        confirmed_qty=0,
        filled_qty=1,
        filled_price=4900,
        open_qty=0,
        stop_price=None,
        time=datetime(2026, 9, 28, 13, 5, 43, tzinfo=KST),
        confirm_time=None,
        exchange="KRX",
    )
    assert (e.is_modify, e.is_cancel, e.closed_qty) == (False, False, 0)


def test_cancel_row_and_what_never_fills() -> None:
    cancel = {
        **GUIDE_ROW,
        "ord_no": "0000124",
        "ori_ord": "0000123",
        "stk_cd": "005930",  # plain codes are taken too
        "io_tp_nm": "현금매도",
        "trde_tp": "보통",
        "ord_qty": "0000000004",
        "ord_uv": "0000070000",
        "cnfm_qty": "0000000004",
        "acpt_tp": "확인",
        "mdfy_cncl": "취소",
        "cntr_qty": "0000000000",
        "cntr_uv": "0000000000",
        "ord_tm": "091500",  # HHMMSS without colons too
        "cnfm_tm": "09:15:01",
        "cond_uv": "",
    }
    partly = {
        **GUIDE_ROW,
        "ord_no": "0000123",
        "trde_tp": "보통(IOC)",
        "ord_qty": "0000000010",
        "ord_uv": "0000070000",
        "cntr_qty": "0000000003",
        "cntr_uv": "0000069900",
        "ord_remnq": "0000000000",
        "cond_uv": "0000071000",
    }
    c, p = w.parse_order_history({"acnt_ord_cntr_prps_dtl": [cancel, partly]}, DAY)
    assert (c.order_no, c.original_order_no, c.code, c.side) == (
        "0000124",
        "0000123",
        "005930",
        Side.SELL,
    )
    assert (c.is_cancel, c.is_modify, c.confirmed_qty, c.closed_qty) == (True, False, 4, 0)
    assert c.filled_price is None
    assert c.time == datetime(2026, 9, 28, 9, 15, 0, tzinfo=KST)
    assert c.confirm_time == datetime(2026, 9, 28, 9, 15, 1, tzinfo=KST)
    assert c.stop_price is None
    assert (p.filled_qty, p.open_qty, p.closed_qty, p.stop_price) == (3, 0, 7, 71000)
    assert p.filled_price == 69900


def test_empty_and_malformed_lists() -> None:
    assert w.parse_order_history({}, DAY) == []
    assert w.parse_order_history({"acnt_ord_cntr_prps_dtl": ""}, DAY) == []
    with pytest.raises(ProtocolError):
        w.parse_order_history({"acnt_ord_cntr_prps_dtl": "x"}, DAY)
    with pytest.raises(ProtocolError):
        w.parse_order_history({"acnt_ord_cntr_prps_dtl": [{**GUIDE_ROW, "ord_tm": "25:61"}]}, DAY)
