"""The account's arithmetic and what counts as an account change (no services): holdings
valued at the live price when there is one, P&L and returns from integers, totals that
agree with the rows."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from gslts_backend.account.service import AccountService, Snapshot, is_account_change, pct
from gslts_backend.events import BackendEvents
from gslts_kiwoom import Balance, Cash, Holding, KiwoomClient
from gslts_kiwoom.krx import KST


def _holding(code: str, qty: int, avg: int, cur: int) -> Holding:
    return Holding(
        code=code,
        name=code,
        qty=qty,
        sellable_qty=qty,
        avg_price=avg,
        current_price=cur,
        prev_close=cur,
        purchase_amount=qty * avg,
        evaluation_amount=qty * cur,
        profit=qty * (cur - avg),
        profit_rate=Decimal(0),
        commission=0,
        tax=0,
        weight=None,
    )


def _snap(*holdings: Holding) -> Snapshot:
    balance = Balance(0, 0, 0, Decimal(0), 0, holdings)
    cash = Cash(
        deposit=1_000_000,
        orderable=900_000,
        withdrawable=800_000,
        d1_deposit=1_000_000,
        d2_deposit=950_000,
        orderable_by_margin={},
    )
    return Snapshot(balance, cash, datetime(2026, 3, 3, 10, tzinfo=KST), 0.0)


def _service(prices: dict[str, int]) -> AccountService:
    def no_client() -> KiwoomClient:
        raise AssertionError("no Kiwoom call in these tests")

    return AccountService(no_client, prices.get, BackendEvents(), ttl_s=5)


def test_holdings_are_valued_at_the_live_price_else_kiwoom_s() -> None:
    svc = _service({"005930": 72_000})
    doc = svc.view(
        _snap(_holding("005930", 10, 70_000, 71_000), _holding("000660", 3, 200_000, 190_000))
    )
    live, other = doc["holdings"]
    assert (live["price"], live["price_source"]) == (72_000, "live")
    assert live["evaluation"] == 720_000
    assert live["profit"] == 20_000
    assert live["return_pct"] == Decimal("2.86")
    assert (other["price"], other["price_source"]) == (190_000, "kiwoom")
    assert other["profit"] == -30_000
    assert other["return_pct"] == Decimal("-5.00")
    assert doc["total_purchase"] == 700_000 + 600_000
    assert doc["total_evaluation"] == 720_000 + 570_000
    assert doc["total_profit"] == -10_000
    assert doc["total_return_pct"] == pct(-10_000, 1_300_000) == Decimal("-0.77")
    assert doc["cash"] == 1_000_000
    assert doc["orderable_cash"] == 900_000
    assert doc["estimated_assets"] == 950_000 + 1_290_000


def test_an_empty_account_has_zero_returns() -> None:
    doc = _service({}).view(_snap(_holding("005930", 0, 70_000, 71_000)))
    assert doc["holdings"] == []
    assert doc["total_return_pct"] == Decimal("0.00")


def test_what_refreshes_the_account() -> None:
    assert is_account_change({"kind": "balance", "code": "005930"})
    assert is_account_change({"kind": "order", "fill_qty": 3})
    assert not is_account_change({"kind": "order", "fill_qty": None})  # accepted, no fill
    assert not is_account_change({"kind": "order", "fill_qty": 0})


def test_a_change_a_request_fetched_first_is_still_pushed() -> None:
    """A page refetching its own account right after a fill sees the change before the
    event's refresh does: the refresh must push it anyway (the other browsers wait for
    it), and a refresh that finds nothing new since the last push pushes nothing."""
    events = BackendEvents()
    pushed: list[dict[str, Any]] = []
    events.subscribe(lambda kind, user, payload: pushed.append(payload))
    svc = AccountService(lambda: None, {}.get, events, ttl_s=5)  # type: ignore[arg-type,return-value]
    before, after = _snap(), _snap(_holding("005930", 3, 70_000, 70_000))
    svc._push_if_changed(before)  # the first refresh: pushed
    assert len(pushed) == 1
    svc._snap = after  # a request fetched the fill first (the cache holds it)
    svc._push_if_changed(after)  # the event's refresh fetches the same: still pushed
    assert len(pushed) == 2
    assert [h["quantity"] for h in pushed[-1]["holdings"]] == [3]
    svc._push_if_changed(after)  # nothing new since the last push
    assert len(pushed) == 2
