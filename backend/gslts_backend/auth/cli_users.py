"""``gslts users add|passwd|list|disable``: operators manage logins without the API (the
first admin locked out, a new trader before anyone can log in). The arguments are parsed
by ``gslts_cli.cli_users`` (light, for an instant ``gslts --help``); this is the work.

Works on the database of ``DATABASE_URL`` (else the SQLite file under ``DATA_DIR``), the
same one the backend uses; the schema is migrated to head first, as the backend does.
A password is never an argument (it would show in ``ps`` and the shell history): it is
asked twice on a terminal, else read as the first line of standard input
(``--password-stdin``), and checked like the API's (12+ characters, no placeholder).
Changing a password or disabling a user ends its sessions; the last active admin cannot be
disabled. Every change is an ``audit_log`` row (username ``cli``, action ``user.add`` /
``user.update``). Exit codes: 0 done, 1 refused (no such user, exists, last admin), 2 bad
input (weak password, bad name or role).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from gslts_backend.auth.audit import record_audit
from gslts_backend.auth.passwords import hash_password, password_problem
from gslts_backend.auth.store import now, revoke_user_sessions
from gslts_backend.settings import BackendSettings
from gslts_db.models import User

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
#: who the audit trail names for a change made here
CLI_ACTOR = "cli"


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def read_password(from_stdin: bool, stdin: IO[str], ask: Callable[[str], str]) -> str:
    """The new password: the first line of ``stdin``, or asked twice on the terminal."""
    if from_stdin or not stdin.isatty():
        value = stdin.readline().rstrip("\r\n")
    else:
        value = ask("New password: ")
        if ask("Again: ") != value:
            raise CliError("the two passwords differ", EXIT_BAD_INPUT)
    problem = password_problem(value)
    if problem:
        raise CliError(f"password refused: {problem}", EXIT_BAD_INPUT)
    return value


def _user(db: Session, username: str) -> User:
    user = db.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise CliError(f"no user {username!r}", EXIT_REFUSED)
    return user


def _audit(db: Session, action: str, target: str, detail: dict[str, Any]) -> None:
    record_audit(db, None, action, target, "ok", detail, username=CLI_ACTOR)


def add(db: Session, username: str, role: str, password: str) -> str:
    if db.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise CliError(f"user {username!r} exists (gslts users passwd to change it)", EXIT_REFUSED)
    db.add(
        User(
            username=username,
            password_hash=hash_password(password),
            role=role,
            is_active=True,
            created_at=now(),
        )
    )
    _audit(db, "user.add", username, {"role": role})
    db.commit()
    return f"added {username} ({role})"


def passwd(db: Session, username: str, password: str) -> str:
    user = _user(db, username)
    user.password_hash = hash_password(password)
    ended = revoke_user_sessions(db, user.id)
    _audit(db, "user.update", username, {"password_changed": True, "sessions_revoked": ended})
    db.commit()
    return f"password of {username} changed; {ended} session(s) ended"


def disable(db: Session, username: str) -> str:
    user = _user(db, username)
    if not user.is_active:
        return f"{username} is disabled already"
    if user.role == "admin":
        admins = db.scalar(
            sa.select(sa.func.count())
            .select_from(User)
            .where(User.role == "admin", User.is_active.is_(True))
        )
        if (admins or 0) <= 1:
            raise CliError(f"{username} is the last active admin: not disabled", EXIT_REFUSED)
    user.is_active = False
    ended = revoke_user_sessions(db, user.id)
    _audit(db, "user.update", username, {"is_active": False, "sessions_revoked": ended})
    db.commit()
    return f"disabled {username}; {ended} session(s) ended"


def listing(db: Session) -> str:
    rows = list(db.scalars(sa.select(User).order_by(User.id)))
    lines = [f"{'id':>4}  {'username':<24} {'role':<7} {'active':<6} {'created':<19}  last login"]
    for u in rows:
        created = u.created_at.strftime("%Y-%m-%d %H:%M:%S") if u.created_at else "-"
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M:%S") if u.last_login_at else "-"
        active = "yes" if u.is_active else "no"
        lines.append(f"{u.id:>4}  {u.username:<24} {u.role:<7} {active:<6} {created:<19}  {last}")
    return "\n".join(lines)


def run(
    args: argparse.Namespace,
    settings: BackendSettings,
    *,
    stdin: IO[str] | None = None,
    out: IO[str] | None = None,
    ask: Callable[[str], str] = getpass.getpass,
    sessions: sessionmaker[Session] | None = None,
) -> int:
    """One ``gslts users`` command; the exit code (messages on ``out`` / stderr)."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    engine = None
    try:
        password = ""
        if args.users_command in ("add", "passwd"):
            password = read_password(args.password_stdin, stdin, ask)
        if sessions is None:
            from gslts_db import make_engine, make_session_factory, upgrade

            engine = make_engine(settings.resolved_database_url())
            upgrade(engine)
            sessions = make_session_factory(engine)
        with sessions() as db:
            if args.users_command == "add":
                text = add(db, args.username, args.role, password)
            elif args.users_command == "passwd":
                text = passwd(db, args.username, password)
            elif args.users_command == "disable":
                text = disable(db, args.username)
            else:
                text = listing(db)
    except CliError as exc:
        print(f"gslts users: {exc}", file=sys.stderr)
        return exc.code
    finally:
        if engine is not None:
            engine.dispose()
    print(text, file=out)
    return 0
