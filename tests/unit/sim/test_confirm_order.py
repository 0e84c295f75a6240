"""Where the 00 ``확인`` of a modify or cancel falls among fills is configurable
(``order_confirm_before_fills``; PROTOCOL §8.1 has no capture), on both paths, and a client
folding the decoded :class:`OrderEvent` stream ends in the same state either way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from gslts_kiwoom import Side, krx
from gslts_kiwoom.realtime import OrderEvent, OrderState, RealtimeDecoder
from gslts_kiwoom.sim import MarketEvent, OrderUpdate, Simulator, _matching
from gslts_kiwoom.sim._orders import Order

from .conftest import make_sim

CODE = "005930"


def place(sim: Simulator, **kw: Any) -> Order:
    args: dict[str, Any] = {
        "side": Side.BUY,
        "code": CODE,
        "qty": 10,
        "price": 0,
        "trade_type": "0",
        "venue": "KRX",
        "now": sim.now,
    }
    args.update(kw)
    return sim.broker.place(**args)


def stream(sim: Simulator) -> list[OrderUpdate]:
    got: list[OrderUpdate] = []

    def on(e: MarketEvent) -> None:
        if isinstance(e, OrderUpdate):
            got.append(e)

    sim.add_listener(on)
    return got


def decode(sim: Simulator, updates: list[OrderUpdate]) -> list[OrderEvent]:
    dec = RealtimeDecoder()
    dec.set_clock(sim.now.timestamp())
    events = dec.decode_items([sim.feed.order_entry(u) for u in updates])
    assert not dec.malformed
    return [e for e in events if isinstance(e, OrderEvent)]


def states(updates: list[OrderUpdate], order: Order) -> list[str]:
    return [u.status for u in updates if u.order.ord_no == order.ord_no]


@dataclass
class Known:
    open_qty: int
    filled: int = 0


def fold(events: list[OrderEvent]) -> dict[str, tuple[int, int]]:
    """What a client keeps per order from the stream, as the order service will: its own
    events set its open quantity (902) and filled total (911, cumulative); a modify's or
    cancel's 확인 takes its quantity (900) off the original (904). The state text of the
    last event is deliberately not used: it depends on the ordering."""
    known: dict[str, Known] = {}
    for e in events:
        k = known.setdefault(e.order_no, Known(e.open_qty))
        k.open_qty = e.open_qty
        if e.state is OrderState.FILLED and e.fill_qty is not None:
            k.filled += e.fill_qty
        if (
            e.state is OrderState.CONFIRMED
            and e.orig_order_no is not None
            and ("정정" in e.order_kind or "취소" in e.order_kind)
        ):
            known[e.orig_order_no].open_qty -= e.qty
    return {no: (k.open_qty, k.filled) for no, k in known.items()}


def modify_that_trades(confirm_first: bool) -> tuple[Simulator, list[OrderUpdate], Order, Order]:
    sim = make_sim(trades_per_s=0, order_confirm_before_fills=confirm_first)
    updates = stream(sim)
    st = sim.market.state(CODE)
    resting = place(sim, qty=5, price=krx.tick_down(st.best_bid, 5))
    new = sim.broker.modify(
        orig_ord_no=resting.ord_no, code=CODE, qty=0, price=st.best_ask, now=sim.now
    )
    return sim, updates, resting, new


@pytest.mark.parametrize("confirm_first", [True, False])
def test_modify_confirm_before_or_after_its_fills(confirm_first: bool) -> None:
    _, updates, resting, new = modify_that_trades(confirm_first)
    seq = states(updates, new)
    assert seq[0] == "접수"
    assert "체결" in seq
    assert seq.index("확인") == (1 if confirm_first else len(seq) - 1)
    assert states(updates, resting) == ["접수"]  # the original gets no event of its own
    assert resting.open_qty == 0


def test_client_state_is_the_same_whichever_the_modify_order() -> None:
    folds = []
    for confirm_first in (True, False):
        sim, updates, resting, new = modify_that_trades(confirm_first)
        folded = fold(decode(sim, updates))
        assert folded[resting.ord_no][0] == 0
        assert folded[new.ord_no] == (new.open_qty, new.filled_qty)
        folds.append(folded)
    assert folds[0] == folds[1]


def resting_buy(sim: Simulator, qty: int) -> Order:
    st = sim.market.state(CODE)
    order = place(sim, qty=qty, price=st.best_bid)  # at the touch: first for sellers
    assert order.open_qty == qty
    return order


def sell_into(sim: Simulator, qty: int) -> None:
    """A market seller of ``qty`` arrives: user bids at the touch trade first."""
    st = sim.market.state(CODE)
    left = _matching.passive_fills(sim.market, st, Side.SELL, qty, sim.now)
    assert left == 0


def test_cancel_confirmed_at_once_before_any_fill() -> None:
    sim = make_sim(trades_per_s=0, order_confirm_before_fills=True)
    updates = stream(sim)
    order = resting_buy(sim, 6)
    cancel = sim.broker.cancel(orig_ord_no=order.ord_no, code=CODE, qty=0, now=sim.now)
    assert states(updates, cancel) == ["접수", "확인"]
    assert (order.open_qty, cancel.qty) == (0, 6)
    assert sim.broker.account.reserved_cash == 0


def test_cancel_taken_at_the_next_step_after_the_originals_fills() -> None:
    sim = make_sim(trades_per_s=0, active_order_stock_rate=0, order_confirm_before_fills=False)
    updates = stream(sim)
    order = resting_buy(sim, 6)
    cancel = sim.broker.cancel(orig_ord_no=order.ord_no, code=CODE, qty=0, now=sim.now)
    assert states(updates, cancel) == ["접수"]
    assert order.open_qty == 6  # still in the book: the exchange has not taken it yet
    sell_into(sim, 2)  # the race: 2 fill before the cancel reaches the exchange
    sim.step(sim.now + timedelta(seconds=1))
    assert states(updates, cancel) == ["접수", "확인"]
    seq = [(u.order.ord_no, u.status) for u in updates]
    assert seq.index((order.ord_no, "체결")) < seq.index((cancel.ord_no, "확인"))
    assert (order.open_qty, order.filled_qty, cancel.qty) == (0, 2, 4)
    (confirmed,) = [u for u in updates if u.order.ord_no == cancel.ord_no and u.status == "확인"]
    assert (confirmed.order.qty, confirmed.order.open_qty) == (4, 0)  # 900 = what was left
    assert sim.broker.account.reserved_cash == 0
    assert fold(decode(sim, updates))[order.ord_no] == (0, 2)


def test_cancel_of_an_order_filled_meanwhile_is_refused() -> None:
    sim = make_sim(trades_per_s=0, active_order_stock_rate=0, order_confirm_before_fills=False)
    updates = stream(sim)
    order = resting_buy(sim, 3)
    cancel = sim.broker.cancel(orig_ord_no=order.ord_no, code=CODE, qty=0, now=sim.now)
    sell_into(sim, 3)
    sim.step(sim.now + timedelta(seconds=1))
    assert states(updates, cancel) == ["접수", "거부"]
    (refused,) = [u for u in updates if u.status == "거부"]
    assert refused.reject_reason.startswith("800050")
    assert (order.filled_qty, order.open_qty) == (3, 0)
    assert fold(decode(sim, updates))[order.ord_no] == (0, 3)
