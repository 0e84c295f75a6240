"""The checks before any broker call (gslts_backend.orders.rules), and the real-money
refusal of the order routes, without a broker."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gslts_backend.app import create_app
from gslts_backend.orders.rules import (
    TYPE_NAMES,
    Funds,
    check_fields,
    check_funds,
    check_price,
    check_session,
    check_venue,
    type_catalogue,
)
from gslts_common.errors import BadInput
from gslts_kiwoom import OrderType
from gslts_kiwoom.krx import KST
from tests.unit.backend.auth.conftest import bearer, make_settings

# 2026-03-03 is a Tuesday and a KRX trading day
DAY = (2026, 3, 3)


def at(h: int, m: int) -> datetime:
    return datetime(*DAY, h, m, tzinfo=KST)


def refused(fn: object, *args: object) -> str | None:
    """The field a check refuses (its Korean message required), or None when it passes."""
    try:
        fn(*args)  # type: ignore[operator]
    except BadInput as exc:
        err = exc
    else:
        return None
    assert err.detail_ko, err.detail
    return err.field


@pytest.mark.parametrize(
    ("t", "venue", "when", "ok"),
    [
        (OrderType.LIMIT, "KRX", at(10, 0), True),
        (OrderType.LIMIT, "KRX", at(8, 35), True),  # the opening call auction takes 보통
        (OrderType.MARKET, "KRX", at(15, 25), True),  # the closing one takes 시장가
        (OrderType.BEST_LIMIT, "KRX", at(8, 35), False),  # 최유리 needs a continuous book
        (OrderType.LIMIT_IOC, "KRX", at(15, 25), False),
        (OrderType.LIMIT, "KRX", at(7, 0), False),  # before anything opens
        (OrderType.LIMIT, "NXT", at(8, 10), True),  # NXT pre-market
        (OrderType.LIMIT, "NXT", at(19, 30), True),  # NXT after-market
        (OrderType.LIMIT, "KRX", at(19, 30), False),
        (OrderType.LIMIT, "SOR", at(19, 30), True),  # either venue
        (OrderType.PRE_OPEN_CLOSE_PRICE, "KRX", at(8, 35), True),
        (OrderType.PRE_OPEN_CLOSE_PRICE, "KRX", at(10, 0), False),
        (OrderType.POST_CLOSE_CLOSE_PRICE, "KRX", at(15, 45), True),
        (OrderType.AFTER_HOURS_SINGLE_PRICE, "KRX", at(16, 30), True),
        (OrderType.AFTER_HOURS_SINGLE_PRICE, "KRX", at(15, 45), False),
        (OrderType.LIMIT, "KRX", datetime(2026, 3, 1, 10, 0, tzinfo=KST), False),  # a Sunday
    ],
)
def test_the_session_phase_decides_what_may_be_entered(
    t: OrderType, venue: str, when: datetime, ok: bool
) -> None:
    field = refused(check_session, t, venue, when, "krx")
    assert (field is None) is ok, (t, venue, when)
    if not ok:
        assert field == "order_type"


def test_always_rules_take_every_regular_type_at_any_hour_and_no_off_hours_type() -> None:
    assert refused(check_session, OrderType.BEST_IOC, "KRX", at(3, 0), "always") is None
    for t in (
        OrderType.PRE_OPEN_CLOSE_PRICE,
        OrderType.POST_CLOSE_CLOSE_PRICE,
        OrderType.AFTER_HOURS_SINGLE_PRICE,
    ):
        assert refused(check_session, t, "KRX", at(15, 45), "always") == "order_type"


def test_fields_each_type_needs() -> None:
    assert refused(check_fields, OrderType.LIMIT, 1, None, None, 10) == "price"
    assert refused(check_fields, OrderType.MARKET, 1, 1000, None, 10) == "price"
    assert refused(check_fields, OrderType.STOP_LIMIT, 1, 1000, None, 10) == "stop_price"
    assert refused(check_fields, OrderType.LIMIT, 1, 1000, 900, 10) == "stop_price"
    assert refused(check_fields, OrderType.LIMIT, 0, 1000, None, 10) == "quantity"
    assert refused(check_fields, OrderType.LIMIT, 11, 1000, None, 10) == "quantity"
    assert refused(check_fields, OrderType.MID_PRICE, 1, None, None, 10) is None


def test_venues_and_prices() -> None:
    assert refused(check_venue, OrderType.MID_PRICE, "KRX", True) == "venue"
    assert refused(check_venue, OrderType.STOP_LIMIT, "SOR", True) is None
    assert refused(check_venue, OrderType.POST_CLOSE_CLOSE_PRICE, "NXT", True) == "venue"
    assert refused(check_venue, OrderType.LIMIT, "NXT", False) == "venue"  # not on NXT
    assert refused(check_price, "price", 72_050, 50_000, 90_000) == "price"  # 100-won steps
    assert refused(check_price, "price", 72_100, 50_000, 90_000) is None
    assert refused(check_price, "price", 90_100, 50_000, 90_000) == "price"  # above 상한가
    assert refused(check_price, "price", 1_999, 1_000, 3_000) is None  # 1-won steps below 2,000
    assert refused(check_price, "price", 1_999, 1_000, 1_500) == "price"


def test_cash_with_fees_and_sellable_shares() -> None:
    funds = Funds(orderable_cash=1_000_150, sellable=5)
    # 10 × 100,000 = 1,000,000 + 0.015 % = 1,000,150: exactly enough
    assert refused(check_funds, "buy", 10, 100_000, funds, 0.00015) is None
    assert refused(check_funds, "buy", 10, 100_100, funds, 0.00015) == "quantity"
    assert refused(check_funds, "sell", 5, 100_000, funds, 0.00015) is None
    assert refused(check_funds, "sell", 6, 100_000, funds, 0.00015) == "quantity"


def test_the_catalogue_lists_every_kiwoom_order_type() -> None:
    cat = type_catalogue()
    assert {c["code"] for c in cat} == {t.value for t in OrderType}
    assert set(TYPE_NAMES) == {c["order_type"] for c in cat}


def test_real_mode_without_opt_in_refuses_every_order_route_first(tmp_path: Path) -> None:
    s = make_settings(
        tmp_path,
        kiwoom_mode="real",
        kiwoom_app_key="real-app-key-for-a-test",
        kiwoom_secret_key="real-secret-key-for-a-test",
        kiwoom_allow_real_orders=False,
    )
    app = create_app(s)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        admin = bearer(c)
        body = {"stock_code": "005930", "side": "buy", "quantity": 1, "order_type": "market"}
        r = c.post("/api/orders", json=body, headers=admin)
        assert r.status_code == 403, r.text
        assert "KIWOOM_ALLOW_REAL_ORDERS" in r.json()["detail"]
        assert r.json()["detail_ko"]
        for method, path in (("PATCH", "/api/orders/1"), ("DELETE", "/api/orders/1")):
            r = c.request(
                method, path, json={"price": 1000} if method == "PATCH" else None, headers=admin
            )
            assert r.status_code == 403, (method, r.text)
        # nothing was stored, no order call was made
        assert c.get("/api/orders", headers=admin).json()["orders"] == []
        assert app.state.orders.broker_calls == 0
        assert c.get("/api/session", headers=admin).json()["orders_allowed"] is False
