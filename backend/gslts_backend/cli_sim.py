"""``gslts sim``: run the Kiwoom simulator (REST; WebSocket when that layer lands)."""

from __future__ import annotations

import argparse

from gslts_backend.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sim", help="run the Kiwoom simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default: SIM_PORT (8002)")
    p.add_argument("--clock", choices=("always", "krx"), default=None, help="default: SIM_CLOCK")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--time-warp", type=float, default=1.0, help="simulated s per wall s")
    p.add_argument("--rate", type=float, default=None, help="market-wide trades per second")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_kiwoom.sim import SimConfig, serve

    fields: dict[str, object] = {
        "host": args.host,
        "port": args.port if args.port is not None else settings.sim_port,
        "clock": args.clock or settings.sim_clock,
        "time_warp": args.time_warp,
    }
    if args.seed is not None:
        fields["seed"] = args.seed
    if args.rate is not None:
        fields["trades_per_s"] = args.rate
    serve(SimConfig.model_validate(fields))
    return 0
