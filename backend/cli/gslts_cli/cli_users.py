"""``gslts users add|passwd|list|disable``: dashboard logins, for operators.

Only the arguments here (no heavy import, so ``gslts --help`` stays instant); the work is
the auth area's :mod:`gslts_backend.auth.cli_users` (docs/backend.md "Auth and sessions").
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from gslts_common.settings import Settings

#: the roles of ``gslts_backend.deps.Role`` and the API's username rule (a unit test
#: holds both equal to the auth area's)
ROLES = ("viewer", "trader", "admin")
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def _username(text: str) -> str:
    if not re.match(USERNAME_PATTERN, text):
        raise argparse.ArgumentTypeError(
            "a username is 1-64 letters, digits, '.', '_' or '-' (first a letter or digit): "
            f"{text[:70]!r}"
        )
    return text


def register(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="dashboard users: add, passwd, list, disable")
    sub = users.add_subparsers(dest="users_command", metavar="<users command>", required=True)
    stdin_help = "read the password from the first line of stdin (else it is asked twice)"
    p = sub.add_parser("add", help="add a user (the password is asked, never an argument)")
    p.add_argument("username", type=_username)
    p.add_argument("--role", choices=ROLES, default="viewer", help="default: viewer")
    p.add_argument("--password-stdin", action="store_true", help=stdin_help)
    p = sub.add_parser("passwd", help="set a user's password (its sessions end)")
    p.add_argument("username", type=_username)
    p.add_argument("--password-stdin", action="store_true", help=stdin_help)
    sub.add_parser("list", help="every user: id, name, role, active, created, last login")
    p = sub.add_parser("disable", help="disable a user (its sessions end); not the last admin")
    p.add_argument("username", type=_username)
    users.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from gslts_backend.auth.cli_users import run as run_users
    from gslts_backend.settings import BackendSettings

    return run_users(args, BackendSettings())
