"""The TSV text ``insert_ticks`` feeds to ``LOAD DATA`` (no server needed).

LOAD DATA's default format: TAB between fields, newline after each row, backslash escapes,
``\\N`` for NULL, nothing enclosed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from gslts_db import KST, TICK_COLUMNS, TickData, TickRow
from gslts_db.store import _tsv_lines

TABLE: sa.Table = TickData.__table__  # type: ignore[assignment]
T = datetime(2026, 11, 24, 9, 0, 1, tzinfo=KST)
ROW = TickRow("005930", date(2026, 11, 24), "KRX", 10, T, T, 70_000, -3, 1, source="live")


def _lines(rows: list[TickRow | dict[str, object]]) -> list[list[str]]:
    text = "".join(t for _, t in _tsv_lines(TABLE, TICK_COLUMNS, rows))
    assert text.endswith("\n")
    return [line.split("\t") for line in text[:-1].split("\n")]


def test_special_characters_are_escaped_so_fields_and_rows_stay_apart() -> None:
    nasty = "a\tb\nc\\d\re\0f'\"한글\\N"
    (fields,) = _lines([ROW._replace(stock_code=nasty, session="\\")])
    assert len(fields) == len(TICK_COLUMNS)
    assert fields[0] == "a\\tb\\nc\\\\d\\re\\0f'\"한글\\\\N"
    assert fields[13] == "\\\\"


def test_nulls_numbers_dates_and_zones() -> None:
    utc = datetime(2026, 11, 24, 0, 0, 1, 500, tzinfo=UTC)
    ny = datetime(2026, 11, 23, 19, 0, 2, tzinfo=ZoneInfo("America/New_York"))
    naive = datetime(2026, 11, 24, 9, 0, 3)  # noqa: DTZ001 - naive is taken as KST
    rows = [
        ROW._replace(trade_time=utc, recv_time=ny, change_rate=Decimal("1E+2")),
        ROW._replace(trade_time=naive, recv_time=T, best_ask=5, strength=Decimal("-0.50")),
    ]
    a, b = _lines(rows)  # type: ignore[arg-type]
    assert a[1:5] == ["2026-11-24", "KRX", "10", "2026-11-24 09:00:01.000500"]
    assert a[5] == "2026-11-24 09:00:02"
    assert a[9:15] == ["\\N", "\\N", "100", "\\N", "\\N", "live"]
    assert b[4:6] == ["2026-11-24 09:00:03", "2026-11-24 09:00:01"]
    assert b[9:13] == ["5", "\\N", "\\N", "-0.50"]


def test_repeated_values_of_equal_hash_keep_their_own_text() -> None:
    # the encoder memoises per column: equal instants in different zones share the KST
    # text (correct), distinct values never do
    same_instant = T.astimezone(UTC)
    rows = [
        ROW,
        ROW._replace(trade_time=same_instant, cum_volume=True, price=Decimal("7")),  # type: ignore[arg-type]
        ROW._replace(trade_time=T.replace(microsecond=1), change_rate=Decimal("1.0")),
        ROW._replace(change_rate=Decimal("1.00")),
    ]
    got = _lines(rows)  # type: ignore[arg-type]
    assert [f[4] for f in got] == [
        "2026-11-24 09:00:01",
        "2026-11-24 09:00:01",
        "2026-11-24 09:00:01.000001",
        "2026-11-24 09:00:01",
    ]
    assert got[1][3] == "1"
    assert got[1][6] == "7"
    assert {got[2][11], got[3][11]} <= {"1.0", "1.00"}  # the same DECIMAL(9,2) value


def test_dict_rows_take_the_column_default_and_bad_widths_fail() -> None:
    d = ROW._asdict()
    del d["source"]
    (fields,) = _lines([d])
    assert fields[14] == "live"
    with pytest.raises(ValueError, match="values to unpack"):
        _lines([tuple(ROW)[:-1]])  # type: ignore[list-item]
