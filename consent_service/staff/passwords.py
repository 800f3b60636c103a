"""Password rules and hashing for staff accounts.

Hashing is Argon2id through ``argon2-cffi`` (its default, memory-hard parameters); a hash made
with older parameters is renewed at the next successful sign-in. A password is refused when it
is shorter than ``MIN_LENGTH``, is on the shipped list of common and breached passwords
(``common-passwords.txt``, compared case-insensitively), is one character repeated, or contains
the local part of the account's e-mail address or the product's name.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256  # hashing a megabyte of "password" is a denial of service, not a password
_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = files("consent_service.staff").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def problems(password: str, *, email: str = "") -> list[str]:
    """Why ``password`` may not be used (empty when it may)."""
    found = []
    if len(password) < MIN_LENGTH:
        found.append(f"use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        found.append(f"use at most {MAX_LENGTH} characters")
    lowered = password.lower()
    local = email.split("@", 1)[0].lower()
    if lowered in common_passwords() or lowered.rstrip("0123456789!") in common_passwords():
        found.append("this password is on a list of common or breached passwords")
    elif len(set(password)) <= 2:
        found.append("use more than one or two different characters")
    elif (len(local) >= 3 and local in lowered) or "consent" in lowered:
        found.append("do not use your e-mail address or the product's name in it")
    return found


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def one_time_password() -> str:
    """A password for a first sign-in (it must be changed then): 20 URL-safe characters."""
    return secrets.token_urlsafe(15)
