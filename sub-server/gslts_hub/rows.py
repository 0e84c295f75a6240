"""Compact journal records: decoded realtime events → small JSON arrays → database rows.

The socket thread turns each frame's trades (and sampled books) into **one** journal record,
``orjson.dumps({"r": recv_epoch, "s": source, "t": [tick, …], "b": [book, …]})``. Arrays
keep the record small (one frame of 10 trades is ~700 bytes) and cheap to build; the writer
thread expands them into :class:`gslts_db.TickRow` / :class:`gslts_db.OrderbookRow`.

Tick array (index: meaning)::

    0 code  1 venue  2 trade_date (proleptic ordinal)  3 cum_volume  4 trade_time (epoch s)
    5 price  6 volume (signed)  7 cum_value (KRW million)  8 best_ask  9 best_bid
    10 change_rate (str)  11 strength (str | None)  12 session

Book array::

    0 code  1 venue  2 trade_date (ordinal)  3 book_time (epoch s)  4 ask prices  5 ask qtys
    6 bid prices  7 bid qtys  8 total_ask  9 total_bid  10 expected_price  11 expected_qty

Times travel as epoch seconds and come back as *naive KST* datetimes (what ``tick_data``
stores; :class:`gslts_db.TickRow` takes naive values as KST), which avoids a timezone
conversion per row on the hot path.

On MariaDB the writer skips :class:`gslts_db.TickRow` altogether: :func:`tick_lines` turns
the arrays straight into the ``LOAD DATA`` lines ``insert_ticks`` would have written for
the rows of :func:`tick_row` (same text, byte for byte — a unit test compares them), with
memoised text for the values that repeat (codes, days, trade seconds, rates), so no
``date``/``datetime``/``Decimal`` is built per tick.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from gslts_db import OrderbookRow, TickRow, pack_levels
from gslts_db.store import tick_tsv_line, tsv_date_text, tsv_datetime, tsv_decimal, tsv_text
from gslts_kiwoom.realtime import OrderBook, Trade

#: epoch 0 as a naive KST wall-clock time
EPOCH_KST = datetime(1970, 1, 1, 9, 0, 0)  # noqa: DTZ001 - naive KST by design
_dates: dict[int, date] = {}
# Write-path memos (writer thread only): trades come many per second and change rates /
# strengths repeat, so a dict hit replaces a datetime addition or a Decimal parse per tick.
# Bounded: cleared when full (a trading day has ~23k distinct seconds).
_times: dict[float, datetime] = {}
_decimals: dict[str, Decimal] = {}
_MEMO_MAX = 200_000

TickArray = list[Any]
BookArray = list[Any]

#: index of fields in a tick array (used by other modules)
T_CODE, T_VENUE, T_DATE, T_CUM, T_TIME, T_PRICE, T_VOLUME = 0, 1, 2, 3, 4, 5, 6
T_CUM_VALUE = 7


#: memo of the last trade time and its epoch: trades come many per second, and comparing
#: two KST datetimes is far cheaper than ``timestamp()`` on a zoned one. One tuple, swapped
#: atomically, so concurrent callers never pair a time with another time's epoch.
_last_time: tuple[datetime | None, float] = (None, 0.0)


def trade_to_array(t: Trade) -> TickArray:
    """A decoded 0B 주식체결 trade as a journal tick array."""
    global _last_time
    tm = t.time
    memo = _last_time
    if tm != memo[0]:
        memo = _last_time = (tm, tm.timestamp())
    return [
        t.code,
        str(t.venue),
        t.trade_date.toordinal(),
        t.cum_volume,
        memo[1],
        t.price,
        t.volume,
        t.cum_value,
        t.best_ask,
        t.best_bid,
        str(t.change_rate),
        None if t.strength is None else str(t.strength),
        t.session,
    ]


#: memo of the last trade time's ISO text (the bus quote), swapped atomically like above
_last_iso: tuple[datetime | None, str] = (None, "")


def iso_time(tm: datetime) -> str:
    """``tm.isoformat()``, memoised for the run of trades stamped with the same second
    (``isoformat`` of a zoned datetime costs ~1.5 µs, a tick's budget is ~20)."""
    global _last_iso
    memo = _last_iso
    prev = memo[0]
    if tm is not prev and (prev is None or tm != prev or tm.tzinfo is not prev.tzinfo):
        memo = _last_iso = (tm, tm.isoformat())
    return memo[1]


def book_to_array(b: OrderBook) -> BookArray:
    """A decoded 0D 주식호가잔량 book as a journal book array."""
    return [
        b.code,
        str(b.venue),
        b.time.date().toordinal(),
        b.time.timestamp(),
        [p for p, _ in b.asks],
        [q for _, q in b.asks],
        [p for p, _ in b.bids],
        [q for _, q in b.bids],
        b.total_ask,
        b.total_bid,
        b.expected_price,
        b.expected_qty,
    ]


def encode_record(
    recv_epoch: float,
    ticks: Sequence[TickArray],
    books: Sequence[BookArray] = (),
    source: str = "live",
) -> bytes:
    """One journal record for one batch of frames (or one backfilled gap)."""
    rec: dict[str, Any] = {"r": recv_epoch, "t": ticks}
    if books:
        rec["b"] = books
    if source != "live":
        rec["s"] = source
    return orjson.dumps(rec)


def decode_record(payload: bytes) -> tuple[float, str, list[TickArray], list[BookArray]]:
    """``(recv_epoch, source, ticks, books)`` of a journal record."""
    rec = orjson.loads(payload)
    return rec["r"], rec.get("s", "live"), rec.get("t", []), rec.get("b", [])


def naive_kst(epoch_s: float) -> datetime:
    """Epoch seconds → naive KST wall-clock datetime (as stored)."""
    return EPOCH_KST + timedelta(seconds=epoch_s)


def _date(ordinal: int) -> date:
    d = _dates.get(ordinal)
    if d is None:
        d = _dates[ordinal] = date.fromordinal(ordinal)
    return d


def _time(epoch_s: float) -> datetime:
    t = _times.get(epoch_s)
    if t is None:
        if len(_times) >= _MEMO_MAX:
            _times.clear()
        t = _times[epoch_s] = EPOCH_KST + timedelta(seconds=epoch_s)
    return t


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    d = _decimals.get(text)
    if d is None:
        if len(_decimals) >= _MEMO_MAX:
            _decimals.clear()
        d = _decimals[text] = Decimal(text)
    return d


def tick_row(a: TickArray, recv: datetime, source: str) -> TickRow:
    """A journal tick array as a ``tick_data`` row."""
    return TickRow(
        a[0],
        _date(a[2]),
        a[1],
        a[3],
        _time(a[4]),
        recv,
        a[5],
        a[6],
        a[7],
        a[8],
        a[9],
        _decimal(a[10]),
        _decimal(a[11]),
        a[12],
        source,
    )


# LOAD DATA text memos (writer thread only), bounded like the ones above
_txt: dict[str | None, str] = {}
_rate_txt: dict[str | None, str] = {}
_day_txt: dict[int, str] = {}
_time_txt: dict[float, str] = {}


def _memo_put(memo: dict[Any, str], key: Any, text: str) -> str:
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = text
    return text


def _m_txt(v: str | None) -> str:
    return _memo_put(_txt, v, tsv_text(v))


def _m_rate(v: str | None) -> str:
    return _memo_put(_rate_txt, v, tsv_decimal(v))


def _m_day(ordinal: int) -> str:
    return _memo_put(_day_txt, ordinal, tsv_date_text(_date(ordinal)))


def _m_time(epoch_s: float) -> str:
    return _memo_put(_time_txt, epoch_s, tsv_datetime(_time(epoch_s)))


def tick_lines(records: Iterable[tuple[float, str, list[TickArray]]]) -> Iterator[str]:
    """``tick_data`` LOAD DATA lines of journal tick arrays, ``(recv_epoch, source, ticks)``
    per record: exactly ``tick_tsv_line(tick_row(a, naive_kst(recv), source))`` per tick
    (column order = ``TICK_COLUMNS``: code, date, venue, cum, time, recv, …)."""
    txt, rates, days, times = _txt, _rate_txt, _day_txt, _time_txt
    for recv, source, ticks in records:
        recv_dt = naive_kst(recv)
        recv_s = tsv_datetime(recv_dt)
        src = txt.get(source) or _m_txt(source)
        for a in ticks:
            try:
                code, venue, day, cum, tm, price, vol, cv, ask, bid, rate, strength, session = a
                # ``:d`` refuses None/float/str: such a tick takes the reference path below
                yield (
                    f"{txt.get(code) or _m_txt(code)}\t{days.get(day) or _m_day(day)}\t"
                    f"{txt.get(venue) or _m_txt(venue)}\t{cum:d}\t"
                    f"{times.get(tm) or _m_time(tm)}\t{recv_s}\t{price:d}\t{vol:d}\t{cv:d}\t"
                    f"{ask:d}\t{bid:d}\t{rates.get(rate) or _m_rate(rate)}\t"
                    f"{rates.get(strength) or _m_rate(strength)}\t"
                    f"{txt.get(session) or _m_txt(session)}\t{src}"
                )
            except (TypeError, ValueError):
                yield tick_tsv_line(tick_row(a, recv_dt, source))


def tick_rows(records: Iterable[tuple[float, str, list[TickArray]]]) -> Iterator[TickRow]:
    """:func:`tick_row` of every tick of ``(recv_epoch, source, ticks)`` records."""
    for recv, source, ticks in records:
        recv_dt = naive_kst(recv)
        for a in ticks:
            yield tick_row(a, recv_dt, source)


def book_row(a: BookArray, recv: datetime) -> OrderbookRow:
    """A journal book array as an ``orderbook_snapshots`` row (levels packed)."""
    return OrderbookRow(
        a[0],
        _date(a[2]),
        a[1],
        naive_kst(a[3]),
        recv,
        pack_levels(a[4], a[5], a[6], a[7]),
        a[8],
        a[9],
        a[10],
        a[11],
    )
