"""Entry point of every GSLTS image: refuse a placeholder secret outside ``sim``, then
``exec`` the command (the service replaces this process, so it gets the signals).

With ``KIWOOM_MODE=mock`` or ``real`` a container does not start while a password that is
written in this repository (the compose file's development default, ``.env.example``'s)
or a placeholder (``changeme``, ``password``, ...) would guard it:

* the password in ``DATABASE_URL`` (compose builds it from ``MYSQL_PASSWORD``) and
  ``MYSQL_PASSWORD`` itself: 12+ characters, no placeholder, not the development default;
* ``GSLTS_ADMIN_PASSWORD`` when set: no placeholder (the backend checks the rest when it
  creates the first admin; empty is fine once an admin exists).

In every mode ``MYSQL_PASSWORD`` may only hold characters that need no escaping in a URL
(compose puts it into ``DATABASE_URL`` as is). A refusal names the variable, never its
value, on stderr and exits 78 (EX_CONFIG): the one-shot ``migrate`` service fails, so
nothing that depends on it starts. Standard library only: it runs before the service's
own code, in every image.
"""

from __future__ import annotations

import os
import re
import sys
from urllib.parse import unquote, urlsplit

EX_CONFIG = 78
#: the password docker-compose.yml and .env.example ship for the simulator
DEV_PASSWORD = "gslts-dev-only"  # noqa: S105 - the value refused, not a credential
#: refused whatever their length (case-insensitive substrings); the backend's list too
PLACEHOLDERS = (
    DEV_PASSWORD,
    "changeme",
    "change-me",
    "change_me",
    "password",
    "placeholder",
    "example",
)
MIN_LENGTH = 12
#: characters a password may have to go into a URL unescaped (RFC 3986 unreserved)
URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]*$")


def password_problem(value: str) -> str | None:
    """Why ``value`` must not guard a real account, or None."""
    if not value:
        return "it is empty"
    if len(value) < MIN_LENGTH:
        return f"it is shorter than {MIN_LENGTH} characters"
    lowered = value.lower()
    if any(p in lowered for p in PLACEHOLDERS):
        return "it is a placeholder or the development default"
    return None


def problems(env: dict[str, str]) -> list[str]:
    """Every reason this environment must not start (empty: it may)."""
    found: list[str] = []
    mysql_password = env.get("MYSQL_PASSWORD")
    if mysql_password and not URL_SAFE.match(mysql_password):
        found.append(
            "MYSQL_PASSWORD has characters that break DATABASE_URL: use letters, digits "
            "and . _ ~ - only (e.g. `openssl rand -hex 24`)"
        )
    mode = (env.get("KIWOOM_MODE") or "sim").strip().lower()
    if mode == "sim":
        return found
    if mysql_password is not None:
        why = password_problem(mysql_password)
        if why:
            found.append(f"MYSQL_PASSWORD refused in KIWOOM_MODE={mode}: {why}")
    url = env.get("DATABASE_URL") or ""
    if url.startswith("mysql"):
        why = password_problem(unquote(urlsplit(url).password or ""))
        if why:
            found.append(f"the password in DATABASE_URL refused in KIWOOM_MODE={mode}: {why}")
    admin = env.get("GSLTS_ADMIN_PASSWORD") or ""
    if admin and password_problem(admin):
        found.append(
            f"GSLTS_ADMIN_PASSWORD refused in KIWOOM_MODE={mode}: "
            f"{password_problem(admin)} (leave it empty once an admin exists)"
        )
    return found


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("preflight: no command to run\n")
        return 2
    found = problems(dict(os.environ))
    if found:
        for line in found:
            sys.stderr.write(f"preflight: {line}\n")
        sys.stderr.write("preflight: not starting; set real secrets in .env (docs/operations.md)\n")
        return EX_CONFIG
    os.execvp(argv[0], argv)  # noqa: S606 - the image's own command, from CMD or compose
    return 0  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
