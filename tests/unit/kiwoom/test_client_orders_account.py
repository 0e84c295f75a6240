"""The request bodies and paging of ``order_history`` (kt00007) and ``orderable_quantity``
(kt00011 for buys, kt00018 for sells), against a scripted server."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import orjson
import pytest

from gslts_kiwoom import Side

from .fakes import OK, Clock, FakeKiwoom, make_client, reply


def _row(no: str) -> dict[str, str]:
    return {
        "ord_no": no,
        "stk_cd": "A005930",
        "trde_tp": "보통",
        "ord_qty": "0000000002",
        "ord_uv": "0000067000",
        "cntr_qty": "0000000001",
        "cntr_uv": "0000067000",
        "ord_remnq": "0000000001",
        "ori_ord": "0000000",
        "io_tp_nm": "현금매수",
        "acpt_tp": "접수",
        "mdfy_cncl": "",
        "ord_tm": "09:01:02",
        "dmst_stex_tp": "KRX",
    }


def test_order_history_sends_kt00007_and_follows_every_page() -> None:
    server = FakeKiwoom(Clock())
    pages = iter(
        [
            ([_row("0000001"), _row("0000002")], {"cont-yn": "Y", "next-key": "k2"}),
            ([_row("0000003")], {"cont-yn": "N", "next-key": ""}),
        ]
    )

    def kt00007(request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        rows, headers = next(pages, ([], {"cont-yn": "N"}))
        return reply({**OK, "acnt_ord_cntr_prps_dtl": rows}, headers=headers)

    server.handlers["kt00007"] = kt00007
    client = make_client(server)
    entries = client.order_history("005930", side=Side.BUY, order_no_from="0000001", venue="KRX")
    assert [e.order_no for e in entries] == ["0000001", "0000002", "0000003"]
    assert entries[0].code == "005930"
    assert entries[0].time is not None
    assert entries[0].time.date() == date(2025, 3, 4)  # the client's today (KST)
    first, second = server.calls("kt00007")

    assert orjson.loads(first.content) == {
        "ord_dt": "",  # blank: the server's today
        "qry_tp": "1",
        "stk_bond_tp": "1",
        "sell_tp": "2",
        "stk_cd": "005930",
        "fr_ord_no": "0000001",
        "dmst_stex_tp": "KRX",
    }
    assert (second.headers["cont-yn"], second.headers["next-key"]) == ("Y", "k2")
    client.order_history(day=date(2025, 3, 3))
    assert orjson.loads(server.calls("kt00007")[-1].content)["ord_dt"] == "20250303"
    assert orjson.loads(server.calls("kt00007")[-1].content)["dmst_stex_tp"] == "%"


def test_orderable_quantity_buy_and_sell() -> None:
    server = FakeKiwoom(Clock())
    server.handlers["kt00011"] = lambda request, body: reply(
        {
            **OK,
            "stk_profa_rt": "20%",
            "profa_rt": "100%",
            "aplc_rt": "100%",
            "profa_100ord_alow_amt": "000001000000",
            "profa_100ord_alowq": "000000000014",
            "min_ord_alow_amt": "000001000000",
            "min_ord_alowq": "000000000014",
        }
    )
    server.handlers["kt00018"] = lambda request, body: reply(
        {
            **OK,
            "acnt_evlt_remn_indv_tot": [
                {
                    "stk_cd": "A005930",
                    "rmnd_qty": "000000000000010",
                    "trde_able_qty": "000000000000007",
                }
            ],
        }
    )
    client = make_client(server)
    buy = client.orderable_quantity("005930", 67_000)
    assert (buy.cash_qty, buy.max_qty, buy.cash_amount, buy.price) == (14, 14, 1_000_000, 67_000)
    (req,) = server.calls("kt00011")

    assert orjson.loads(req.content) == {"stk_cd": "005930", "uv": "67000"}
    sell = client.orderable_quantity("005930", 67_000, Side.SELL)
    assert (sell.side, sell.cash_qty, sell.max_qty) == (Side.SELL, 7, 7)
    assert client.orderable_quantity("000660", 10_000, Side.SELL).max_qty == 0
    with pytest.raises(ValueError, match="positive price"):
        client.orderable_quantity("005930", 0)


def test_find_order_reads_from_its_number_then_the_whole_day() -> None:
    server = FakeKiwoom(Clock())
    day = ["0000001", "0000002", "0000003", "0000004"]

    def kt00007(request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        # a server that reads fr_ord_no as "up to" (not our reading): only older rows
        start = body["fr_ord_no"]
        rows = [no for no in day if not start or no <= start]
        cont = request.headers.get("cont-yn") == "Y"
        page = rows[2:] if cont else rows[:2]
        headers = {"cont-yn": "Y", "next-key": "p2"} if not cont and len(rows) > 2 else {}
        return reply({**OK, "acnt_ord_cntr_prps_dtl": [_row(no) for no in page]}, headers=headers)

    server.handlers["kt00007"] = kt00007
    client = make_client(server)
    found = client.find_order("3")
    assert found is not None
    assert found.order_no == "0000003"
    starts = [orjson.loads(r.content)["fr_ord_no"] for r in server.calls("kt00007")]
    assert starts == ["0000003", "0000003"]  # two pages from its number were enough
    assert client.find_order("0000009", "005930") is None
    last = [orjson.loads(r.content) for r in server.calls("kt00007")[-3:]]
    assert [b["fr_ord_no"] for b in last] == ["0000009", "", ""]  # then the whole day
    assert last[-1]["stk_cd"] == "005930"
