"""Realtime decoders against PROTOCOL.md §3.4/§5.5/§5.7 example values."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from gslts_kiwoom import Side
from gslts_kiwoom.realtime import (
    KST,
    BalanceEvent,
    IndexTick,
    MarketPhase,
    OrderBook,
    OrderEvent,
    OrderState,
    RawRealtime,
    RealtimeDecoder,
    Trade,
    ViEvent,
    decode_real,
)

RECEIVED = datetime(2025, 3, 14, 16, 52, 10, tzinfo=KST)

# The 0B example of PROTOCOL.md §5.5 ("20":"165208","10":"-20800","11":"-50","12":"-0.24")
TRADE_VALUES = {
    "20": "165208",
    "10": "-20800",
    "11": "-50",
    "12": "-0.24",
    "27": "-20800",
    "28": "-20750",
    "15": "-82",
    "13": "30523",
    "14": "635",
    "16": " 20850",
    "17": "+21000",
    "18": "-20700",
    "25": "5",
    "26": "-2000",
    "29": "",
    "228": "98.76",
    "290": "2",
    "9081": "1",
}


def item(typ: str, code: str, values: dict[str, Any], name: str = "") -> dict[str, Any]:
    return {"type": typ, "name": name, "item": code, "values": values}


def decode(*entries: dict[str, Any], received: datetime = RECEIVED) -> list[Any]:
    dec = RealtimeDecoder()
    dec.set_clock(received.timestamp())
    return dec.decode_items(list(entries))


def test_trade_signed_prices_and_fields() -> None:
    (t,) = decode(item("0B", "005930", TRADE_VALUES, "주식체결"))
    assert isinstance(t, Trade)
    assert (t.code, t.venue, t.trade_date) == ("005930", "KRX", date(2025, 3, 14))
    assert t.time == datetime(2025, 3, 14, 16, 52, 8, tzinfo=KST)
    assert t.price == 20800  # the '-' is direction vs previous close, not a negative price
    assert t.change == -50
    assert t.change_rate == Decimal("-0.24")
    assert t.volume == -82  # sell-initiated
    assert (t.cum_volume, t.cum_value) == (30523, 635)
    assert (t.open, t.high, t.low) == (20850, 21000, 20700)  # " 20850": unchanged, space
    assert (t.best_ask, t.best_bid) == (20800, 20750)
    assert t.strength == Decimal("98.76")
    assert t.session == "2"


def test_trade_venue_from_nx_suffix_and_exchange_fid() -> None:
    nx, fid = decode(
        item("0B", "005930_NX", TRADE_VALUES),
        item("0B", "000660", {**TRADE_VALUES, "9081": "2"}),
    )
    assert (nx.code, nx.venue) == ("005930", "NXT")
    assert (fid.code, fid.venue) == ("000660", "NXT")


@pytest.mark.parametrize(
    ("item_code", "fid_9081", "venue"),
    [
        ("005930", "1", "KRX"),  # the guide's example (PROTOCOL §5.7)
        ("005930", "KRX", "KRX"),  # the mock capture (§8.1)
        ("005930", " KRX", "KRX"),
        ("005930", "krx", "KRX"),
        ("005930", "2", "NXT"),
        ("005930", "NXT", "NXT"),
        ("005930_AL", "NXT", "NXT"),  # a SOR registration: the FID names the venue
        ("005930_NX", "KRX", "NXT"),  # an NXT registration stays NXT
        ("005930", "", "KRX"),
        ("005930", "0", "KRX"),
        ("005930", "통합", "KRX"),
        ("005930", None, "KRX"),  # absent
        ("005930", 1, "KRX"),  # not even a string
    ],
)
def test_trade_venue_accepts_numeric_and_text_exchange_fid(
    item_code: str, fid_9081: object, venue: str
) -> None:
    values: dict[str, Any] = {**TRADE_VALUES, "9081": fid_9081}
    if fid_9081 is None:
        del values["9081"]
    dec = RealtimeDecoder()
    dec.set_clock(RECEIVED.timestamp())
    (t,) = dec.decode_items([item("0B", item_code, values)])
    assert (t.code, t.venue, t.price) == ("005930", venue, 20800)
    assert not dec.malformed


def test_trade_blank_optional_fields_fall_back_and_are_counted() -> None:
    dec = RealtimeDecoder()
    dec.set_clock(RECEIVED.timestamp())
    (t,) = dec.decode_items([item("0B", "005930", {**TRADE_VALUES, "228": "", "27": "x1"})])
    assert t.strength is None
    assert t.best_ask == 0
    assert t.price == 20800
    assert dec.malformed == {"0B:field:27": 1}


@pytest.mark.parametrize(
    ("fid", "value", "reason"),
    [("10", "", "0B:missing:10"), ("20", "16520", "0B:field:20"), ("13", "1e5", "0B:field:13")],
)
def test_trade_without_essential_field_is_dropped_and_counted(
    fid: str, value: str, reason: str
) -> None:
    dec = RealtimeDecoder()
    dec.set_clock(RECEIVED.timestamp())
    good = item("0B", "000660", TRADE_VALUES)
    out = dec.decode_items([item("0B", "005930", {**TRADE_VALUES, fid: value}), good])
    assert [e.code for e in out] == ["000660"]
    assert dec.malformed[reason] == 1
    assert dec.items_by_type["0B"] == 1


def test_midnight_edge_keeps_the_ticks_own_day() -> None:
    after_midnight = datetime(2025, 3, 15, 0, 0, 1, tzinfo=KST)
    late, early = decode(
        item("0B", "005930", {**TRADE_VALUES, "20": "235959"}),
        item("0B", "005930", {**TRADE_VALUES, "20": "000000"}),
        received=after_midnight,
    )
    assert late.time == datetime(2025, 3, 14, 23, 59, 59, tzinfo=KST)
    assert early.time == datetime(2025, 3, 15, 0, 0, 0, tzinfo=KST)
    # trade_date is the receive date (documented); the time carries the real day.
    assert late.trade_date == date(2025, 3, 15)


def test_fast_constructed_events_are_real_frozen_instances() -> None:
    (t,) = decode(item("0B", "005930", TRADE_VALUES))
    same = Trade(**{f: getattr(t, f) for f in Trade.__slots__})
    assert type(t) is Trade
    assert t == same
    assert hash(t) == hash(same)
    assert pickle.loads(pickle.dumps(t)) == t  # noqa: S301 - our own bytes
    with pytest.raises(FrozenInstanceError):
        t.price = 1  # type: ignore[misc]


def book_values() -> dict[str, str]:
    v = {"21": "090001", "121": "5000", "125": "6000", "23": "", "24": ""}
    for i in range(10):
        v[str(41 + i)] = f"+{70100 + 100 * i}"
        v[str(51 + i)] = f" {70000 - 100 * i}"
        v[str(61 + i)] = str(10 + i)
        v[str(71 + i)] = str(20 + i)
    return v


def test_order_book_ladders() -> None:
    (b,) = decode(item("0D", "005930", book_values()))
    assert isinstance(b, OrderBook)
    assert b.asks[0] == (70100, 10)
    assert b.asks[9] == (71000, 19)
    assert b.bids[0] == (70000, 20)
    assert b.bids[9] == (69100, 29)
    assert b.asks[0][0] > b.bids[0][0]  # 41 > 51
    assert (b.total_ask, b.total_bid) == (5000, 6000)
    assert b.krx_ask_qty is None
    assert b.expected_price is None


def test_order_book_per_venue_quantities_and_auction() -> None:
    v = book_values()
    v.update({"23": "-70050", "24": "1234"})
    for i in range(10):
        v[str(6044 + i)] = str(i)
        v[str(6054 + i)] = str(100 + i)
        v[str(6066 + i)] = str(200 + i)
        v[str(6076 + i)] = str(300 + i)
    (b,) = decode(item("0D", "005930", v))
    assert b.krx_ask_qty == tuple(range(10))
    assert b.nxt_bid_qty == tuple(range(300, 310))
    assert (b.expected_price, b.expected_qty) == (70050, 1234)


ORDER_VALUES = {
    "9201": "1234567890",
    "9203": "0000123",
    "9001": "A005930",
    "913": "체결",
    "302": "삼성전자",
    "900": "10",
    "901": "70000",
    "902": "4",
    "903": "420000",
    "904": "0000000",
    "905": "+매수",
    "906": "보통",
    "907": "2",
    "908": "091503",
    "909": "000045",
    "910": "-70000",
    "911": "6",
    "914": "70000",
    "915": "6",
    "919": "0",
    "938": "63",
    "939": "0",
    "2134": "1",
}


def test_deferred_books_arrive_raw_and_decode_identically_later() -> None:
    """``defer={"0D"}``: books come as RawRealtime (counted, timestamped); ``decode`` gives
    exactly what the eager path gives, malformed ones included (None, counted)."""
    v = book_values()
    v["6044"] = "7"  # the KRX split present on one field only: the slow path decides
    entries = [item("0D", "005930", book_values()), item("0D", "000660_NX", v)]
    eager = decode(*entries)
    dec = RealtimeDecoder(defer=frozenset({"0D"}))
    dec.set_clock(RECEIVED.timestamp())
    raw = dec.decode_items([*entries, item("0B", "005930", TRADE_VALUES)])
    assert [type(r) for r in raw] == [RawRealtime, RawRealtime, Trade]
    assert dec.items_by_type["0D"] == 2
    assert dec.last_seen["000660_NX"] == RECEIVED.timestamp()
    assert [dec.decode(r) for r in raw[:2]] == eager
    bad = RawRealtime("0D", "005930", {"21": "nonsense"})
    assert dec.decode(bad) is None
    assert sum(n for k, n in dec.malformed.items() if k.startswith("0D")) >= 1


def test_order_event_fill() -> None:
    (o,) = decode(item("00", "A005930", ORDER_VALUES, "주문체결"))
    assert isinstance(o, OrderEvent)
    assert (o.account, o.order_no, o.orig_order_no) == ("1234567890", "0000123", None)
    assert (o.code, o.name, o.state, o.side) == ("005930", "삼성전자", OrderState.FILLED, Side.BUY)
    assert (o.order_kind, o.trade_type) == ("매수", "보통")
    assert (o.qty, o.price, o.open_qty, o.filled_amount) == (10, 70000, 4, 420000)
    assert (o.fill_no, o.fill_price, o.fill_qty) == ("000045", 70000, 6)
    assert o.time == datetime(2025, 3, 14, 9, 15, 3, tzinfo=KST)
    assert (o.reject_reason, o.exchange, o.fee) == (None, "KRX", 63)


def test_order_event_cancel_and_unknown_state() -> None:
    cancel = {
        **ORDER_VALUES,
        "913": "확인",
        "904": "0000120",
        "905": "매도취소",
        "907": "1",
        "909": "",
        "910": "",
        "911": "",
        "914": "",
        "915": "",
        "902": "0",
    }
    odd = {**ORDER_VALUES, "913": "대기"}
    dec = RealtimeDecoder()
    dec.set_clock(RECEIVED.timestamp())
    c, u = dec.decode_items([item("00", "", cancel), item("00", "", odd)])
    assert (c.state, c.orig_order_no, c.side, c.order_kind) == (
        OrderState.CONFIRMED,
        "0000120",
        Side.SELL,
        "매도취소",
    )
    assert (c.fill_no, c.fill_price, c.fill_qty) == (None, None, None)
    assert (u.state, u.state_raw) == (OrderState.UNKNOWN, "대기")
    assert dec.malformed["00:state"] == 1


def test_balance_event() -> None:
    v = {
        "9201": "1234567890",
        "9001": "A005930",
        "302": "삼성전자",
        "10": "-70000",
        "930": "10",
        "931": "69500",
        "932": "695000",
        "933": "10",
        "945": "10",
        "946": "2",
        "950": "0",
        "27": "-70100",
        "28": "-70000",
        "307": "71000",
        "8019": "-1.25",
        "990": "-5000",
        "991": "-0.72",
    }
    (b,) = decode(item("04", "A005930", v, "현물잔고"))
    assert isinstance(b, BalanceEvent)
    assert (b.code, b.price, b.holding_qty, b.avg_price) == ("005930", 70000, 10, 69500)
    assert (b.pnl_rate, b.realized_pnl) == (Decimal("-1.25"), -5000)
    assert b.received_at == RECEIVED


def test_index_tick_is_decimal() -> None:
    v = {
        "20": "100501",
        "10": "-1762.61",
        "11": "-12.34",
        "12": "-0.70",
        "15": "+1000",
        "13": "123456",
        "14": "789",
        "16": " 1770.00",
        "17": "+1775.10",
        "18": "-1760.00",
    }
    (i,) = decode(item("0J", "001", v, "업종지수"))
    assert isinstance(i, IndexTick)
    assert (i.code, i.value, i.change) == ("001", Decimal("1762.61"), Decimal("-12.34"))
    assert (i.open, i.high, i.low) == (Decimal("1770.00"), Decimal("1775.10"), Decimal("1760.00"))


def test_market_phase_known_and_unknown_codes() -> None:
    known, unknown = decode(
        item("0s", "", {"215": "3", "20": "090000", "214": "000000"}),
        item("0s", "", {"215": "b", "20": "170000", "214": "000000"}),
    )
    assert isinstance(known, MarketPhase)
    assert known.meaning == "KRX 장시작"
    assert (unknown.code, unknown.meaning) == ("b", None)  # tolerated (PROTOCOL §5.7)
    assert unknown.time == datetime(2025, 3, 14, 17, 0, tzinfo=KST)


def test_vi_event() -> None:
    v = {
        "9001": "A005930",
        "302": "삼성전자",
        "13": "1000",
        "14": "70",
        "9068": "1",
        "9008": "101",
        "9075": "1",
        "1221": "+77000",
        "1223": "101500",
        "1224": "101700",
        "1225": "동적",
        "1236": "0",
        "1237": "70000",
        "1238": "",
        "1239": "+10.00",
        "1489": "+10.00",
        "1490": "1",
        "9069": "1",
    }
    (e,) = decode(item("1h", "005930", v))
    assert isinstance(e, ViEvent)
    assert (e.code, e.trigger_price, e.dynamic_deviation) == ("005930", 77000, Decimal("10.00"))
    assert e.static_deviation is None
    assert e.release_time == datetime(2025, 3, 14, 10, 17, tzinfo=KST)


def test_unknown_type_kept_raw_and_values_list_accepted() -> None:
    raw, listed = decode(
        item("0H", "005930", {"10": "+1"}),
        {"type": "0B", "name": "", "item": "005930", "values": [TRADE_VALUES]},
    )
    assert raw == RawRealtime("0H", "005930", {"10": "+1"})
    assert isinstance(listed, Trade)


def test_garbage_frames_are_counted_never_raised() -> None:
    dec = RealtimeDecoder()
    assert dec.decode_frame(b"not json") == []
    assert dec.decode_frame(b"[1]") == []
    assert dec.decode_frame(b'{"trnm":"REAL","data":{"x":1}}') == []
    assert dec.decode_frame(b'{"trnm":"REAL","data":[1, {"type":"0B"}]}') == []
    assert dec.decode_frame(b'{"trnm":"PING"}') == []
    assert dec.malformed == {
        "frame:json": 1,
        "frame:not_object": 1,
        "frame:data": 1,
        "item:shape": 2,
    }


def test_decode_real_entry_point() -> None:
    frame = orjson.loads(
        orjson.dumps({"trnm": "REAL", "data": [item("0B", "005930", TRADE_VALUES)] * 3})
    )
    out = decode_real(frame, received_at=RECEIVED)
    assert [t.price for t in out] == [20800] * 3
    assert decode_real({"trnm": "REG", "return_code": 0}) == []


def test_ws_token_provider_invalidates_the_rejected_token() -> None:
    from gslts_kiwoom import ws_token_provider

    issued = iter(["t1", "t2"])
    current: list[str] = [next(issued)]
    invalidated: list[str] = []

    def get() -> str:
        return current[0]

    def invalidate(value: str) -> None:
        invalidated.append(value)
        current[0] = next(issued)

    provide = ws_token_provider(get, invalidate)
    assert provide(False) == "t1"
    assert provide(False) == "t1"
    assert provide(True) == "t2"
    assert invalidated == ["t1"]
