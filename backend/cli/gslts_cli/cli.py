"""The ``gslts`` command line: one entry point for operators.

Each subcommand lives in its own ``cli_<name>`` module exposing ``register(subparsers)``;
modules import their heavy dependencies only when the command runs, so ``gslts --help``
stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gslts_common.logging import configure_logging
from gslts_common.settings import Settings

#: subcommand modules, in ``--help`` order
_COMMAND_MODULES = (
    "gslts_cli.cli_run",
    "gslts_cli.cli_sim",
    "gslts_cli.cli_kiwoom",
    "gslts_cli.cli_db",
    "gslts_cli.cli_hub",
    "gslts_cli.cli_backend",
    "gslts_cli.cli_users",
    "gslts_cli.cli_sectors",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gslts", description="GSLTS — Global Sector Linked Trading System"
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # command not built yet in this checkout
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    try:
        rc = args.func(args, settings)
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
