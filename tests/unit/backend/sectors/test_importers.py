"""The CSV parser of the sector link's import (no database): what it accepts, how it
adjusts, and that every bad line is named."""

from __future__ import annotations

import io
from datetime import date

import pytest

from gslts_backend.sectors.importers import MAX_LISTED_ERRORS, CsvImportError, parse_csv

HEADER = "symbol,date,open,high,low,close,volume"


def test_columns_in_any_order_extra_ignored_blank_lines_skipped() -> None:
    text = "Volume,Close,Low,High,Open,Date,Symbol,note\n10,101,99,102,100,20260901,soxx,x\n\n"
    bars = parse_csv(io.StringIO(text), "us")
    (bar,) = bars["SOXX"]
    assert (bar.day, bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        date(2026, 9, 1), 100.0, 102.0, 99.0, 101.0, 10.0,
    )  # fmt: skip


def test_adj_close_scales_the_bar() -> None:
    text = HEADER + ",adj_close\nSOXX,2026-09-01,100,110,90,100,5,50\n"
    (bar,) = parse_csv(io.StringIO(text), "us")["SOXX"]
    assert (bar.open, bar.high, bar.low, bar.close) == (50.0, 55.0, 45.0, 50.0)


def test_sorted_oldest_first() -> None:
    text = HEADER + "\nEWY,2026-09-02,1,1,1,1,1\nEWY,2026-09-01,1,1,1,1,1\n"
    assert [b.day.day for b in parse_csv(io.StringIO(text), "us")["EWY"]] == [1, 2]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("SOXX,2026-09-01,abc,1,1,1,1", "open: not a number"),
        ("SOXX,2026-09-01,1,1,1,1,nan", "volume: not a finite number"),
        ("SOXX,2026-02-30,1,1,1,1,1", "date: not YYYY-MM-DD"),
        ("SOXX,2026-09-01,0,1,1,1,1", "prices must be > 0"),
        ("SOXX,2026-09-01,1,1,1,1,-1", "volume must be >= 0"),
        ("SOXX,2026-09-01,1,1,2,1,1", "inconsistent bar"),
        ("soxx etf,2026-09-01,1,1,1,1,1", "is not a US symbol"),
        ("SOXX,2026-09-01,1,1", "4 fields, the header has 7"),
    ],
)
def test_a_bad_row_is_named_by_its_line(row: str, problem: str) -> None:
    text = f"{HEADER}\nSOXX,2026-08-31,1,1,1,1,1\n{row}\n"
    with pytest.raises(CsvImportError) as err:
        parse_csv(io.StringIO(text), "us", name="t.csv")
    assert err.value.errors[0][0] == 3
    assert problem in err.value.errors[0][1]
    assert str(err.value).startswith("t.csv: 1 bad row(s), nothing imported:\n  line 3: ")


def test_kr_codes_are_six_characters() -> None:
    ok = parse_csv(io.StringIO(HEADER + "\n005930,2026-09-01,1,1,1,1,1\n"), "kr")
    assert list(ok) == ["005930"]
    with pytest.raises(CsvImportError, match="6-character KRX code"):
        parse_csv(io.StringIO(HEADER + "\nSOXX,2026-09-01,1,1,1,1,1\n"), "kr")


def test_many_bad_rows_are_summarised() -> None:
    rows = "\n".join(f"SOXX,2026-09-01,x{i},1,1,1,1" for i in range(30))
    with pytest.raises(CsvImportError) as err:
        parse_csv(io.StringIO(f"{HEADER}\n{rows}\n"), "us")
    assert len(err.value.errors) == 30
    assert f"… and {30 - MAX_LISTED_ERRORS} more" in str(err.value)


def test_empty_file_and_missing_header() -> None:
    with pytest.raises(CsvImportError, match="empty file"):
        parse_csv(io.StringIO(""), "us")
    with pytest.raises(CsvImportError, match="header lacks volume"):
        parse_csv(io.StringIO("symbol,date,open,high,low,close\n"), "us")


def test_progress_is_reported() -> None:
    rows = "\n".join(
        f"EWY,{date.fromordinal(738000 + i).isoformat()},1,1,1,1,1" for i in range(25_000)
    )
    seen: list[tuple[int, int | None]] = []
    parse_csv(
        io.StringIO(f"{HEADER}\n{rows}\n"),
        "us",
        progress=lambda n, t: seen.append((n, t)),
        total_rows=25_000,
    )
    assert seen == [(10_000, 25_000), (20_000, 25_000), (25_000, 25_000)]
