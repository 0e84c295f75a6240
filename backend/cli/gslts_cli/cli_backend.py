"""``gslts backend``: run the main server; the same as ``python -m gslts_backend``."""

from __future__ import annotations

import argparse

from gslts_common.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backend", help="run the main server (backend)")
    p.add_argument(
        "--port", type=int, default=None, help="listen port (default BACKEND_PORT, 8000)"
    )
    p.add_argument("--host", default=None, help="listen address (default BACKEND_HOST, 127.0.0.1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_backend.main import main

    argv = [*(["--port", str(args.port)] if args.port else []),
            *(["--host", args.host] if args.host else [])]  # fmt: skip
    return main(argv)
