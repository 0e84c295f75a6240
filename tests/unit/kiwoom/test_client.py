"""KiwoomClient behaviour against a fake server through ``httpx.MockTransport``."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gslts_kiwoom import (
    AuthError,
    BatchLimitError,
    FileTokenCache,
    InputError,
    OrderRejectedError,
    OrderType,
    ProtocolError,
    RateLimitError,
    RealOrdersDisabledError,
    Side,
    Timeout,
    TransportError,
    UnknownApiError,
)

from .fakes import APP_KEY, KST, OK, SECRET_KEY, Clock, FakeKiwoom, make_client, reply

QUOTE = {**OK, "stk_cd": "005930", "stk_nm": "삼성전자", "cur_prc": "-78800", "pred_pre": "-500"}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> FakeKiwoom:
    s = FakeKiwoom(clock)
    s.handlers["ka10001"] = lambda req, body: reply(QUOTE)
    return s


def test_token_issued_once_and_sent_with_common_headers(server: FakeKiwoom) -> None:
    with make_client(server) as client:
        assert client.get_quote("005930").price == 78800
        client.get_quote("005930")
    assert len(server.issued) == 1
    token_req = server.requests[0]
    assert token_req.url.path == "/oauth2/token"
    assert orjson.loads(token_req.content) == {
        "grant_type": "client_credentials",
        "appkey": APP_KEY,
        "secretkey": SECRET_KEY,
    }
    req = server.calls("ka10001")[0]
    assert req.method == "POST"
    assert req.url.path == "/api/dostk/stkinfo"
    assert req.headers["authorization"] == f"Bearer {server.issued[0]}"
    assert req.headers["content-type"] == "application/json;charset=UTF-8"
    assert orjson.loads(req.content) == {"stk_cd": "005930"}
    assert "cont-yn" not in req.headers  # first page: no continuation headers


def test_token_reissued_before_expiry(server: FakeKiwoom, clock: Clock) -> None:
    server.lifetime = timedelta(hours=1)
    client = make_client(server, token_refresh_margin_s=300)
    client.get_quote("005930")
    clock.t += timedelta(minutes=50)
    client.get_quote("005930")
    assert len(server.issued) == 1
    clock.t += timedelta(minutes=6)  # 4 minutes left < 5-minute margin
    client.get_quote("005930")
    assert len(server.issued) == 2
    assert server.calls("ka10001")[-1].headers["authorization"] == f"Bearer {server.issued[1]}"
    assert client.token_expires_at() == clock.t + timedelta(hours=1)


def test_8005_reissues_token_once_and_retries(server: FakeKiwoom) -> None:
    client = make_client(server)
    client.get_quote("005930")
    server.valid.clear()  # the server forgets every token (e.g. re-login elsewhere)
    assert client.get_quote("005930").name == "삼성전자"
    assert len(server.issued) == 2
    assert len(server.calls("ka10001")) == 3


def test_second_8005_surfaces_auth_error(server: FakeKiwoom) -> None:
    client = make_client(server)
    server.handlers["ka10001"] = lambda req, body: reply(
        {"return_code": 3, "return_msg": "인증에 실패했습니다[8005:Token이 유효하지 않습니다]"}
    )
    with pytest.raises(AuthError) as exc:
        client.get_quote("005930")
    assert exc.value.detail_code == "8005"
    assert len(server.issued) == 2  # one re-issue, not a loop
    assert len(server.calls("ka10001")) == 2


def test_bad_app_key_is_auth_error_without_retry(server: FakeKiwoom) -> None:
    client = make_client(server, app_key="WRONGKEY12345")
    with pytest.raises(AuthError) as exc:
        client.get_quote("005930")
    assert exc.value.detail_code == "8001"
    assert len(server.calls("ka10001")) == 0
    assert len([r for r in server.requests if r.url.path == "/oauth2/token"]) == 1


def _rate_limited(n: int) -> Any:
    state = {"left": n}

    def handler(req: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        if state["left"] > 0:
            state["left"] -= 1
            return reply(
                {
                    "return_code": 5,
                    "return_msg": "허용된 요청 개수를 초과하였습니다"
                    "[1700:허용된 요청 개수를 초과하였습니다. 유량=5, API ID=ka10001]",
                },
                status=429,
            )
        return reply(QUOTE)

    return handler


def test_429_backs_off_exponentially_then_succeeds(server: FakeKiwoom, clock: Clock) -> None:
    server.handlers["ka10001"] = _rate_limited(3)
    client = make_client(server, rate_limit_retries=5)
    assert client.get_quote("005930").price == 78800
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert len(server.calls("ka10001")) == 4
    # counted, so a status page can say the server is rate-limiting us
    # (two calls: the token, au10001, and the quote)
    assert (client.stats.calls, client.stats.rate_limited, client.stats.errors) == (2, 3, 0)


def test_rate_limit_retries_exhausted(server: FakeKiwoom, clock: Clock) -> None:
    server.handlers["ka10001"] = _rate_limited(100)
    client = make_client(server, rate_limit_retries=2)
    with pytest.raises(RateLimitError) as exc:
        client.get_quote("005930")
    assert exc.value.http_status == 429
    assert exc.value.detail_code == "1700"
    assert len(server.calls("ka10001")) == 3
    assert clock.sleeps == [0.5, 1.0]
    assert (client.stats.rate_limited, client.stats.errors) == (3, 1)
    assert client.stats.last_error == "ka10001: RateLimitError"


def test_1634_batch_limit_is_never_retried(server: FakeKiwoom, clock: Clock) -> None:
    server.handlers["ka10095"] = lambda req, body: reply(
        {"return_code": 5, "return_msg": "허용된 요청 개수를 초과하였습니다[1634:종목 수 초과]"}
    )
    client = make_client(server)
    with pytest.raises(BatchLimitError):
        client.request("ka10095", {"stk_cd": "|".join(["005930"] * 101)})
    assert len(server.calls("ka10095")) == 1
    assert clock.sleeps == []


def test_order_429_is_retried(server: FakeKiwoom) -> None:
    calls = {"n": 0}

    def handler(req: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return reply({"return_code": 5, "return_msg": "[1700:유량=5]"}, status=429)
        return reply({**OK, "ord_no": "0000138", "dmst_stex_tp": "KRX"})

    server.handlers["kt10000"] = handler
    ack = make_client(server).buy("005930", 1, 70000)
    assert ack.order_no == "0000138"
    assert calls["n"] == 2


def test_paging_follows_cont_yn_and_next_key(server: FakeKiwoom) -> None:
    pages = {None: ("Y", "K1"), "K1": ("Y", "K2"), "K2": ("Y", "K3"), "K3": ("N", "")}
    seen: list[tuple[str | None, str | None, bytes]] = []

    def handler(req: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        key = req.headers.get("next-key")
        seen.append((req.headers.get("cont-yn"), key, req.content))
        cont, nxt = pages[key]
        # Alternate header spellings like the real server / official SDK do.
        headers = {"Cont-Yn": cont, "Next-Key": nxt} if key else {"cont-yn": cont, "next-key": nxt}
        return reply(
            {**OK, "list": [{"code": f"{len(seen):06d}", "name": f"S{len(seen)}"}]}, headers=headers
        )

    server.handlers["ka10099"] = handler
    stocks = make_client(server).list_stocks("0")
    assert [s.code for s in stocks] == ["000001", "000002", "000003", "000004"]
    assert [(c, k) for c, k, _ in seen] == [(None, None), ("Y", "K1"), ("Y", "K2"), ("Y", "K3")]
    assert len({body for _, _, body in seen}) == 1  # the same body on every page


def test_iter_pages_respects_max_pages(server: FakeKiwoom) -> None:
    server.handlers["ka10099"] = lambda req, body: reply(
        {**OK, "list": []}, headers={"cont-yn": "Y", "next-key": "again"}
    )
    pages = list(make_client(server).iter_pages("ka10099", {"mrkt_tp": "0"}, max_pages=3))
    assert len(pages) == 3
    assert all(p.has_next for p in pages)
    assert pages[0].next_key == "again"


def _raise(exc: Exception) -> Any:
    def handler(req: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        raise exc

    return handler


def test_order_timeout_is_not_retried(server: FakeKiwoom) -> None:
    server.handlers["kt10000"] = _raise(httpx.ReadTimeout("read timed out"))
    client = make_client(server)
    with pytest.raises(Timeout) as exc:
        client.buy("005930", 1, 70000)
    assert exc.value.request_sent
    assert len(server.calls("kt10000")) == 1


def test_order_dropped_connection_is_not_retried(server: FakeKiwoom) -> None:
    server.handlers["kt10003"] = _raise(httpx.RemoteProtocolError("peer closed"))
    with pytest.raises(TransportError):
        make_client(server).cancel_order("0000138", "005930")
    assert len(server.calls("kt10003")) == 1


def test_order_refused_connection_is_retried_because_nothing_was_sent(server: FakeKiwoom) -> None:
    n = {"calls": 0}

    def handler(req: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        n["calls"] += 1
        if n["calls"] == 1:
            raise httpx.ConnectError("connection refused")
        return reply({**OK, "ord_no": "0000139", "dmst_stex_tp": "KRX"})

    server.handlers["kt10001"] = handler
    assert make_client(server).sell("005930", 1, 70000).order_no == "0000139"
    assert n["calls"] == 2


def test_read_timeout_is_retried_for_reads_then_raised(server: FakeKiwoom) -> None:
    server.handlers["ka10001"] = _raise(httpx.ReadTimeout("slow"))
    with pytest.raises(Timeout):
        make_client(server).get_quote("005930")
    assert len(server.calls("ka10001")) == 2  # one retry (transport_retries=1)


def test_non_json_body_is_protocol_error(server: FakeKiwoom) -> None:
    server.handlers["ka10001"] = lambda req, body: httpx.Response(200, content=b"<html>")
    with pytest.raises(ProtocolError):
        make_client(server).get_quote("005930")


def test_unknown_and_websocket_api_ids_are_refused(server: FakeKiwoom) -> None:
    client = make_client(server)
    with pytest.raises(UnknownApiError):
        client.request("ka99999", {})
    with pytest.raises(UnknownApiError, match="WebSocket"):
        client.request("0B", {})
    assert server.requests == []


def test_input_error_carries_detail(server: FakeKiwoom) -> None:
    server.handlers["kt10003"] = lambda req, body: reply(
        {"return_code": 2, "return_msg": "입력 값 오류입니다[1511:필수입력 파라미터=cncl_qty]"}
    )
    with pytest.raises(InputError) as exc:
        make_client(server).cancel_order("0000138", "005930")
    assert exc.value.detail_code == "1511"
    assert "cncl_qty" in str(exc.value)


def test_order_rejection(server: FakeKiwoom) -> None:
    server.handlers["kt10000"] = lambda req, body: reply(
        {"return_code": 20, "return_msg": "[2000](855056:매수증거금이 부족합니다. 2주 매수가능)"}
    )
    with pytest.raises(OrderRejectedError) as exc:
        make_client(server).buy("005930", 100, 70000)
    assert exc.value.detail_code == "855056"
    assert len(server.calls("kt10000")) == 1


def test_order_bodies(server: FakeKiwoom) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(req: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        bodies.append(body)
        return reply(
            {
                **OK,
                "ord_no": "0000140",
                "base_orig_ord_no": "0000139",
                "mdfy_qty": "000000000002",
                "cncl_qty": "000000000000",
                "dmst_stex_tp": "KRX",
            }
        )

    for api in ("kt10000", "kt10001", "kt10002", "kt10003"):
        server.handlers[api] = handler
    client = make_client(server)
    client.buy("005930", 3, order_type=OrderType.MARKET)
    client.sell("005930", 2, 71000)
    mod = client.modify_order("0000139", "005930", 2, 70500)
    client.cancel_order("0000140", "005930")
    assert bodies[0] == {
        "dmst_stex_tp": "KRX",
        "stk_cd": "005930",
        "ord_qty": "3",
        "ord_uv": "",
        "trde_tp": "3",
        "cond_uv": "",
    }
    assert bodies[1]["ord_uv"] == "71000"
    assert bodies[1]["trde_tp"] == "0"
    assert bodies[2] == {
        "dmst_stex_tp": "KRX",
        "orig_ord_no": "0000139",
        "stk_cd": "005930",
        "mdfy_qty": "2",
        "mdfy_uv": "70500",
        "mdfy_cond_uv": "",
    }
    assert (mod.order_no, mod.root_order_no, mod.qty) == ("0000140", "0000139", 2)
    assert bodies[3] == {
        "dmst_stex_tp": "KRX",
        "orig_ord_no": "0000140",
        "stk_cd": "005930",
        "cncl_qty": "0",
    }


def test_order_arguments_checked_before_sending(server: FakeKiwoom) -> None:
    client = make_client(server)
    with pytest.raises(ValueError, match="price"):
        client.buy("005930", 1)  # LIMIT without price
    with pytest.raises(ValueError, match="no price"):
        client.buy("005930", 1, 70000, order_type=OrderType.MARKET)
    with pytest.raises(ValueError, match="stop_price"):
        client.sell("005930", 1, 70000, order_type=OrderType.STOP_LIMIT)
    with pytest.raises(ValueError, match="positive"):
        client.sell("005930", 0, 70000)
    assert server.requests == []


def test_order_type_codes() -> None:
    assert sorted(int(t.value) for t in OrderType) == [
        0,
        3,
        5,
        6,
        7,
        10,
        13,
        16,
        20,
        23,
        26,
        28,
        29,
        30,
        31,
        61,
        62,
        81,
    ]


def _minute_pages() -> Any:
    base = datetime(2025, 3, 4, 15, 30, tzinfo=KST)

    def rows(start: int) -> list[dict[str, str]]:
        out = []
        for i in range(start, start + 10):  # newest first
            t = base - timedelta(minutes=i)
            out.append(
                {
                    "cur_prc": f"-{70000 + i}",
                    "trde_qty": "10",
                    "cntr_tm": t.strftime("%Y%m%d%H%M%S"),
                    "open_pric": "70000",
                    "high_pric": "+71000",
                    "low_pric": "-69000",
                }
            )
        return out

    def handler(req: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        page = int(req.headers.get("next-key") or 0)
        return reply(
            {**OK, "stk_cd": "005930", "stk_min_pole_chart_qry": rows(page * 10)},
            headers={"cont-yn": "Y", "next-key": str(page + 1)},
        )

    return handler, base


def test_minute_chart_pages_until_since_and_returns_oldest_first(server: FakeKiwoom) -> None:
    handler, base = _minute_pages()
    server.handlers["ka10080"] = handler
    client = make_client(server)
    one = client.get_minute_chart("005930", 1)
    assert len(one) == 10
    assert len(server.calls("ka10080")) == 1
    assert one[0].time < one[-1].time == base
    since = base - timedelta(minutes=25)
    bars = client.get_minute_chart("005930", 1, since=since)
    assert len(server.calls("ka10080")) == 1 + 3
    assert bars[0].time == since
    assert bars[-1].time == base
    assert len(bars) == 26
    body = orjson.loads(server.calls("ka10080")[0].content)
    assert body == {"stk_cd": "005930", "tic_scope": "1", "upd_stkpc_tp": "1"}
    capped = client.get_minute_chart("005930", 1, max_pages=2)
    assert len(capped) == 20


def test_account_queries(server: FakeKiwoom) -> None:
    server.handlers["ka10075"] = lambda req, body: reply(
        {
            **OK,
            "oso": [
                {
                    "ord_no": "0000141",
                    "stk_cd": "005930",
                    "io_tp_nm": "-매도",
                    "ord_qty": "5",
                    "oso_qty": "5",
                    "ord_pric": "72000",
                    "tm": "100000",
                }
            ],
        }
    )
    server.handlers["kt00001"] = lambda req, body: reply(
        {**OK, "entr": "000000010000000", "ord_alow_amt": "000000009000000"}
    )
    client = make_client(server)
    (o,) = client.open_orders("005930", side=Side.SELL)
    assert o.side is Side.SELL
    assert o.open_qty == 5
    assert o.order_price == 72000
    assert orjson.loads(server.calls("ka10075")[0].content) == {
        "all_stk_tp": "1",
        "trde_tp": "1",
        "stk_cd": "005930",
        "stex_tp": "0",
    }
    cash = client.get_cash()
    assert cash.deposit == 10_000_000
    assert cash.orderable == 9_000_000
    assert orjson.loads(server.calls("kt00001")[0].content) == {"qry_tp": "3"}


def test_secrets_absent_from_errors_and_logs(
    server: FakeKiwoom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gslts_kiwoom")
    client = make_client(server)
    client.get_quote("005930")
    token = server.issued[0]
    server.handlers["ka10001"] = lambda req, body: reply(
        {
            "return_code": 2,
            "return_msg": "입력 값 오류입니다"
            f"[1517:{APP_KEY} {SECRET_KEY} {req.headers['authorization']}]",
        }
    )
    with pytest.raises(InputError) as exc:
        client.get_quote("005930")
    text = str(exc.value) + repr(exc.value) + exc.value.server_message + caplog.text + repr(client)
    for secret in (APP_KEY, SECRET_KEY, token):
        assert secret not in text
    assert "kiwoom_call api_id=ka10001 rc=0" in caplog.text
    assert "kiwoom_call api_id=au10001" in caplog.text


def test_shared_file_cache_avoids_second_issue(server: FakeKiwoom, tmp_path: Path) -> None:
    make_client(server, token_cache=FileTokenCache(tmp_path)).get_quote("005930")
    make_client(server, token_cache=FileTokenCache(tmp_path)).get_quote("005930")
    assert len(server.issued) == 1


def test_revoke_forgets_token(server: FakeKiwoom) -> None:
    client = make_client(server)
    client.get_quote("005930")
    client.revoke_token()
    assert server.valid == set()
    client.get_quote("005930")
    assert len(server.issued) == 2


def test_tick_chart_keeps_every_trade_of_the_same_second(server: FakeKiwoom) -> None:
    """ka10079 rows are trades: two in one second are two rows (the backfill needs both)."""

    def rows(prices: list[int], second: str) -> list[dict[str, str]]:
        return [
            {
                "cur_prc": f"+{p}",
                "trde_qty": str(10 + i),
                "cntr_tm": f"20250304{second}",
                "open_pric": f"+{p}",
                "high_pric": f"+{p}",
                "low_pric": f"+{p}",
                "pred_pre": "+100",
                "pred_pre_sig": "2",
            }
            for i, p in enumerate(prices)
        ]

    newest_first = rows([70300, 70200], "090002") + rows([70100, 70000, 69900], "090001")
    server.handlers["ka10079"] = lambda req, body: reply(
        {**OK, "stk_cd": "005930", "last_tic_cnt": "", "stk_tic_chart_qry": newest_first}
    )
    with make_client(server) as client:
        ticks = client.get_tick_chart("005930")
    assert [t.close for t in ticks] == [69900, 70000, 70100, 70200, 70300]


def test_token_force_new_replaces_the_held_token(server: FakeKiwoom) -> None:
    with make_client(server) as client:
        first = client.token()
        assert client.token() == first
        second = client.token(force_new=True)
    assert second != first
    assert len(server.issued) == 2


def test_real_mode_orders_need_the_explicit_opt_in(server: FakeKiwoom) -> None:
    """Nothing is sent for a real-money order unless allow_real_orders is set."""
    server.handlers["kt10000"] = lambda req, body: reply({**OK, "ord_no": "0000001"})
    with make_client(server, mode="real") as client:
        with pytest.raises(RealOrdersDisabledError, match="KIWOOM_ALLOW_REAL_ORDERS"):
            client.buy("005930", 1, 70000)
        client.get_quote("005930")  # reads are fine
    assert server.calls("kt10000") == []
    with make_client(server, mode="real", allow_real_orders=True) as client:
        assert client.buy("005930", 1, 70000).order_no == "0000001"
