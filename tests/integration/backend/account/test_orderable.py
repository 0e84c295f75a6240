"""``GET /api/account/orderable`` against the simulator (a cash account: 최대 = 현금): the
quantities are kt00011's for the price asked (one share more is refused by the broker),
sells answer the sellable shares, and bad input is the house's 422 naming the field."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gslts_kiwoom import OrderType
from tests.e2e.harness import Market, own_schema
from tests.integration.backend.account.test_account import backend_settings, trader_client
from tests.integration.backend.ws.harness import auth, serve

pytestmark = pytest.mark.integration


@pytest.fixture
def market() -> Iterator[Market]:
    m = Market(trades_per_s=50).start()
    try:
        yield m
    finally:
        m.stop()


def test_orderable_quantities_for_a_price_and_the_sellable_shares(
    market: Market, mysql_server_url: str
) -> None:
    kiwoom = trader_client(market)
    try:
        with own_schema(mysql_server_url) as db_url:
            settings = backend_settings(market, db_url, "http://127.0.0.1:9")  # no hub
            with serve(settings) as srv:
                api = httpx.Client(base_url=srv.url, timeout=30, headers=auth(1))
                cash = kiwoom.get_cash().orderable
                r = api.get("/api/account/orderable", params={"code": "005930", "price": "50000"})
                assert r.status_code == 200, r.text
                body = r.json()
                assert body["side"] == "buy"
                assert body["price"] == 50_000
                # the broker's own reservation per share: price + commission (+ rounding)
                assert 0 < body["cash_qty"] <= cash // 50_000
                assert body["cash_qty"] >= cash // 50_100
                assert body["max_qty"] == body["cash_qty"]  # a cash account: no 미수
                assert body["cash_amount"] == cash
                assert body["applied_margin_rate"] == 100
                # half the price, about twice the shares
                half = api.get(
                    "/api/account/orderable", params={"code": "005930", "price": "25000"}
                ).json()
                assert half["cash_qty"] >= 2 * body["cash_qty"]

                # sells: what can be sold now
                none = api.get(
                    "/api/account/orderable",
                    params={"code": "005930", "price": "50000", "side": "sell"},
                ).json()
                assert none["cash_qty"] == none["max_qty"] == 0
                kiwoom.buy("005930", 3, order_type=OrderType.MARKET)
                sell = api.get(
                    "/api/account/orderable",
                    params={"code": "005930", "price": "50000", "side": "sell"},
                ).json()
                assert sell["cash_qty"] == sell["max_qty"] == 3
                assert sell["cash_amount"] == sell["max_amount"] == 0

                for params, field in (
                    ({"code": "5930", "price": "50000"}, "code"),
                    ({"code": "005930", "price": "0"}, "price"),
                    ({"code": "005930", "price": "-5"}, "price"),
                    ({"code": "005930", "price": "1e5"}, "price"),
                    ({"code": "005930", "price": "50000", "side": "short"}, "side"),
                    ({"code": "005930"}, "price"),
                ):
                    bad = api.get("/api/account/orderable", params=params)
                    assert bad.status_code == 422, (params, bad.text)
                    assert bad.json()["error"] == "BadInput"
                    assert bad.json()["field"] == field, bad.json()
                anon = httpx.get(srv.url + "/api/account/orderable", params={"code": "005930"})
                assert anon.status_code == 401
    finally:
        kiwoom.close()
