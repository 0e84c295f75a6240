"""Build the simulator's shipped data files from the reference data in ``../shared``.

Run from the repository root (output is committed; the project never reads ``../shared``
at run time)::

    .venv/bin/python backend/kiwoom/scripts/build_universe.py [--shared ../shared]

Writes into ``backend/kiwoom/src/gslts_kiwoom/sim/data/``:

* ``universe.csv.gz`` — one row per KRX listing of August 2023 (2,746 rows): code, name,
  market, KOSDAQ department, industry group (대/중, from the 2025–26 classification where
  the code is known), base price (that day's close), listed shares, that day's volume and
  trading value (KRW), market cap and the NXT flag. Deterministic (gzip mtime 0).
* ``api_paths.json`` — api-id → URL path for every API in ``catalogue.json``, so the
  simulator can tell "unknown api-id" (1505) from "api-id of another path" (1504).

NXT flag (our documented approximation; the real list is published by Nextrade): KOSPI
and KOSDAQ common stocks — code ending in ``0``, name not a preferred share (``…우``,
``…우B``, ``…우(전환)``) and not a SPAC (``스팩``) — limited to the 800 largest by market
cap, roughly the size of NXT's list.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
OUT_DIR = REPO / "backend/kiwoom/src/gslts_kiwoom/sim/data"
NXT_MAX = 800
_PREFERRED = re.compile(r"\d?우[A-Z]?(\(전환\))?$")

COLUMNS = [
    "code",
    "name",
    "market",
    "dept",
    "sector",
    "sector_mid",
    "base_price",
    "listed_shares",
    "volume",
    "value",
    "marcap",
    "nxt",
]


def _industry(path: Path) -> dict[str, tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    out: dict[str, tuple[str, str]] = {}
    for row in rows[1:]:
        if len(row) >= 5:
            out[row[0].strip()] = (row[3].strip(), row[4].strip())
    return out


def _is_common(code: str, name: str) -> bool:
    return code.endswith("0") and not _PREFERRED.search(name.strip()) and "스팩" not in name


def build(shared: Path) -> None:
    industry = _industry(shared / "data/krx_industry_classification.csv")
    with (shared / "data/krx_listing_2023-08.csv").open(encoding="utf-8", newline="") as fh:
        listing = list(csv.DictReader(fh))
    eligible = sorted(
        (
            r
            for r in listing
            if r["Market"] in ("KOSPI", "KOSDAQ", "KOSDAQ GLOBAL")
            and _is_common(r["Code"], r["Name"])
        ),
        key=lambda r: -int(r["Marcap"]),
    )
    nxt = {r["Code"] for r in eligible[:NXT_MAX]}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in sorted(listing, key=lambda r: r["Code"]):
        sector, sector_mid = industry.get(r["Code"], ("", ""))
        writer.writerow(
            [
                r["Code"],
                r["Name"].strip(),
                r["Market"],
                r["Dept"],
                sector,
                sector_mid,
                int(r["Close"]),
                int(r["Stocks"]),
                int(r["Volume"]),
                int(r["Amount"]),
                int(r["Marcap"]),
                "Y" if r["Code"] in nxt else "N",
            ]
        )
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with (
        (OUT_DIR / "universe.csv.gz").open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
    ):
        gz.write(buf.getvalue().encode("utf-8"))

    catalogue = json.loads((shared / "kiwoom-api/catalogue.json").read_text(encoding="utf-8"))
    paths = {e["api_id"]: e["path"] for e in catalogue}
    (OUT_DIR / "api_paths.json").write_text(
        json.dumps(dict(sorted(paths.items())), ensure_ascii=False, indent=0) + "\n",
        encoding="utf-8",
    )
    summary = f"wrote {len(listing)} listings ({len(nxt)} NXT) and {len(paths)} api paths"
    print(summary)  # noqa: T201 (script output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    build(parser.parse_args().shared)


if __name__ == "__main__":
    main()
