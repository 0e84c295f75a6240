"""``gslts users add|passwd|list|disable`` through the real ``gslts`` parser, on the same
database as a running app (SQLite file): a user added on the command line logs in; a
password change or a disable ends its sessions; the last admin stays; weak passwords,
duplicates and unknown users are refused with exit codes 2 / 1; changes are audited."""

from __future__ import annotations

import io
from typing import get_args

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gslts_backend.auth.routes import USERNAME_PATTERN
from gslts_backend.deps import Role
from gslts_backend.settings import BackendSettings
from gslts_cli import cli, cli_users
from gslts_db import make_engine
from gslts_db.models import AuditEntry
from tests.unit.backend.auth.conftest import ADMIN_PASSWORD, bearer

GOOD = "plain-river-stone-42"
OTHER = "quiet-amber-field-77"


@pytest.fixture
def gslts(
    settings: BackendSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> object:
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        rc = cli.main(["users", *argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def test_the_cli_agrees_with_the_auth_area() -> None:
    assert set(get_args(Role)) == set(cli_users.ROLES)
    assert cli_users.USERNAME_PATTERN == USERNAME_PATTERN


def test_users_add_passwd_list_disable(
    client: TestClient, settings: BackendSettings, gslts: object
) -> None:
    run = gslts
    assert callable(run)
    rc, out, _ = run("add", "trader1", "--role", "trader", "--password-stdin", stdin=GOOD + "\n")
    assert (rc, out.strip()) == (0, "added trader1 (trader)")
    h = bearer(client, "trader1", GOOD)
    assert client.get("/api/auth/me", headers=h).json()["role"] == "trader"

    rc, _, err = run("add", "trader1", "--password-stdin", stdin=GOOD + "\n")
    assert rc == 1
    assert "exists" in err
    rc, _, err = run("add", "viewer9", "--password-stdin", stdin="short\n")
    assert rc == 2
    assert "password refused" in err
    rc, _, err = run("add", "viewer9", "--password-stdin", stdin="password-password-1\n")
    assert rc == 2
    assert "placeholder" in err
    with pytest.raises(SystemExit) as bad_name:
        run("add", "no spaces", "--password-stdin", stdin=GOOD + "\n")
    assert bad_name.value.code == 2

    rc, out, _ = run("list")
    assert rc == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:4] == ["id", "username", "role", "active"]
    rows = {ln.split()[1]: ln.split()[2:4] for ln in lines[1:]}
    assert rows == {"admin": ["admin", "yes"], "trader1": ["trader", "yes"]}

    # a new password: the old sessions end, the old password no longer works
    rc, out, _ = run("passwd", "trader1", "--password-stdin", stdin=OTHER + "\n")
    assert rc == 0
    assert "1 session(s) ended" in out
    assert client.get("/api/auth/me", headers=h).status_code == 401
    r = client.post("/api/auth/login", json={"username": "trader1", "password": GOOD})
    assert r.status_code == 401
    h = bearer(client, "trader1", OTHER)

    # disable: its sessions end, it cannot log in; the last admin cannot be disabled
    rc, out, _ = run("disable", "trader1")
    assert rc == 0
    assert "1 session(s) ended" in out
    assert client.get("/api/auth/me", headers=h).status_code == 401
    r = client.post("/api/auth/login", json={"username": "trader1", "password": OTHER})
    assert r.status_code == 401
    rc, _, err = run("disable", "admin")
    assert rc == 1
    assert "last active admin" in err
    assert client.get("/api/auth/me", headers=bearer(client, "admin", ADMIN_PASSWORD)).is_success
    rc, _, err = run("passwd", "nobody", "--password-stdin", stdin=GOOD + "\n")
    assert rc == 1
    assert "no user" in err

    engine = make_engine(settings.resolved_database_url())
    with engine.connect() as conn:
        trail = conn.execute(
            sa.select(AuditEntry.username, AuditEntry.action, AuditEntry.target)
            .where(AuditEntry.username == "cli")
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(t) for t in trail] == [
        ("cli", "user.add", "trader1"),
        ("cli", "user.update", "trader1"),
        ("cli", "user.update", "trader1"),
    ]
    # no password in the trail's details
    with engine.connect() as conn:
        details = repr(conn.execute(sa.select(AuditEntry.detail)).scalars().all())
    engine.dispose()
    assert GOOD not in details
    assert OTHER not in details


def test_a_password_asked_on_a_terminal_must_be_typed_twice_alike() -> None:
    from gslts_backend.auth.cli_users import CliError, read_password

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([GOOD, GOOD])
    assert read_password(False, Tty(), lambda _: next(answers)) == GOOD
    answers = iter([GOOD, OTHER])
    with pytest.raises(CliError, match="differ"):
        read_password(False, Tty(), lambda _: next(answers))
