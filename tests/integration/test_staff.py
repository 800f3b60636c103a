"""Staff accounts on SQLite and PostgreSQL: creation, sign-in, lock-out, password changes,
disabling, the audit log, and the ``consent-service users`` and ``demo`` commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from consent_service.auditlog.service import entries
from consent_service.cli import main
from consent_service.context import Context
from consent_service.dsar.request_views import list_requests
from consent_service.errors import Conflict, InvalidInput, NotFound, RateLimited, Unauthorized
from consent_service.ledger.queries import decide_one
from consent_service.staff import service as staff
from consent_service.stores.registry import check_store, read_stores
from consent_service.subjects.service import IdentityRef, resolve
from tests.conftest import make_context, param_database
from tests.fakes import FixedClock

GOOD = "Tulpen-im-Regen-vor-Hamelin"


@pytest.fixture(params=["sqlite", "postgres"])
def sctx(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    context = make_context(param_database(request, tmp_path), tmp_path, clock=clock)
    yield context
    context.db.dispose()


def sign_in(ctx: Context, password: str, email: str = "Anna@Example.org") -> dict:
    return staff.authenticate(ctx, email=email, password=password, client_ip="192.0.2.1")


def test_an_account_signs_in_with_its_password_only(sctx: Context) -> None:
    user, one_time = staff.create_user(
        sctx, email=" Anna@Example.org ", role="dpo", password=GOOD, actor="test"
    )
    assert one_time is None and user["email"] == "anna@example.org" and user["role"] == "dpo"
    assert "password_hash" not in user and user["must_change_password"] is False
    signed = sign_in(sctx, GOOD)
    assert signed["id"] == user["id"] and signed["last_sign_in_at"] is not None
    with pytest.raises(Unauthorized) as wrong:
        sign_in(sctx, GOOD + "!")
    with pytest.raises(Unauthorized) as unknown:
        sign_in(sctx, GOOD, email="nobody@example.org")
    assert str(wrong.value) == str(unknown.value) == staff.WRONG  # nothing tells which was wrong
    with sctx.uow(write=False) as uow:
        actions = [e["action"] for e in entries(uow.session, staff.LOG)]
    assert actions == ["created", "signed_in", "sign_in_failed"]


def test_five_wrong_passwords_lock_the_account_for_a_while(sctx: Context, clock: FixedClock) -> None:
    staff.create_user(sctx, email="anna@example.org", role="agent", password=GOOD, actor="test")
    for _ in range(staff.MAX_FAILURES):
        with pytest.raises(Unauthorized):
            sign_in(sctx, "wrong password here")
    with pytest.raises(RateLimited) as locked:
        sign_in(sctx, GOOD)  # even the right password, while locked
    assert 0 < locked.value.retry_after <= staff.LOCK_MINUTES * 60 + 1
    clock.advance(minutes=staff.LOCK_MINUTES + 1)
    assert sign_in(sctx, GOOD)["role"] == "agent"


def test_a_one_time_password_must_be_changed_and_a_weak_new_one_is_refused(sctx: Context) -> None:
    user, one_time = staff.create_user(sctx, email="anna@example.org", role="auditor", actor="test")
    assert one_time and user["must_change_password"] is True
    assert sign_in(sctx, one_time)["must_change_password"] is True
    with pytest.raises(InvalidInput) as weak:
        staff.change_password(sctx, user["id"], old=one_time, new="password1234")
    assert "new" in (weak.value.errors or {})
    with pytest.raises(InvalidInput) as old:
        staff.change_password(sctx, user["id"], old="not it", new=GOOD)
    assert "old" in (old.value.errors or {})
    assert staff.change_password(sctx, user["id"], old=one_time, new=GOOD)["must_change_password"] is False
    assert sign_in(sctx, GOOD)["id"] == user["id"]


def test_bad_accounts_are_refused_and_write_nothing(sctx: Context) -> None:
    with pytest.raises(InvalidInput) as bad:
        staff.create_user(sctx, email="not-an-address", role="boss", password=GOOD, actor="test")
    assert set(bad.value.errors or {}) == {"email", "role"}
    with pytest.raises(InvalidInput):
        staff.create_user(sctx, email="anna@example.org", role="dpo", password="short", actor="test")
    assert staff.list_users(sctx) == []
    staff.create_user(sctx, email="anna@example.org", role="dpo", password=GOOD, actor="test")
    with pytest.raises(Conflict):
        staff.create_user(sctx, email="ANNA@example.org", role="agent", password=GOOD, actor="test")


def test_disabled_accounts_cannot_sign_in_and_the_last_admin_stays(sctx: Context) -> None:
    admin, _ = staff.create_user(sctx, email="admin@example.org", role="admin", password=GOOD, actor="test")
    user, _ = staff.create_user(sctx, email="anna@example.org", role="dpo", password=GOOD, actor="test")
    with pytest.raises(Conflict):
        staff.disable_user(sctx, "admin@example.org", actor="test")
    assert staff.disable_user(sctx, user["id"], actor="test")["disabled"] is True
    assert staff.get_user(sctx, user["id"]) is None and staff.get_user(sctx, admin["id"]) is not None
    with pytest.raises(Unauthorized):
        sign_in(sctx, GOOD)
    with pytest.raises(NotFound):
        staff.reset_password(sctx, "nobody@example.org", actor="test")


def test_the_users_command_and_the_demo_login(
    tmp_path: Path, sqlite_url: str, cli_env: dict[str, str]
) -> None:
    runner = CliRunner()
    created = runner.invoke(
        main,
        ["users", "create", "--email", "dpo2@example.org", "--role", "dpo", "--password-stdin"],
        input=GOOD + "\n",
    )
    assert created.exit_code == 0, created.output
    weak = runner.invoke(
        main,
        ["users", "create", "--email", "x@example.org", "--role", "dpo", "--password-stdin"],
        input="123\n",
    )
    assert weak.exit_code == 2 and "at least 12" in weak.output
    reset = runner.invoke(main, ["users", "reset-password", "dpo2@example.org"])
    assert reset.exit_code == 0 and len(reset.stdout.strip()) >= 20
    first = runner.invoke(main, ["demo"])
    second = runner.invoke(main, ["demo"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    login = [line for line in first.output.splitlines() if line.startswith("demo console login")]
    assert login and login == [
        line for line in second.output.splitlines() if line.startswith("demo console login")
    ]
    password = login[0].rsplit(" / ", 1)[1]
    ctx = make_context(sqlite_url, tmp_path)
    try:
        assert sign_in(ctx, password, email="dpo@example.org")["role"] == "dpo"
    finally:
        ctx.db.dispose()
    listed = runner.invoke(main, ["users", "list"])
    assert (
        "dpo@example.org" in listed.output
        and "dpo2@example.org" in listed.output
        and GOOD not in listed.output
    )
    assert runner.invoke(main, ["users", "disable", "dpo2@example.org"]).exit_code == 0
    assert "disabled" in runner.invoke(main, ["users", "list"]).output


def test_the_demo_gives_the_console_a_store_a_consent_and_a_request_once(
    sqlite_url: str, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    runner = CliRunner()
    for _ in range(2):
        seeded = runner.invoke(main, ["demo"])
        assert seeded.exit_code == 0, seeded.output
    assert "demo person: erika.mustermann@example.org" in seeded.output
    ctx = make_context(sqlite_url, tmp_path, master_keys=cli_env["CONSENT_MASTER_KEYS"])
    try:
        requests = list_requests(ctx)
        assert [(r["type"], r["state"]) for r in requests] == [("access", "identity_pending")]
        assert [s["key"] for s in read_stores(ctx)] == ["shop"]
        assert check_store(ctx, "shop")["ok"] is True
        with ctx.uow() as uow:
            subject = resolve(uow.session, ctx.crypto, IdentityRef("email", "erika.mustermann@example.org"))
        assert subject is not None
        decision = decide_one(ctx, subject, "newsletter")
        assert (decision.allowed, decision.reason) == (True, "consent_granted")
    finally:
        ctx.db.dispose()
