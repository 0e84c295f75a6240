"""``gslts sim``: run the Kiwoom simulator (REST + WebSocket ``/api/dostk/websocket``)."""

from __future__ import annotations

import argparse

from gslts_common.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sim", help="run the Kiwoom simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default: SIM_PORT (8002)")
    p.add_argument("--clock", choices=("always", "krx"), default=None, help="default: SIM_CLOCK")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--time-warp", type=float, default=1.0, help="simulated s per wall s")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="market-wide trades per second (default SIM_TRADES_PER_S, 400)",
    )
    p.add_argument(
        "--stocks",
        type=int,
        default=None,
        help="trade only the N stocks with the highest real trading value (floods)",
    )
    p.add_argument(
        "--start-time", default=None, help="market start time, ISO (naive = KST); default now"
    )
    p.add_argument("--replay", default=None, help="replay ticks from a JSONL/CSV/Parquet file")
    p.add_argument("--replay-speed", type=float, default=None, help="recorded s per wall s")
    p.add_argument("--ws-ping-s", type=float, default=None, help="WebSocket PING interval")
    p.add_argument(
        "--ws-trade-exchange",
        default=None,
        help='0B FID 9081 거래소구분 as sent: "KRX" (default, as on the mock server) or "1"',
    )
    p.add_argument(
        "--sector-world",
        choices=["planted", "none", "reversed"],
        default=None,
        help="the sector link's world: US feed (/_sim/us-daily) and the linked stocks' "
        "daily history (default SIM_SECTOR_WORLD, planted)",
    )
    p.set_defaults(func=run)


def _sector_links() -> tuple[tuple[str, str], ...]:
    """The backend's shipped link map as (us_symbol, kr_code) pairs for the sim's world."""
    from gslts_backend.sectors.model import load_default_links

    return tuple((lk.us_symbol, lk.kr_code) for lk in load_default_links())


def run(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_kiwoom.sim import SimConfig, serve

    fields: dict[str, object] = {
        "host": args.host,
        "port": args.port if args.port is not None else settings.sim_port,
        "clock": args.clock or settings.sim_clock,
        "time_warp": args.time_warp,
        "app_key": settings.sim_app_key,
        "secret_key": settings.sim_secret_key,
        "token_ttl_s": settings.sim_token_ttl_s,
        "trades_per_s": settings.sim_trades_per_s,
    }
    if args.seed is not None:
        fields["seed"] = args.seed
    if args.rate is not None:
        fields["trades_per_s"] = args.rate
    if args.stocks is not None:
        fields["trade_universe"] = args.stocks
    if args.start_time:
        from datetime import datetime

        from gslts_kiwoom.krx import KST

        start = datetime.fromisoformat(args.start_time)
        fields["start_time"] = start if start.tzinfo else start.replace(tzinfo=KST)
    if args.replay:
        fields["replay"] = args.replay
    if args.replay_speed is not None:
        fields["replay_speed"] = args.replay_speed
    if args.ws_ping_s is not None:
        fields["ws_ping_s"] = args.ws_ping_s
    if args.ws_trade_exchange is not None:
        fields["ws_trade_exchange"] = args.ws_trade_exchange
    fields["sector_world"] = args.sector_world or settings.sim_sector_world
    fields["sector_links"] = _sector_links()
    serve(SimConfig.model_validate(fields))
    return 0
