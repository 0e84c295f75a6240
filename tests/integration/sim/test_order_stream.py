"""The account's 00 stream as a client receives it (raw frames over the real WebSocket)
and the reconciliation APIs (ka10075 미체결, ka10076 체결, through the REST client) telling
the same story.

Values follow PROTOCOL §5.7/§8.1: the code without ``A``, 910/914 unsigned, ``""`` for a
value not there (909–915 before a fill), 10/27/28 signed, 2134–2136 ``1``/``KRX``/``N``; a
modify or cancel is 접수 then 확인 of its own number (904 = the original), the 확인 before or
after the modified order's immediate fills as configured."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gslts_kiwoom import KiwoomClient, OrderType, krx
from gslts_kiwoom.realtime import OrderEvent, OrderState, RealtimeDecoder
from tests.integration.sim.conftest import RawSession, SimServer

Make = Callable[..., SimServer]


def _catalogue_00(shared_dir: Path) -> list[str]:
    path = shared_dir / "kiwoom-api" / "catalogue.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    (spec,) = [e for e in json.loads(path.read_text("utf-8")) if e["api_id"] == "00"]
    (data,) = [f for f in spec["response"] if f["key"] == "data"]
    (values,) = [f for f in data["fields"] if f["key"] == "values"]
    return [f["key"] for f in values["fields"]]


@dataclass
class Known:
    """One order as a client knows it from the 00 stream alone."""

    state: str
    open_qty: int
    filled: int = 0


class Ledger:
    """The order states a client derives from 00 events (as the backend will): an order's
    own events set its state, open and filled quantity; the 확인 of a modify or cancel
    takes its quantity (900) off the original (904)."""

    def __init__(self) -> None:
        self.orders: dict[str, Known] = {}
        self.kinds: dict[str, str] = {}

    def apply(self, v: dict[str, str]) -> None:
        no, state, kind = v["9203"], v["913"], v["905"]
        known = self.orders.setdefault(no, Known(state, int(v["902"])))
        known.state, known.open_qty = state, int(v["902"])
        self.kinds[no] = kind
        if state == "체결":
            known.filled = int(v["911"])
        if state == "확인" and ("정정" in kind or "취소" in kind):
            self.orders[v["904"]].open_qty -= int(v["900"])

    def open_orders(self) -> dict[str, tuple[int, int, str]]:
        return {
            no: (k.open_qty, k.filled, k.state)
            for no, k in self.orders.items()
            if k.open_qty > 0 and "취소" not in self.kinds[no]
        }

    def filled_orders(self) -> dict[str, tuple[int, int]]:
        return {no: (k.filled, k.open_qty) for no, k in self.orders.items() if k.filled}


def _reconciles(ledger: Ledger, rest: KiwoomClient, code: str) -> None:
    """ka10075 and ka10076 say what the 00 stream said."""
    opened = {o.order_no: (o.open_qty, o.filled_qty, o.status) for o in rest.open_orders(code)}
    assert opened == ledger.open_orders()
    filled = {o.order_no: (o.filled_qty, o.open_qty) for o in rest.filled_orders(code)}
    assert filled == ledger.filled_orders()


class Stream:
    """00 entries of one raw session, applied to a :class:`Ledger` as they come."""

    def __init__(self, srv: SimServer) -> None:
        self.raw = RawSession(srv)
        self.raw.register([""], ["00"])
        self.seen: list[dict[str, str]] = []
        self.ledger = Ledger()

    def until(self, done: Callable[[list[dict[str, str]]], bool]) -> list[dict[str, str]]:
        """The entries received until ``done(all entries so far)`` holds; the new ones."""
        before = len(self.seen)

        def ok(entries: list[dict[str, Any]]) -> bool:
            return done(self.seen + [e["values"] for e in entries])

        new = [e["values"] for e in self.raw.entries(ok) if e["type"] == "00"]
        self.seen.extend(new)
        for v in new:
            self.ledger.apply(v)
        return self.seen[before:]

    def of(self, ord_no: str, n: int) -> list[dict[str, str]]:
        """Wait for ``n`` events of ``ord_no`` in all; all of its events."""
        self.until(lambda vs: sum(v["9203"] == ord_no for v in vs) >= n)
        return [v for v in self.seen if v["9203"] == ord_no]


def _states(events: list[dict[str, str]]) -> list[str]:
    return [v["913"] for v in events]


def test_00_values_sequences_and_reconciliation(make_server: Make, shared_dir: Path) -> None:
    fids = _catalogue_00(shared_dir)
    srv = make_server(trades_per_s=5.0)
    code = srv.sim.market._focus[0][0]  # type: ignore[index]
    rest = srv.client()
    s = Stream(srv)
    st = srv.sim.market.state(code)
    try:
        # a limit far below the market: 접수 only, nothing filled
        low = krx.tick_down(st.best_bid, 8)
        rest_ack = rest.buy(code, 10, low)
        (accepted,) = s.of(rest_ack.order_no, 1)
        assert accepted["913"] == "접수"
        assert (accepted["900"], accepted["901"], accepted["902"]) == ("10", str(low), "10")
        assert (accepted["903"], accepted["904"], accepted["905"]) == ("0", "0000000", "+매수")
        assert all(accepted[f] == "" for f in ("909", "910", "911", "914", "915"))
        _reconciles(s.ledger, rest, code)

        # a market buy: 접수, then 체결 with unsigned 910/914
        mkt = rest.buy(code, 2, order_type=OrderType.MARKET)
        events = s.of(mkt.order_no, 2)
        assert _states(events)[0] == "접수"
        assert events[0]["901"] == "0"
        assert events[0]["906"] == "시장가"
        fill = events[-1]
        assert fill["913"] == "체결"
        assert fill["902"] == "0"
        assert fill["910"].isdigit()
        assert fill["914"].isdigit()
        assert int(fill["911"]) == 2
        assert fill["10"][0] in "+-" or fill["10"].isdigit()
        _reconciles(s.ledger, rest, code)

        # IOC bigger than the best ask level: 체결 of what is there, then 취소 of the rest
        st = srv.sim.market.state(code)
        ask, level = st.asks[0].price, st.asks[0].qty
        ioc = rest.buy(code, level + 7, ask, order_type=OrderType.LIMIT_IOC)
        events = s.of(ioc.order_no, 3)
        assert _states(events)[0] == "접수"
        assert _states(events)[-1] == "취소"
        assert events[-1]["902"] == "0"
        assert int(events[-2]["911"]) == level
        # FOK that cannot be filled whole: 접수, 취소, no fill
        too_many = srv.sim.market.available(code, "buy", ask) + 1  # type: ignore[arg-type]
        fok = rest.buy(code, too_many, ask, order_type=OrderType.LIMIT_FOK)
        assert _states(s.of(fok.order_no, 2)) == ["접수", "취소"]
        _reconciles(s.ledger, rest, code)

        # modify 4 of the resting 10 one tick lower: 접수 + 확인 of the new number
        mod = rest.modify_order(rest_ack.order_no, code, 4, krx.tick_down(low))
        events = s.of(mod.order_no, 2)
        assert _states(events) == ["접수", "확인"]
        assert {(v["904"], v["905"], v["900"]) for v in events} == {
            (rest_ack.order_no, "매수정정", "4")
        }
        assert [v["9203"] for v in s.seen].count(rest_ack.order_no) == 1  # none for the original
        _reconciles(s.ledger, rest, code)

        # cancel the original's remaining 6: 접수 (902 = 6) then 확인 (902 = 0)
        cxl = rest.cancel_order(rest_ack.order_no, code, 0)
        events = s.of(cxl.order_no, 2)
        assert [(v["913"], v["902"], v["900"]) for v in events] == [
            ("접수", "6", "6"),
            ("확인", "0", "6"),
        ]
        assert events[0]["905"] == "매수취소"
        _reconciles(s.ledger, rest, code)

        for v in s.seen:
            assert list(v) == [f for f in fids if f in v]  # the dictionary's order
            assert set(v) == set(fids)
            assert all(isinstance(x, str) for x in v.values())
            assert v["9001"] == code  # no A prefix (mock capture)
            assert (v["912"], v["2134"], v["2135"], v["2136"]) == ("JJ", "1", "KRX", "N")
    finally:
        s.raw.close()
    # the library's decoder reads them
    dec = RealtimeDecoder()
    dec.set_clock(srv.sim.now.timestamp())
    decoded = [e for text in s.raw.frames for e in dec.decode_frame(text)]
    assert not dec.malformed
    orders = [e for e in decoded if isinstance(e, OrderEvent)]
    assert len(orders) == len(s.seen)
    assert orders[0].state is OrderState.ACCEPTED
    assert orders[0].fill_price is None
    assert {e.code for e in orders} == {code}


@pytest.mark.parametrize("confirm_first", [True, False])
def test_modify_that_trades_at_once_confirm_order_is_configurable(
    make_server: Make, confirm_first: bool
) -> None:
    srv = make_server(trades_per_s=5.0, order_confirm_before_fills=confirm_first)
    code = srv.sim.market._focus[0][0]  # type: ignore[index]
    rest = srv.client()
    s = Stream(srv)
    try:
        st = srv.sim.market.state(code)
        resting = rest.buy(code, 3, krx.tick_down(st.best_bid, 5))
        s.of(resting.order_no, 1)
        st = srv.sim.market.state(code)
        mod = rest.modify_order(resting.order_no, code, 3, krx.tick_up(st.best_ask, 2))
        events = s.until(
            lambda vs: (
                any(v["9203"] == mod.order_no and v["913"] == "확인" for v in vs)
                and any(v["9203"] == mod.order_no and v["902"] == "0" for v in vs)
            )
        )
        states = _states([v for v in events if v["9203"] == mod.order_no])
        assert states[0] == "접수"
        assert "체결" in states
        if confirm_first:
            assert states[1] == "확인"
        else:
            assert states[-1] == "확인"
        _reconciles(s.ledger, rest, code)
    finally:
        s.raw.close()


def test_code_prefix_a_is_configurable_and_stripped_by_the_decoder(make_server: Make) -> None:
    srv = make_server(ws_account_code_prefix="A")
    code = srv.sim.market._focus[0][0]  # type: ignore[index]
    rest = srv.client()
    s = Stream(srv)
    try:
        ack = rest.buy(code, 1, krx.tick_down(srv.sim.market.state(code).best_bid, 5))
        (v,) = s.of(ack.order_no, 1)
    finally:
        s.raw.close()
    assert v["9001"] == "A" + code
    dec = RealtimeDecoder()
    dec.set_clock(srv.sim.now.timestamp())
    (e,) = [e for text in s.raw.frames for e in dec.decode_frame(text)]
    assert isinstance(e, OrderEvent)
    assert e.code == code
