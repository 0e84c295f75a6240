"""The writer's LOAD DATA fast path: journal arrays → TSV lines, identical to the rows path."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gslts_db.store import tick_tsv_line
from gslts_hub.candles import CandleAggregator
from gslts_hub.rows import (
    decode_record,
    encode_record,
    iso_time,
    naive_kst,
    tick_lines,
    tick_row,
    tick_rows,
    trade_to_array,
)
from gslts_kiwoom.realtime import KST, RealtimeDecoder, Trade

T0 = datetime(2026, 3, 3, 9, 0, 1, tzinfo=KST)


def _trade(cum: int, *, rate: str = "-0.14", strength: str | None = "101.5", **kw: Any) -> Trade:
    base: dict[str, Any] = {
        "code": "005930",
        "venue": "KRX",
        "trade_date": T0.date(),
        "time": T0,
        "price": 70_000,
        "change": -100,
        "change_rate": Decimal(rate),
        "volume": -7,
        "cum_volume": cum,
        "cum_value": cum * 70_000 // 1_000_000,
        "open": 70_100,
        "high": 71_000,
        "low": 69_000,
        "best_ask": 70_100,
        "best_bid": 70_000,
        "strength": None if strength is None else Decimal(strength),
        "session": "2",
    }
    base.update(kw)
    return Trade(**base)


def _reference(records: list[tuple[float, str, list[Any]]]) -> list[str]:
    return [
        tick_tsv_line(tick_row(a, naive_kst(recv), source))
        for recv, source, ticks in records
        for a in ticks
    ]


def _records(trades: list[Trade], recv: float, source: str = "live") -> list[Any]:
    r, s, ticks, _ = decode_record(
        encode_record(recv, [trade_to_array(t) for t in trades], source=source)
    )
    return [(r, s, ticks)]


def test_lines_match_the_rows_path_byte_for_byte() -> None:
    trades = [
        _trade(1),
        _trade(2, rate="+0.71", strength=None),
        _trade(3, rate="1E+1", strength="0.00", volume=12),
        _trade(4, rate="-0", venue="NXT", session=""),
        _trade(5, code="12\t3\\4", session="x\ny"),
        _trade(6, time=datetime(2026, 3, 3, 23, 59, 59, tzinfo=KST)),
        _trade(7, trade_date=date(2026, 3, 2), time=datetime(2026, 3, 2, 18, 0, tzinfo=KST)),
    ]
    records = _records(trades, T0.timestamp() + 0.123456) + _records(
        trades[:2], T0.timestamp() + 1, source="backfill"
    )
    lines = list(tick_lines(records))
    assert lines == _reference(records)
    first = lines[0].split("\t")
    assert first[:6] == [
        "005930", "2026-03-03", "KRX", "1", "2026-03-03 09:00:01", "2026-03-03 09:00:01.123456"
    ]  # fmt: skip
    assert first[11:] == ["-0.14", "101.5", "2", "live"]
    assert lines[1].split("\t")[11:13] == ["0.71", "\\N"]
    assert lines[2].split("\t")[11] == "10"
    assert lines[4].split("\t")[0] == "12\\t3\\\\4"
    assert lines[-1].endswith("\tbackfill")


def test_odd_arrays_take_the_reference_path() -> None:
    # None where an int goes (a backfill without quotes), floats, missing strength
    arr: list[Any] = ["000660", "KRX", T0.date().toordinal(), 10, T0.timestamp(), 100, 5,
                      1, None, None, "0.5", None, None]  # fmt: skip
    as_float = [*arr[:3], 11.0, *arr[4:8], 101, 99, *arr[10:]]
    records = [(T0.timestamp(), "live", [arr, as_float])]
    lines = list(tick_lines(records))
    assert lines == _reference(records)
    assert lines[0].split("\t")[9:11] == ["\\N", "\\N"]
    assert lines[0].split("\t")[12:14] == ["\\N", "\\N"]
    assert lines[1].split("\t")[3] == "11"


def test_bad_rate_still_fails_loudly() -> None:
    arr = trade_to_array(_trade(1))
    arr[10] = "abc"
    with pytest.raises(ArithmeticError):
        list(tick_lines([(T0.timestamp(), "live", [arr])]))


def test_tick_rows_and_candle_arrays_follow_the_journal() -> None:
    records = _records([_trade(1, volume=-3), _trade(2, volume=4, price=70_100)], 0.0)
    rows = list(tick_rows(records))
    assert [(r.cum_volume, r.volume, r.price) for r in rows] == [(1, -3, 70_000), (2, 4, 70_100)]
    a, b = CandleAggregator(), CandleAggregator()
    later = T0.replace(minute=1)
    ticks = records[0][2] + [
        trade_to_array(_trade(c, volume=v, price=p, time=later))
        for c, v, p in ((3, -5, 70_100), (4, 2, 69_900), (2, 9, 1))  # the last: out of order
    ]
    a.add_arrays(ticks)
    for t in ticks:
        b.add(t[0], t[1], t[3], t[4], t[5], abs(t[6]))
    assert a.plan() == b.plan()
    # first sight and the out-of-order tick: both minutes are rebuilt from the DB
    assert a.plan()[0] == [("005930", 1772496000), ("005930", 1772496060)]
    bar = a.open_bar("005930")
    assert bar is not None
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count) == (
        70_100, 70_100, 69_900, 69_900, 7, 2
    )  # fmt: skip


def test_candle_arrays_equal_per_tick_add_on_a_disordered_stream() -> None:
    rng = random.Random(7)
    a, b = CandleAggregator(), CandleAggregator()
    cum = {("A", "KRX"): 100, ("B", "KRX"): 100, ("A", "NXT"): 100}
    base = 1_772_496_000.0
    for step in range(400):
        ticks: list[list[Any]] = []
        for _ in range(rng.randint(1, 8)):
            code, venue = rng.choice(list(cum))
            if rng.random() < 0.1:  # replayed / late trade
                c = cum[(code, venue)] - rng.randint(0, 5)
            else:
                c = cum[(code, venue)] = cum[(code, venue)] + rng.randint(1, 9)
            sec = step * 1.5 - (30 if rng.random() < 0.05 else 0)  # sometimes an older minute
            ticks.append([code, venue, 0, c, base + sec, rng.randint(90, 110),
                          rng.choice([-1, 1]) * rng.randint(1, 50)])  # fmt: skip
        a.add_arrays(ticks)
        for t in ticks:
            b.add(t[0], t[1], t[3], t[4], t[5], abs(t[6]))
        assert a.plan() == b.plan()
        assert a._last_cum == b._last_cum
        if step % 50 == 49:  # a flush: the plan is written, the rebuilds come back empty
            done = dict.fromkeys(a.plan()[0])
            a.settle(dict(done), base + step * 1.5)
            b.settle(dict(done), base + step * 1.5)
            assert a.close_due(base + step * 1.5) == b.close_due(base + step * 1.5)
    assert [a.open_bar(c) for c in "AB"] == [b.open_bar(c) for c in "AB"]
    assert a.rebuilds == b.rebuilds > 0


def test_iso_time_memo_keeps_each_zone_and_second() -> None:
    utc = T0.astimezone(ZoneInfo("UTC"))  # the same instant in another zone
    later = T0.replace(second=2)
    for tm in (T0, T0, utc, T0, later, T0.replace(second=1)):
        assert iso_time(tm) == tm.isoformat()


def test_decoder_rate_memo_keeps_the_wire_text() -> None:
    dec = RealtimeDecoder(clock=lambda: T0.timestamp())
    dec.set_clock(T0.timestamp())
    base = dict.fromkeys(("14", "16", "17", "18", "27", "28"), "1")
    base.update({"20": "090001", "10": "-70000", "11": "-100", "15": "+3", "13": "10"})
    got = [
        dec.decode_items([{"type": "0B", "item": "005930", "values": {**base, **v}}])[0]
        for v in (
            {"12": "0.70", "228": "0.7"},
            {"12": "0.7", "228": "0.70"},
            {"12": "0.70", "228": ""},
            {"12": "x"},  # malformed: the slow path counts it, rate falls back to 0
        )
    ]
    trades = [t for t in got if isinstance(t, Trade)]
    assert [(str(t.change_rate), str(t.strength)) for t in trades] == [
        ("0.70", "0.7"), ("0.7", "0.70"), ("0.70", "None"), ("0", "None")
    ]  # fmt: skip
    assert dec.malformed["0B:field:12"] == 1
