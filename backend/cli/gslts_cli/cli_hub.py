"""``gslts sub-server``: run the tick hub (collector + API + monitoring page); the same as
``python -m gslts_hub``."""

from __future__ import annotations

import argparse

from gslts_common.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sub-server", help="run the tick hub (sub-server)")
    p.add_argument("--port", type=int, default=None, help="listen port (default HUB_PORT, 8001)")
    p.add_argument("--host", default=None, help="listen address (default HUB_HOST, 127.0.0.1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_hub.main import main

    argv = [*(["--port", str(args.port)] if args.port else []),
            *(["--host", args.host] if args.host else [])]  # fmt: skip
    return main(argv)
