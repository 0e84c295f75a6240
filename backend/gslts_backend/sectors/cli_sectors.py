"""The work of ``gslts sectors import|fetch|recommend|backtest`` (the arguments are
``gslts_cli.cli_sectors``'s). Exit codes: 0 done, 1 failed (a provider, no data),
2 bad input (a refused file, a date that is no KRX session)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from gslts_backend.sectors import importers
from gslts_backend.sectors.service import SectorError, SectorService, default_day, now_kst
from gslts_backend.settings import BackendSettings
from gslts_db import make_engine, upgrade

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _pct(x: Any) -> str:
    return "    n/a" if x is None else f"{x * 100:+7.2f}%"


def _p(x: Any) -> str:
    return "p=n/a " if x is None else f"p={x:.3f}"


def run(args: argparse.Namespace, settings: BackendSettings) -> int:
    engine = make_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        service = SectorService(engine)
        service.ensure_seeded()
        cmd = args.sectors_command
        if cmd == "import":
            return _import(args, service)
        if cmd == "fetch":
            return _fetch(args, service, settings)
        if cmd == "recommend":
            return _recommend(args, service)
        return _backtest(args, service)
    except SectorError as exc:
        _err(f"gslts sectors: {exc.detail}")
        return EXIT_BAD_INPUT if exc.kind == "bad_input" else EXIT_FAILED
    finally:
        engine.dispose()


def _import(args: argparse.Namespace, service: SectorService) -> int:
    path = Path(args.file)
    if not path.is_file():
        _err(f"gslts sectors import: no such file: {path}")
        return EXIT_BAD_INPUT

    def progress(done: int, total: int | None) -> None:
        of = f"/{total}" if total else ""
        print(f"  {done}{of} rows read", file=sys.stderr)

    try:
        res = importers.import_csv(service.engine, path, args.kind, progress)
    except importers.CsvImportError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    service.bumped()
    print(
        f"imported {res.rows} {args.kind.upper()} bars of {res.symbols} symbol(s), "
        f"{res.first_date} .. {res.last_date}"
        + (
            f" ({res.dropped_off_calendar} off-calendar days dropped)"
            if res.dropped_off_calendar
            else ""
        )
    )
    return 0


def _fetch(args: argparse.Namespace, service: SectorService, settings: BackendSettings) -> int:
    end: date = args.to or now_kst().date()
    start: date = args.from_ or end - timedelta(days=3 * 365)
    us: importers.UsProvider | None = None
    kr: importers.KrProvider | None = None
    client = None
    try:
        if not args.no_us:
            if args.us_provider == "sim" and settings.kiwoom_mode != "sim":
                _err(
                    "gslts sectors fetch: the simulator's US feed needs KIWOOM_MODE=sim; "
                    "import a CSV instead (gslts sectors import FILE) or --us-provider yfinance"
                )
                return EXIT_BAD_INPUT
            us = importers.make_us_provider(args.us_provider, settings.kiwoom_config().rest_url)
        if not args.no_kr:
            from gslts_common.kiwoom_client import make_kiwoom_client

            client = make_kiwoom_client(settings)
            kr = importers.KiwoomKrProvider(client)
        res = importers.fetch(
            service.engine, start, end, us, kr, progress=lambda m: print(f"  {m}", file=sys.stderr)
        )
    except importers.ProviderUnavailable as exc:
        _err(f"gslts sectors fetch: {exc}")
        return EXIT_FAILED
    finally:
        if isinstance(us, importers.SimUsProvider):
            us.close()
        if client is not None:
            client.close()
    service.bumped()
    print(
        f"stored {res.us.rows} US bars of {res.us.symbols} instrument(s) and {res.kr.rows} KR "
        f"bars (ka10081) of {res.kr.symbols} stock(s), {start} .. {end}"
    )
    for f in res.failures:
        _err(f"  failed: {f}")
    return EXIT_FAILED if res.failures and not (res.us.rows or res.kr.rows) else 0


def _recommend(args: argparse.Namespace, service: SectorService) -> int:
    day: date = args.date or default_day(now_kst())
    out = service.recommendations(day, recompute=args.recompute)
    if args.json:
        print(json.dumps(out, default=str, ensure_ascii=False, indent=2))
        return 0
    sessions = ", ".join(d.isoformat() for d in out["us_sessions"]) or "none"
    state = "stored" if out["stored"] else "not stored"
    print(f"sector watch list for {day} (US sessions: {sessions}; {state}, {out['model_version']})")
    if out["note"]:
        print(f"note: {out['note']}")
    print(
        f"{'#':>3}  {'code':6}  {'name':14}  {'exp.gap':>8}  {'beta':>6} {'±se':>6}  "
        f"{'hit':>5}  drivers"
    )
    for r in out["items"][: args.top]:
        drivers = ", ".join(
            f"{d['us_symbol']} {_pct(d['us_return']).strip()}→{_pct(d['contribution']).strip()}"
            for d in r["drivers"][:3]
        )
        hit = "  n/a" if r["hit_rate"] is None else f"{r['hit_rate'] * 100:4.0f}%"
        beta = "  n/a" if r["beta_gap"] is None else f"{r['beta_gap']:6.3f}"
        se = "  n/a" if r["beta_gap_se"] is None else f"{r['beta_gap_se']:6.3f}"
        print(
            f"{r['rank']:>3}  {r['kr_code']:6}  {r['kr_name'][:14]:14}  {_pct(r['expected_gap'])}  "
            f"{beta} {se}  {hit}  {drivers}"
        )
    if not out["items"]:
        print("(nothing ranked)")
    return 0


def _backtest(args: argparse.Namespace, service: SectorService) -> int:
    if args.to < args.from_:
        _err("gslts sectors backtest: --to is before --from")
        return EXIT_BAD_INPUT
    r = service.backtest(args.from_, args.to, args.top_n, args.permutations)
    if args.json:
        print(json.dumps(r, default=str, ensure_ascii=False, indent=2))
        return 0
    mt = r["multiple_testing"]
    print(
        f"sector link backtest {r['start']} .. {r['end']}: {r['days']} sessions, "
        f"top {r['top_n']}, {r['permutations']} permutations ({r['elapsed_s']} s)"
    )
    rows = [
        ("rank IC, gap (forecast)", r["ic_gap"], False),
        ("ICIR, gap", r["icir_gap"], False),
        ("hit rate, gap sign", r["hit_rate_gap"], True),
        ("top-N gap, theoretical bound", r["top_gap"], True),
        ("top-N gap minus universe", r["top_gap_excess"], True),
        ("rank IC, day session", r["ic_day"], False),
        ("top-N day session, after costs", r["top_day_net"], True),
        ("top-N day minus universe", r["top_day_excess"], True),
    ]
    for label, stat, pct in rows:
        v = stat["value"]
        shown = _pct(v) if pct else ("    n/a" if v is None else f"{v:+8.4f}")
        print(f"  {label:34} {shown}   {_p(stat['p_value'])}")
    print(f"  mean round-trip cost {_pct(r['mean_cost']).strip()} per day-session trade")
    print(f"  links tried {mt['links_tried']}: significant {mt['significant_raw']} raw, "
          f"{mt['significant_holm']} after Holm (alpha {mt['alpha']})")  # fmt: skip
    print(f"caution: {mt['note']}")
    for n in r["notes"]:
        print(f"note: {n}")
    return 0
