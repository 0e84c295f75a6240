"""The first admin, made at start-up (``GSLTS_ADMIN_USER`` / ``GSLTS_ADMIN_PASSWORD``) when
no active admin exists.

A weak, placeholder or empty password is refused (the backend does not start) unless
``KIWOOM_MODE=sim``: then a one-time password is generated, logged once (loudly, so
``make run`` shows it) and written to ``DATA_DIR/admin-password.txt`` (mode 0600)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from gslts_backend.auth.passwords import hash_password, password_problem
from gslts_backend.auth.store import now
from gslts_backend.settings import BackendSettings
from gslts_db.models import User

log = logging.getLogger("gslts_backend.auth")


class AdminPasswordRefused(RuntimeError):
    """GSLTS_ADMIN_PASSWORD is unusable outside sim mode."""


def password_file(settings: BackendSettings) -> Path:
    return Path(settings.data_dir) / "admin-password.txt"


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def ensure_admin(sessions: sessionmaker[Session], settings: BackendSettings) -> str | None:
    """Create the first admin if no active admin exists; the username created, or None."""
    with sessions() as db:
        if db.scalar(
            sa.select(User.id).where(User.role == "admin", User.is_active.is_(True)).limit(1)
        ):
            return None
        name = settings.gslts_admin_user
        given = (
            settings.gslts_admin_password.get_secret_value()
            if (settings.gslts_admin_password)
            else ""
        )
        problem = password_problem(given)
        generated = False
        if problem is not None:
            if settings.kiwoom_mode != "sim":
                raise AdminPasswordRefused(
                    f"GSLTS_ADMIN_PASSWORD refused ({problem}); set a real password of "
                    "12+ characters to create the first admin (only KIWOOM_MODE=sim generates one)"
                )
            given = secrets.token_urlsafe(15)
            generated = True
        user = db.scalar(sa.select(User).where(User.username == name))
        if user is None:
            user = User(
                username=name,
                password_hash=hash_password(given),
                role="admin",
                is_active=True,
                created_at=now(),
            )
            db.add(user)
        else:  # an existing (disabled or non-admin) user of that name becomes the admin
            user.password_hash = hash_password(given)
            user.role = "admin"
            user.is_active = True
        db.commit()
    if generated:
        path = password_file(settings)
        _write_secret(path, f"{name}\n{given}\n")
        bar = "=" * 72
        # the one place a password is logged, on purpose: a generated one-time sim password
        log.warning(
            "\n%s\nFIRST LOGIN (KIWOOM_MODE=sim): user %r, one-time password: %s\n"
            "(also in %s, mode 0600; change it with `gslts users passwd %s`)\n%s",
            bar,
            name,
            given,
            path,
            name,
            bar,
        )
    else:
        log.info("created the first admin %r from GSLTS_ADMIN_USER", name)
    return name
