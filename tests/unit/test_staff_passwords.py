"""Staff passwords: the rules a new password must meet, and Argon2id hashes that verify."""

from __future__ import annotations

import pytest

from consent_service.staff import passwords
from consent_service.staff.service import ACTIONS, ROLES, can


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1!", "at least 12"),
        ("Password2024!", "common or breached"),
        ("qwertzuiop", "at least 12"),
        ("QWERTZUIOP123", "common or breached"),
        ("aaaaaaaaaaaaaaaa", "more than one or two"),
        ("abababababababab", "more than one or two"),
        ("anna.schmidt-2026-x", "e-mail address"),
        ("my-consent-service-pw", "product's name"),
        ("x" * 300, "at most 256"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, why):
    found = passwords.problems(password, email="anna.schmidt@example.org")
    assert any(why in problem for problem in found), found


def test_a_long_uncommon_password_is_accepted_and_its_hash_verifies():
    password = "Tulpen-im-Regen-vor-Hamelin"
    assert passwords.problems(password, email="anna.schmidt@example.org") == []
    stored = passwords.hash_password(password)
    assert stored.startswith("$argon2id$") and password not in stored
    assert passwords.verify(stored, password) and not passwords.verify(stored, password + "x")
    assert not passwords.verify("not a hash", password)
    assert not passwords.needs_rehash(stored)


def test_one_time_passwords_are_long_and_different():
    first, second = passwords.one_time_password(), passwords.one_time_password()
    assert first != second and len(first) >= 20 and passwords.problems(first) == []


def test_roles_have_least_privilege():
    assert [a for a in ACTIONS if can("auditor", a)] == ["read"]
    assert can("agent", "request:verify") and not can("agent", "package:download")
    assert not can("agent", "registry:write") and can("dpo", "registry:write")
    assert can("admin", "staff:manage") and not can("dpo", "staff:manage")
    assert not can("nobody", "read") and set(ROLES) == {"admin", "dpo", "agent", "auditor"}
