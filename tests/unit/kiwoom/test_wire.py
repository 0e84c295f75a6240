"""Wire parsers against the examples of PROTOCOL.md §3.4 / §4."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from gslts_kiwoom import Direction, ProtocolError, Side
from gslts_kiwoom import _wire as w

KST = ZoneInfo("Asia/Seoul")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("-78800", 78800), ("+388000", 388000), (" 67300", 67300), ("78800", 78800), (" 0", 0)],
)
def test_price_is_absolute_value_of_signed_string(raw: str, expected: int) -> None:
    assert w.price(raw) == expected


def test_empty_price_is_zero_or_none() -> None:
    assert w.price("") == 0
    assert w.opt_price("") is None
    assert w.opt_price(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+600", 600),
        ("-500", -500),
        ("000000017598258", 17598258),
        ("-00000000196888", -196888),
        ("000000059000", 59000),
        ("000000000001", 1),
        ("", 0),
    ],
)
def test_signed_and_zero_padded_ints(raw: str, expected: int) -> None:
    assert w.to_int(raw) == expected


def test_rates_are_decimals() -> None:
    assert w.to_decimal("-0.24") == Decimal("-0.24")
    assert w.to_decimal("+29.86") == Decimal("29.86")
    assert w.opt_decimal("") is None
    assert isinstance(w.to_decimal("1.5"), Decimal)


def test_garbage_numbers_raise_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        w.to_int("12a")
    with pytest.raises(ProtocolError):
        w.to_int("1.5")  # a fractional value where an integer is expected
    with pytest.raises(ProtocolError):
        w.to_decimal("NaN")


def test_a_prefixed_codes_are_stripped_but_alphanumeric_codes_kept() -> None:
    assert w.stock_code("A005930") == "005930"
    assert w.stock_code("005930") == "005930"
    assert w.stock_code("0194M0") == "0194M0"
    assert w.stock_code("03473K") == "03473K"
    assert w.stock_code("005930_NX") == "005930_NX"
    assert w.stock_code(" A000660") == "000660"


def test_times_are_aware_kst() -> None:
    dt = w.parse_datetime("20241107083713")
    assert dt == datetime(2024, 11, 7, 8, 37, 13, tzinfo=KST)
    assert dt is not None
    assert dt.utcoffset() is not None
    assert dt.utcoffset().total_seconds() == 9 * 3600  # type: ignore[union-attr]
    assert w.parse_time("165208", date(2024, 11, 7)) == datetime(2024, 11, 7, 16, 52, 8, tzinfo=KST)
    assert w.parse_time("92000", date(2024, 11, 7)) == datetime(2024, 11, 7, 9, 20, tzinfo=KST)
    assert w.parse_date("20241107") == date(2024, 11, 7)
    assert w.parse_date("") is None
    assert w.parse_date("00000000") is None
    with pytest.raises(ProtocolError):
        w.parse_date("2024-11-7")


def test_index_values() -> None:
    assert w.index_x100("252127") == Decimal("2521.27")
    assert w.index_value("-2394.49") == Decimal("2394.49")


def test_sign_codes_and_sides() -> None:
    assert w.direction("1") is Direction.LIMIT_UP
    assert w.direction("5") is Direction.DOWN
    assert w.direction("") is None
    assert w.side_from_text("+매수") is Side.BUY
    assert w.side_from_text("-매도") is Side.SELL
    assert w.side_from_text("매수정정") is Side.BUY
    assert w.side_from_text("매도취소") is Side.SELL
    assert w.order_no("0000000") is None
    assert w.order_no("0000138") == "0000138"


def _book_body() -> dict[str, str]:
    body = {"bid_req_base_tm": "092030", "tot_sel_req": "12000", "tot_buy_req": "34000"}
    for n in range(1, 11):
        ask, bid = 78800 + 100 * (n - 1), 78700 - 100 * (n - 1)
        if n == 1:
            body |= {"sel_fpr_bid": f"-{ask}", "sel_fpr_req": str(n), "sel_1th_pre_req_pre": "-3"}
            body |= {"buy_fpr_bid": f"-{bid}", "buy_fpr_req": str(10 + n)}
            body |= {"buy_1th_pre_req_pre": "+2"}
        else:
            body |= {f"sel_{n}th_pre_bid": f"+{ask}", f"sel_{n}th_pre_req": str(n)}
            body |= {f"sel_{n}th_pre_req_pre": "0", f"buy_{n}th_pre_bid": f" {bid}"}
            body |= {f"buy_{n}th_pre_req": str(10 + n), f"buy_{n}th_pre_req_pre": "0"}
    return body


def test_order_book_reads_fpr_and_2th_3th_levels() -> None:
    book = w.parse_order_book(_book_body(), "005930", date(2025, 3, 4))
    assert [lvl.price for lvl in book.asks] == [78800 + 100 * i for i in range(10)]
    assert [lvl.price for lvl in book.bids] == [78700 - 100 * i for i in range(10)]
    assert book.asks[1].qty == 2
    assert book.asks[2].qty == 3
    assert book.asks[0].qty_change == -3
    assert book.bids[0].qty_change == 2
    assert book.total_ask_qty == 12000
    assert book.total_bid_qty == 34000
    assert book.time == datetime(2025, 3, 4, 9, 20, 30, tzinfo=KST)


def test_quote_parses_signed_fields() -> None:
    q = w.parse_quote(
        {
            "stk_cd": "005930",
            "stk_nm": "삼성전자",
            "cur_prc": "-78800",
            "pre_sig": "5",
            "pred_pre": "-500",
            "flu_rt": "-0.63",
            "open_pric": "+79500",
            "high_pric": "+79800",
            "low_pric": "-78500",
            "base_pric": "79300",
            "upl_pric": "+103000",
            "lst_pric": "-55600",
            "trde_qty": "12345678",
            "per": "",
            "mac": "4704186",
        },
        "005930",
    )
    assert (q.price, q.change, q.change_rate) == (78800, -500, Decimal("-0.63"))
    assert q.direction is Direction.DOWN
    assert (q.open, q.high, q.low, q.base_price) == (79500, 79800, 78500, 79300)
    assert (q.upper_limit, q.lower_limit) == (103000, 55600)
    assert q.per is None
    assert q.market_cap_eok == 4704186


def test_stock_list_camel_case() -> None:
    rows = w.parse_stock_list(
        {
            "list": [
                {
                    "code": "005930",
                    "name": "삼성전자",
                    "listCount": "0000005969782550",
                    "auditInfo": "정상",
                    "regDay": "19750611",
                    "lastPrice": "00079300",
                    "state": "증거금20%|담보대출|신용가능",
                    "marketCode": "0",
                    "marketName": "거래소",
                    "upName": "전기전자",
                    "upSizeName": "대형주",
                    "companyClassName": "",
                    "orderWarning": "0",
                    "nxtEnable": "Y",
                }
            ]
        }
    )
    (s,) = rows
    assert s.listed_shares == 5969782550
    assert s.last_price == 79300
    assert s.state == ("증거금20%", "담보대출", "신용가능")
    assert s.listed_date == date(1975, 6, 11)
    assert s.nxt_enabled


def test_minute_chart_rows() -> None:
    (c,) = w.parse_minute_chart(
        {
            "stk_min_pole_chart_qry": [
                {
                    "cur_prc": "-78800",
                    "trde_qty": "7913",
                    "cntr_tm": "20250304132000",
                    "open_pric": "-78850",
                    "high_pric": "-78900",
                    "low_pric": "-78800",
                }
            ]
        }
    )
    assert (c.open, c.high, c.low, c.close, c.volume) == (78850, 78900, 78800, 78800, 7913)
    assert c.time == datetime(2025, 3, 4, 13, 20, tzinfo=KST)


def test_daily_chart_trading_value_is_converted_from_millions() -> None:
    (d,) = w.parse_daily_chart(
        {
            "stk_dt_pole_chart_qry": [
                {
                    "dt": "20250303",
                    "cur_prc": "70100",
                    "trde_qty": "9263135",
                    "trde_prica": "648525",
                    "open_pric": "69800",
                    "high_pric": "70500",
                    "low_pric": "69600",
                    "trde_tern_rt": "+0.16",
                }
            ]
        }
    )
    assert d.date == date(2025, 3, 3)
    assert d.close == 70100
    assert d.trading_value == 648_525_000_000
    assert d.turnover_rate == Decimal("0.16")


def test_balance_rows_strip_a_prefix_and_zero_padding() -> None:
    bal = w.parse_balance(
        [
            {
                "tot_pur_amt": "000000017598258",
                "tot_evlt_amt": "000000017401370",
                "tot_evlt_pl": "-00000000196888",
                "tot_prft_rt": "-1.12",
                "prsm_dpst_aset_amt": "000000482000000",
                "acnt_evlt_remn_indv_tot": [
                    {
                        "stk_cd": "A005930",
                        "stk_nm": "삼성전자",
                        "rmnd_qty": "000000000000003",
                        "trde_able_qty": "000000000000003",
                        "pur_pric": "000000124500",
                        "cur_prc": "000000070000",
                        "evltv_prft": "-00000000164150",
                        "prft_rt": "-43.86",
                    }
                ],
            },
            {"acnt_evlt_remn_indv_tot": [{"stk_cd": "A000660", "rmnd_qty": "000000000000001"}]},
        ]
    )
    assert bal.total_purchase == 17598258
    assert bal.total_profit == -196888
    assert [h.code for h in bal.holdings] == ["005930", "000660"]
    h = bal.holdings[0]
    assert (h.qty, h.avg_price, h.current_price, h.profit) == (3, 124500, 70000, -164150)


def test_open_orders_rows() -> None:
    (o,) = w.parse_open_orders(
        {
            "oso": [
                {
                    "ord_no": "0000050",
                    "stk_cd": "005930",
                    "ord_stt": "접수",
                    "ord_qty": "10",
                    "ord_pric": "75000",
                    "oso_qty": "7",
                    "cntr_qty": "3",
                    "cntr_pric": "75000",
                    "orig_ord_no": "0000000",
                    "io_tp_nm": "+매수",
                    "trde_tp": "보통",
                    "tm": "154113",
                    "stex_tp_txt": "KRX",
                }
            ]
        },
        date(2025, 3, 4),
    )
    assert o.side is Side.BUY
    assert o.original_order_no is None
    assert (o.order_qty, o.open_qty, o.filled_qty, o.filled_price) == (10, 7, 3, 75000)
    assert o.time == datetime(2025, 3, 4, 15, 41, 13, tzinfo=KST)


def test_cash_by_margin_rate() -> None:
    cash = w.parse_cash(
        {
            "entr": "000000000017534",
            "ord_alow_amt": "000000000085341",
            "pymn_alow_amt": "000000000017534",
            "d2_entra": "000000000012550",
            "20stk_ord_alow_amt": "000000000012550",
            "100stk_ord_alow_amt": "000000000012550",
        }
    )
    assert (cash.deposit, cash.orderable, cash.d2_deposit) == (17534, 85341, 12550)
    assert cash.orderable_by_margin == {20: 12550, 100: 12550}


def test_token_response() -> None:
    token, expires = w.parse_token(
        {"expires_dt": "20241107083713", "token_type": "bearer", "token": "WQJCwyqInph"}
    )
    assert token == "WQJCwyqInph"
    assert expires == datetime(2024, 11, 7, 8, 37, 13, tzinfo=KST)
    with pytest.raises(ProtocolError):
        w.parse_token({"return_code": 0})
