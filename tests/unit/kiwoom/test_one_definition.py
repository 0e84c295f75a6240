"""One concept, one definition: the Kiwoom library defines each shared concept once, and
the simulator and the client use that definition (a second copy drifts)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

import gslts_db
import gslts_kiwoom
from gslts_kiwoom import krx, realtime

LIBRARY = Path(gslts_kiwoom.__file__).parent


def _sources() -> dict[str, str]:
    return {
        str(p.relative_to(LIBRARY)): p.read_text(encoding="utf-8")
        for p in sorted(LIBRARY.rglob("*.py"))
    }


def test_kst_is_defined_once_in_krx() -> None:
    where = [
        name
        for name, text in _sources().items()
        if re.search(r"ZoneInfo\(\s*['\"]Asia/Seoul", text)
    ]
    assert where == ["krx.py"]
    assert realtime.KST is krx.KST  # the old import path still works
    # gslts_db may not import the Kiwoom library (independent siblings): its own KST must
    # be the very same zone object (ZoneInfo caches by key)
    assert gslts_db.KST is krx.KST


def test_kst_offset_matches_the_zone() -> None:
    for month in (1, 7):
        offset = datetime(2026, month, 1, tzinfo=krx.KST).utcoffset()
        assert offset is not None
        assert offset.total_seconds() == krx.KST_OFFSET_S


def test_side_is_one_enum_that_reads_as_its_wire_word() -> None:
    from gslts_kiwoom.sim import _events

    assert _events.Side is gslts_kiwoom.Side
    assert gslts_kiwoom.Side.BUY == "buy"
    assert gslts_kiwoom.Side("sell") is gslts_kiwoom.Side.SELL


def test_order_type_table_has_every_fid_906_text_once() -> None:
    OrderType = gslts_kiwoom.OrderType
    labels = [t.label for t in OrderType]
    assert len(set(labels)) == len(labels)
    assert {OrderType.from_label(text) for text in labels} == set(OrderType)
    # PROTOCOL §8.2 (the 매매구분 texts of realtime 00); 시간외대량/시간외바스켓 have no trde_tp
    assert set(labels) == {
        "보통", "시장가", "조건부지정가", "최유리지정가", "최우선지정가", "보통(IOC)",
        "시장가(IOC)", "최유리(IOC)", "보통(FOK)", "시장가(FOK)", "최유리(FOK)", "스톱지정가",
        "중간가", "중간가(IOC)", "중간가(FOK)", "장전시간외", "장후시간외", "시간외단일가",
    }  # fmt: skip
    assert OrderType.from_label(" 시장가 ") is OrderType.MARKET
    assert OrderType.from_label("시간외대량") is None


def test_order_type_rules() -> None:
    OrderType = gslts_kiwoom.OrderType
    priced = {t for t in OrderType if t.needs_price}
    assert priced == {
        OrderType.LIMIT,
        OrderType.CONDITIONAL_LIMIT,
        OrderType.LIMIT_IOC,
        OrderType.LIMIT_FOK,
        OrderType.STOP_LIMIT,
        OrderType.AFTER_HOURS_SINGLE_PRICE,
    }
    assert {t for t in OrderType if t.needs_stop_price} == {OrderType.STOP_LIMIT}
    assert OrderType.MARKET_FOK.pricing == "market"
    assert OrderType.MARKET_FOK.time_in_force == "fok"
    assert OrderType.PRIORITY_LIMIT.pricing == "priority"
    assert OrderType.BEST_IOC.time_in_force == "ioc"


def test_the_simulator_executes_every_order_type_and_refuses_unknown_codes() -> None:
    from gslts_kiwoom.sim._orders import OrderRejected, sim_order_type

    OrderType = gslts_kiwoom.OrderType
    for t in OrderType:
        assert sim_order_type(t.value) is t
    for code in ("99", "1", "00", ""):  # the catalogue's codes only ("0", not "00")
        with pytest.raises(OrderRejected, match="505217"):
            sim_order_type(code)


def test_the_spec_spelling_of_the_stop_limit_label_is_read_too() -> None:
    # catalogue entry 00, FID 906: "스톰지정가" (PROTOCOL §8.2); we send "스톱지정가"
    OrderType = gslts_kiwoom.OrderType
    assert OrderType.from_label("스톰지정가") is OrderType.STOP_LIMIT
    assert OrderType.STOP_LIMIT.label == "스톱지정가"


def test_book_level_is_the_library_one_in_the_simulator_too() -> None:
    import gslts_kiwoom.sim as sim

    assert sim.BookLevel is gslts_kiwoom.BookLevel
    assert gslts_kiwoom.BookLevel(70_000, 5) == gslts_kiwoom.BookLevel(70_000, 5, 0)


def test_no_second_class_of_a_shared_concept_in_the_library() -> None:
    home = {
        "Side": "models.py",
        "OrderType": "models.py",
        "BookLevel": "models.py",
        "Bar": "models.py",
        "KiwoomError": "_errors.py",
        "Trade": "realtime.py",
        "MarketTrade": "sim/_events.py",
        "SimStock": "sim/_stock.py",
    }
    found = {
        name: [f for f, text in _sources().items() if re.search(rf"^class {name}\b", text, re.M)]
        for name in home
    }
    assert found == {name: [where] for name, where in home.items()}


def test_the_simulators_refusal_is_not_the_clients_error() -> None:
    """The client raises KiwoomError when a call fails; the simulator raises ReplyError
    to answer a call with the error envelope. Different meanings, different names."""
    from gslts_kiwoom.sim._app_base import ReplyError, input_error

    assert not issubclass(ReplyError, gslts_kiwoom.KiwoomError)
    err = input_error("1511:필수입력 파라미터=stk_cd")
    assert (err.return_code, err.status) == (2, 200)


def test_bar_folds_trades() -> None:
    start = datetime(2026, 9, 28, 10, 1, tzinfo=krx.KST)
    bar = gslts_kiwoom.Bar.opened(start, 70_000, 3, cum_volume=1_003)
    bar.add(70_100, 2, 1_005)
    bar.add(69_900, 1)
    assert (bar.open, bar.high, bar.low, bar.close) == (70_000, 70_100, 69_900, 69_900)
    assert (bar.volume, bar.value, bar.trade_count) == (6, 70_000 * 3 + 70_100 * 2 + 69_900, 3)
    assert bar.cum_volume == 1_005  # kept when a trade does not say


def test_the_simulators_trade_keeps_its_old_name_for_now() -> None:
    import gslts_kiwoom.sim as sim

    assert sim.Trade is sim.MarketTrade
    assert sim.MarketTrade is not gslts_kiwoom.Trade
    shared = set(gslts_kiwoom.Trade.__slots__) & set(sim.MarketTrade.__slots__)
    assert {"cum_value", "cum_volume", "price", "volume", "best_ask", "best_bid"} <= shared
