"""The order faults and the order panel's quantities through the library's clients over
real HTTP and WebSocket — what the order service's idempotency tests stand on:

* ``order_delay_ms`` (phase ``after``): the order is placed and its 00 접수 streamed while
  the answer is held, so a client that times out gets :class:`Timeout` with
  ``request_sent`` and finds the order in ka10075 / kt00007 (never place it again);
* phase ``before``: the order appears only after the delay;
* ``reject_orders``: accepted (an order number), then 00 거부 with the reason;
* ``orderable_quantity``: exactly that many shares are accepted, one more refused."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from gslts_kiwoom import (
    KiwoomClient,
    KiwoomConfig,
    OrderEvent,
    OrderRejectedError,
    OrderState,
    OrderType,
    Side,
    Timeout,
    krx,
)
from gslts_kiwoom.sim import OrderUpdate
from tests.integration.sim.conftest import DEADLINE_S, SimServer, collect, wait_until

Make = Callable[..., SimServer]
HOLD_MS = 3000


def impatient_client(srv: SimServer, timeout_s: float) -> KiwoomClient:
    config = KiwoomConfig.for_mode(
        "sim",
        app_key=SecretStr("app-key-sim-it"),
        secret_key=SecretStr("secret-sim-it"),
        rest_url=srv.rest_url,
        rate_per_s=1000.0,
        rate_burst=1000,
        timeout_s=timeout_s,
    )
    return KiwoomClient(config, backoff_base_s=0.05)


def accepted_at(srv: SimServer) -> list[float]:
    """Monotonic times of the simulator's 00 접수 events (when it applied an order)."""
    times: list[float] = []

    def on(e: object) -> None:
        if isinstance(e, OrderUpdate) and e.status == "접수":
            times.append(time.monotonic())

    srv.sim.add_listener(on)
    return times


def set_faults(srv: SimServer, **body: object) -> None:
    r = httpx.post(f"{srv.rest_url}/_sim/faults", json=body, timeout=DEADLINE_S)
    assert r.status_code == 200, r.text


def test_a_timed_out_order_was_placed_and_is_found_not_placed_twice(make_server: Make) -> None:
    srv = make_server(trades_per_s=0.0)
    code = srv.sim.market._focus[0][0]  # type: ignore[index]
    rest = srv.client()
    ws = srv.ws(rest)
    ws.subscribe([""], ["00"])
    set_faults(srv, order_delay_ms=HOLD_MS, order_delay_api_ids=["kt10000"])
    price = krx.tick_down(srv.sim.market.state(code).best_bid, 10)
    applied = accepted_at(srv)
    impatient = impatient_client(srv, 0.5)
    try:
        sent = time.monotonic()
        with pytest.raises(Timeout) as caught:
            impatient.buy(code, 3, price)
    finally:
        impatient.close()
    assert caught.value.request_sent  # the client cannot know: it must look, not resend
    assert applied[0] - sent < HOLD_MS / 1000  # placed at once; only the answer was held
    # the 00 접수 came on the stream while the answer was held
    events = collect(ws, lambda es: any(isinstance(e, OrderEvent) for e in es))
    (accepted,) = [e for e in events if isinstance(e, OrderEvent)]
    assert (accepted.state, accepted.qty, accepted.price) == (OrderState.ACCEPTED, 3, price)
    (open_order,) = rest.open_orders(code)
    assert open_order.order_no == accepted.order_no
    (entry,) = rest.order_history(code)
    assert (entry.order_no, entry.order_qty, entry.open_qty) == (accepted.order_no, 3, 3)
    # other APIs answer at once meanwhile; the modify is not a targeted api-id either
    t0 = time.monotonic()
    rest.modify_order(accepted.order_no, code, 3, krx.tick_down(price))
    assert time.monotonic() - t0 < HOLD_MS / 1000


def test_phase_before_places_the_order_only_after_the_delay(make_server: Make) -> None:
    srv = make_server(trades_per_s=0.0)
    code = srv.sim.market._focus[0][0]  # type: ignore[index]
    rest = srv.client()
    applied: list[float] = []
    srv.sim.add_listener(
        lambda e: (
            applied.append(time.monotonic())
            if isinstance(e, OrderUpdate) and e.status == "접수"
            else None
        )
    )
    set_faults(srv, order_delay_ms=HOLD_MS, order_delay_phase="before")
    price = krx.tick_down(srv.sim.market.state(code).best_bid, 10)
    impatient = impatient_client(srv, 0.5)
    try:
        sent = time.monotonic()
        with pytest.raises(Timeout):
            impatient.buy(code, 1, price)
    finally:
        impatient.close()
    assert wait_until(lambda: bool(applied))
    assert applied[0] - sent >= HOLD_MS / 1000  # held first, placed after the delay
    (order,) = srv.sim.broker.account.orders.values()
    (found,) = rest.order_history(code)
    assert found.order_no == order.ord_no
    set_faults(srv, order_delay_ms=0)
    ack = rest.buy(code, 1, price)  # answered at once again
    assert ack.order_no != order.ord_no


def test_reject_orders_accepted_then_refused_on_the_stream(make_server: Make) -> None:
    srv = make_server(trades_per_s=0.0)
    code = srv.sim.market._focus[0][0]  # type: ignore[index]
    rest = srv.client()
    ws = srv.ws(rest)
    ws.subscribe([""], ["00"])
    set_faults(srv, reject_orders=1)
    price = krx.tick_down(srv.sim.market.state(code).best_bid, 10)
    ack = rest.buy(code, 2, price)  # accepted: an order number, no error
    events = collect(
        ws, lambda es: any(isinstance(e, OrderEvent) and e.state is OrderState.REJECTED for e in es)
    )
    states = [e.state for e in events if isinstance(e, OrderEvent) and e.order_no == ack.order_no]
    assert states == [OrderState.ACCEPTED, OrderState.REJECTED]
    (refused,) = [e for e in events if isinstance(e, OrderEvent) and e.state is OrderState.REJECTED]
    assert refused.reject_reason
    assert refused.open_qty == 0
    assert rest.open_orders(code) == []
    (entry,) = rest.order_history(code)
    assert (entry.acceptance, entry.open_qty, entry.closed_qty) == ("거부", 0, 2)
    assert rest.buy(code, 2, price).order_no != ack.order_no  # the next one is not refused


def test_orderable_quantity_is_what_an_order_may_have(make_server: Make) -> None:
    srv = make_server(trades_per_s=0.0, initial_cash=30_000_000)
    code = srv.sim.market._focus[0][0]  # type: ignore[index]
    rest = srv.client()
    st = srv.sim.market.state(code)
    price = krx.tick_down(st.best_bid, 5)
    q = rest.orderable_quantity(code, price)
    assert q.side is Side.BUY
    assert q.cash_qty == q.max_qty > 0
    assert (q.account_margin_rate, q.applied_margin_rate) == (100, 100)
    assert q.cash_amount == srv.sim.broker.account.orderable_cash
    with pytest.raises(OrderRejectedError):
        rest.buy(code, q.cash_qty + 1, price)
    rest.buy(code, q.cash_qty, price)
    assert rest.orderable_quantity(code, price).cash_qty == 0
    with pytest.raises(ValueError, match="positive price"):
        rest.orderable_quantity(code, 0)
    # sells: the shares held minus those already in open sells
    assert rest.orderable_quantity(code, price, Side.SELL).cash_qty == 0
    for order in list(srv.sim.broker.account.orders.values()):
        rest.cancel_order(order.ord_no, code)
    rest.buy(code, 5, order_type=OrderType.MARKET)
    assert rest.orderable_quantity(code, price, Side.SELL).max_qty == 5
    rest.sell(code, 2, krx.tick_up(st.best_ask, 30))
    sell = rest.orderable_quantity(code, price, Side.SELL)
    assert (sell.cash_qty, sell.max_qty, sell.side) == (3, 3, Side.SELL)
