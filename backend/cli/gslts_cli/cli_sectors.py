"""``gslts sectors import|fetch|recommend|backtest``: the global sector link's data and
model from the command line (docs/sectors-data.md "CLI").

Only the arguments here (``gslts --help`` stays instant); the work is
:mod:`gslts_backend.sectors.cli_sectors`.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from gslts_common.settings import Settings


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(subparsers: Any) -> None:
    sectors = subparsers.add_parser(
        "sectors", help="global sector link: import/fetch bars, recommend, backtest"
    )
    sub = sectors.add_subparsers(dest="sectors_command", metavar="<sectors command>", required=True)

    p = sub.add_parser("import", help="import daily bars from a CSV file (validated first)")
    p.add_argument("file", help="CSV: symbol,date,open,high,low,close,volume[,adj_close]")
    p.add_argument(
        "--kind", choices=["us", "kr"], default="us", help="US instruments (default) or KRX stocks"
    )

    p = sub.add_parser(
        "fetch", help="fetch US bars (simulator feed) and KR bars (ka10081) into the DB"
    )
    p.add_argument(
        "--from", dest="from_", type=_date, default=None, help="first day (default: 3 years back)"
    )
    p.add_argument("--to", type=_date, default=None, help="last day (default: today)")
    p.add_argument("--us-provider", choices=["sim", "yfinance"], default="sim", help="default: sim")
    p.add_argument("--no-us", action="store_true", help="skip the US side")
    p.add_argument("--no-kr", action="store_true", help="skip the Korean side (ka10081)")

    p = sub.add_parser("recommend", help="print the ranked watch list for a KRX session")
    p.add_argument("--date", type=_date, default=None, help="the session (default: today/next)")
    p.add_argument("--top", type=int, default=20, help="rows to print (default 20)")
    p.add_argument("--recompute", action="store_true", help="compute again even if stored")
    p.add_argument("--json", action="store_true", help="print the API's JSON instead")

    p = sub.add_parser("backtest", help="walk-forward backtest on the stored data")
    p.add_argument("--from", dest="from_", type=_date, required=True)
    p.add_argument("--to", type=_date, required=True)
    p.add_argument("--top-n", type=int, default=5, help="basket size (default 5)")
    p.add_argument(
        "--permutations", type=int, default=200, help="permutation test size (default 200)"
    )
    p.add_argument("--json", action="store_true", help="print the API's JSON instead")
    sectors.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_backend.sectors.cli_sectors import run as run_sectors
    from gslts_backend.settings import BackendSettings

    return run_sectors(args, BackendSettings())
