"""Password hashing: Argon2id via argon2-cffi (the reference binding of the PHC winner,
maintained, with parameters that follow RFC 9106; pwdlib wraps the same library).

Hashes carry their own salt and parameters, so a later change of parameters only rehashes
on the next login (:func:`needs_rehash`).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
#: verified against when the username is unknown, so a wrong name costs as long as a wrong
#: password (no user enumeration by timing)
_DUMMY_HASH = _hasher.hash("gslts-no-such-user")

#: the shortest password accepted for a user (the sim-mode first admin excepted)
MIN_PASSWORD_LENGTH = 12
#: passwords refused whatever their length (case-insensitive substrings)
PLACEHOLDERS = ("changeme", "change-me", "change_me", "password", "placeholder", "example")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash (unknown user) it still spends the time."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str | None) -> str | None:
    """Why ``password`` is too weak for a login, or None when it is acceptable."""
    if not password:
        return "the password is empty"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password is shorter than {MIN_PASSWORD_LENGTH} characters"
    lowered = password.lower()
    if any(p in lowered for p in PLACEHOLDERS):
        return "the password is a placeholder"
    if len(set(password)) < 4:
        return "the password repeats too few characters"
    return None
