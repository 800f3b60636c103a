"""The second factor, the account page, staff and API-client pages through the test client:
enrolment, the two-step sign-in (wrong codes counted, no replay), CONSENT_CONSOLE_REQUIRE_2FA,
one-time passwords and tokens shown once, the last admin kept, roles, the audit log, and the
console's own 404/405 pages."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from consent_service import create_app
from consent_service.auditlog.models import AuditEntry
from consent_service.staff.models import StaffUser
from tests.console_helpers import DPO, PASSWORD, add_staff, sign_in, token

ADMIN = "admin@example.org"
SECRET = re.compile(r'data-secret="([A-Z2-7]+)"')


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def admin(clocked_ctx):
    """A test client signed in as an administrator (and a DPO account beside it)."""
    add_staff(clocked_ctx, email=ADMIN, role="admin")
    add_staff(clocked_ctx)
    client = create_app(context=clocked_ctx).test_client()
    assert sign_in(client, email=ADMIN).status_code == 302
    return client


def post(client, url: str, data: dict | None = None, **kwargs):
    """POST a form of the page at ``url`` (with that page's CSRF token)."""
    page = client.get(url)
    return client.post(url, data={"csrf_token": token(text(page))} | (data or {}), **kwargs)


def enrol(client, clock) -> str:
    """Enrol the signed-in account's second factor; its secret (read off the enrolment page)."""
    page = text(client.get("/console/account/2fa"))
    client.post("/console/account/2fa/start", data={"csrf_token": token(page)})
    page = text(client.get("/console/account/2fa"))
    secret = SECRET.search(page).group(1)
    done = client.post(
        "/console/account/2fa", data={"csrf_token": token(page), "code": pyotp.TOTP(secret).at(clock.now)}
    )
    assert done.status_code == 302 and "/console/account" in done.headers["Location"], text(done)
    clock.advance(seconds=30)  # the enrolment's code is used up: the next one is a new one
    return secret


def code_step(client, code: str, **kwargs):
    page = client.get("/console/login/code")
    return client.post("/console/login/code", data={"csrf_token": token(text(page)), "code": code}, **kwargs)


def test_enrolment_shows_a_qr_code_and_the_key_and_keeps_the_secret_sealed(admin, clocked_ctx, clock):
    account = text(admin.get("/console/account", headers={"Accept-Language": "en"}))
    assert ADMIN in account and "administrator" in account and "Set up a second factor" in account
    assert admin.get("/console/account/2fa/qr.svg").status_code == 404  # nothing started yet
    page = text(admin.get("/console/account/2fa"))
    admin.post("/console/account/2fa/start", data={"csrf_token": token(page)})
    page = text(admin.get("/console/account/2fa"))
    secret = SECRET.search(page).group(1)
    assert '<img class="qr" src="/console/account/2fa/qr.svg"' in page
    qr = admin.get("/console/account/2fa/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert qr.headers["Cache-Control"] == "no-store" and qr.data.startswith(
        b'<svg xmlns="http://www.w3.org/2000/svg"'
    )
    with clocked_ctx.uow(write=False) as uow:
        row = uow.session.scalar(select(StaffUser).where(StaffUser.email == ADMIN))
        assert row.totp_secret and secret.encode() not in row.totp_secret  # sealed, not plain
        assert row.totp_enrolled_at is None  # not in force before the first code
    wrong = admin.post("/console/account/2fa", data={"csrf_token": token(page), "code": "000000"})
    assert wrong.status_code == 422 and 'id="code-error"' in text(wrong)
    assert "This code is not right." in text(wrong)
    right = admin.post(
        "/console/account/2fa", data={"csrf_token": token(page), "code": pyotp.TOTP(secret).at(clock.now)}
    )
    assert right.status_code == 302
    account = text(admin.get(right.headers["Location"]))
    assert "The second factor is set up." in account and "Remove the second factor" in account
    assert admin.get("/console/account/2fa/qr.svg").status_code == 404  # the secret is never shown again
    assert admin.get("/console/account/2fa").status_code == 302


def test_sign_in_with_a_second_factor_takes_two_steps_and_a_code_is_used_once(admin, clocked_ctx, clock):
    secret = enrol(admin, clock)
    client = create_app(context=clocked_ctx).test_client()
    first = sign_in(client, email=ADMIN)
    assert first.status_code == 302 and first.headers["Location"].endswith("/console/login/code")
    # the half-signed-in session grants no page
    for page in ("/console/requests", "/console/account", "/console/staff", "/console/clients"):
        assert client.get(page).headers["Location"].endswith("/console/login"), page
    code = pyotp.TOTP(secret).at(clock.now)
    assert code_step(client, code).headers["Location"].endswith("/console/requests")
    assert client.get("/console/staff").status_code == 200
    # the same code in another browser within its 30 seconds is refused
    other = create_app(context=clocked_ctx).test_client()
    sign_in(other, email=ADMIN)
    replay = code_step(other, code)
    assert replay.status_code == 401 and "This code is not right." in text(replay)
    clock.advance(seconds=30)
    assert code_step(other, pyotp.TOTP(secret).at(clock.now)).status_code == 302


def test_wrong_codes_count_towards_the_lock_out(admin, clocked_ctx, clock):
    secret = enrol(admin, clock)
    client = create_app(context=clocked_ctx).test_client()
    sign_in(client, email=ADMIN)
    for _ in range(4):
        assert code_step(client, "123456").status_code == 401
    # a right password again does not reset the count of wrong codes
    sign_in(client, email=ADMIN)
    assert code_step(client, "123456").status_code == 401  # the fifth: locked
    locked = code_step(client, pyotp.TOTP(secret).at(clock.now))
    assert locked.status_code == 429 and re.search(r"Try again in 1[56] minutes\.", text(locked))
    assert sign_in(client, email=ADMIN).status_code == 429
    with clocked_ctx.uow(write=False) as uow:
        actions = uow.session.scalars(
            select(AuditEntry.action).where(AuditEntry.log == "staff", AuditEntry.action == "2fa_failed")
        ).all()
    assert len(actions) == 5


def test_the_code_page_waits_only_a_few_minutes(admin, clocked_ctx, clock):
    secret = enrol(admin, clock)
    client = create_app(context=clocked_ctx).test_client()
    sign_in(client, email=ADMIN)
    clock.advance(minutes=6)
    assert client.get("/console/login/code").headers["Location"].endswith("/console/login")
    assert code_step_without_page(client, pyotp.TOTP(secret).at(clock.now)).status_code == 302
    assert client.get("/console/requests").headers["Location"].endswith("/console/login")


def code_step_without_page(client, code: str):
    page = text(client.get("/console/login"))
    return client.post("/console/login/code", data={"csrf_token": token(page), "code": code})


def test_removing_the_second_factor_needs_the_password_and_a_confirmation(admin, clock):
    enrol(admin, clock)
    unticked = post(admin, "/console/account/2fa/remove", {"password": PASSWORD})
    assert unticked.status_code == 422 and 'id="confirm-error"' in text(unticked)
    wrong = post(admin, "/console/account/2fa/remove", {"password": "not it", "confirm": "y"})
    assert wrong.status_code == 422 and "This is not your current password." in text(wrong)
    done = post(admin, "/console/account/2fa/remove", {"password": PASSWORD, "confirm": "y"})
    assert done.status_code == 302
    assert "Set up a second factor" in text(admin.get("/console/account"))


def test_an_admin_must_enrol_first_when_the_second_factor_is_required(clocked_ctx, clock):
    add_staff(clocked_ctx, email=ADMIN, role="admin")
    add_staff(clocked_ctx)
    clocked_ctx.config = clocked_ctx.config.with_overrides(console_require_2fa=True)
    client = create_app(context=clocked_ctx).test_client()
    sign_in(client, email=ADMIN)
    for page in ("/console/requests", "/console/account", "/console/staff", "/console/clients"):
        assert client.get(page).headers["Location"].endswith("/console/account/2fa"), page
    page = text(client.get("/console/account/2fa", headers={"Accept-Language": "en"}))
    assert "Administrators must use a second factor." in page
    assert 'class="side"' not in page or "/console/staff" not in page  # no way around it
    enrol(client, clock)
    assert client.get("/console/staff").status_code == 200
    kept = post(client, "/console/account/2fa/remove", {"password": PASSWORD, "confirm": "y"})
    assert kept.status_code == 409 and "Administrators must keep their second factor." in text(kept)
    dpo = create_app(context=clocked_ctx).test_client()
    sign_in(dpo)
    assert dpo.get("/console/requests").status_code == 200  # other roles choose for themselves


def test_the_cli_resets_a_lost_second_factor(admin, clocked_ctx, clock, monkeypatch):
    from click.testing import CliRunner

    from consent_service.cli import main, users

    enrol(admin, clock)
    monkeypatch.setattr(users, "_context", lambda: clocked_ctx)
    result = CliRunner().invoke(main, ["users", "reset-2fa", "--email", ADMIN])
    assert result.exit_code == 0, result.output
    assert "removed the second factor" in result.output
    client = create_app(context=clocked_ctx).test_client()
    assert sign_in(client, email=ADMIN).headers["Location"].endswith("/console/requests")
    assert ("2fa_reset", staff_id(clocked_ctx, ADMIN)) in entries(clocked_ctx, "staff", admin_id="cli")


def test_an_admin_removes_a_lost_second_factor_of_someone_else(admin, clocked_ctx, clock):
    dpo = create_app(context=clocked_ctx).test_client()
    sign_in(dpo)
    enrol(dpo, clock)
    dpo_id = staff_id(clocked_ctx, DPO)
    listing = text(admin.get("/console/staff"))
    assert f"/console/staff/{dpo_id}/reset-2fa" in listing
    confirm = text(admin.get(f"/console/staff/{dpo_id}/reset-2fa", headers={"Accept-Language": "en"}))
    assert "will sign in with the password alone" in confirm
    assert post(admin, f"/console/staff/{dpo_id}/reset-2fa", {"confirm": "y"}).status_code == 302
    fresh = create_app(context=clocked_ctx).test_client()
    assert sign_in(fresh).headers["Location"].endswith("/console/requests")
    assert ("2fa_reset", dpo_id) in entries(clocked_ctx, "staff", admin_id=staff_id(clocked_ctx, ADMIN))


def test_staff_create_shows_the_one_time_password_once(admin, clocked_ctx):
    listing = text(admin.get("/console/staff", headers={"Accept-Language": "en"}))
    assert ADMIN in listing and DPO in listing and "never" in listing
    bad = post(admin, "/console/staff/new", {"email": "not an address", "role": "agent"})
    assert bad.status_code == 422 and "Enter an e-mail address such as dpo@example.org." in text(bad)
    taken = post(admin, "/console/staff/new", {"email": DPO, "role": "agent"})
    assert taken.status_code == 409 and "already has an account" in text(taken)
    created = post(admin, "/console/staff/new", {"email": "agent@example.org", "role": "agent"})
    assert created.status_code == 201
    one_time = re.search(r'id="one-time-password">([^<]+)<', text(created)).group(1)
    assert "support agent" in text(created)
    listing = text(admin.get("/console/staff"))
    assert "agent@example.org" in listing and one_time not in listing
    newcomer = create_app(context=clocked_ctx).test_client()
    assert (
        sign_in(newcomer, email="agent@example.org", password=one_time)
        .headers["Location"]
        .endswith("/console/password")
    )
    user_id = staff_id(clocked_ctx, "agent@example.org")
    reset = post(admin, f"/console/staff/{user_id}/reset-password", {"confirm": "y"})
    second = re.search(r'id="one-time-password">([^<]+)<', text(reset)).group(1)
    assert second != one_time
    newcomer = create_app(context=clocked_ctx).test_client()
    assert sign_in(newcomer, email="agent@example.org", password=one_time).status_code == 401
    assert sign_in(newcomer, email="agent@example.org", password=second).status_code == 302
    assert entries(clocked_ctx, "staff", admin_id=staff_id(clocked_ctx, ADMIN)) == [
        ("created", user_id),
        ("password_reset", user_id),
    ]


def staff_id(ctx, email: str) -> str:
    with ctx.uow(write=False) as uow:
        return uow.session.scalar(select(StaffUser.id).where(StaffUser.email == email))


def entries(ctx, log: str, *, admin_id: str) -> list[tuple[str, str]]:
    """(action, object id) of ``log``'s entries made by ``admin_id``, in order."""
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.log == log, AuditEntry.actor == admin_id, AuditEntry.action != "signed_in")
            .order_by(AuditEntry.seq)
        ).all()
    return [(r.action, r.details.get("user") or r.details.get("client")) for r in rows]


def test_disabling_asks_first_and_the_last_admin_is_refused_with_the_reason(admin, clocked_ctx):
    admin_id, dpo_id = staff_id(clocked_ctx, ADMIN), staff_id(clocked_ctx, DPO)
    confirm = text(admin.get(f"/console/staff/{dpo_id}/disable", headers={"Accept-Language": "en"}))
    assert DPO in confirm and "will no longer be able to sign in" in confirm
    assert post(admin, f"/console/staff/{dpo_id}/disable").status_code == 422  # not ticked: nothing
    assert "disabled" not in text(admin.get("/console/staff")).split("<tbody>")[1]
    assert post(admin, f"/console/staff/{dpo_id}/disable", {"confirm": "y"}).status_code == 302
    assert "disabled" in text(admin.get("/console/staff")).split("<tbody>")[1]
    last = post(admin, f"/console/staff/{admin_id}/disable", {"confirm": "y"})
    assert last.status_code == 409
    assert "This is the last administrator account. Create another administrator first." in text(last)
    assert admin.get("/console/requests").status_code == 200  # still signed in, still enabled
    assert admin.get("/console/staff/stf_nobody/disable").status_code == 404
    assert entries(clocked_ctx, "staff", admin_id=admin_id) == [("disabled", dpo_id)]


def test_a_client_token_is_shown_once_and_stops_working_when_revoked(admin, clocked_ctx):
    empty = text(admin.get("/console/clients", headers={"Accept-Language": "en"}))
    assert "No API clients yet." in empty
    none = post(admin, "/console/clients/new", {"name": "CRM"})
    assert none.status_code == 422 and "Choose at least one scope." in text(none)
    created = post(
        admin, "/console/clients/new", {"name": "CRM", "scopes": ["consent:read", "decisions:read"]}
    )
    assert created.status_code == 201
    secret = re.search(r'id="client-token">(cs_[^<]+)<', text(created)).group(1)
    listing = text(admin.get("/console/clients"))
    assert "CRM" in listing and "consent:read" in listing and "decisions:read" in listing
    assert secret not in listing and secret[:10] in listing  # its prefix only
    api = admin.application.test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    query = {"subject": {"type": "email", "value": "anna@example.org"}, "purpose": "newsletter"}
    assert api.post("/v1/decisions", json=query, headers=bearer).status_code != 401  # a known token
    client_id = re.search(r"/console/clients/(cli_[0-9a-f]+)/revoke", listing).group(1)
    assert post(admin, f"/console/clients/{client_id}/revoke").status_code == 422  # not confirmed
    assert post(admin, f"/console/clients/{client_id}/revoke", {"confirm": "y"}).status_code == 302
    assert "revoked" in text(admin.get("/console/clients")).split("<tbody>")[1]
    refused = api.post("/v1/decisions", json=query, headers=bearer)
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert entries(clocked_ctx, "clients", admin_id=staff_id(clocked_ctx, ADMIN)) == [
        ("created", client_id),
        ("revoked", client_id),
    ]


@pytest.mark.parametrize("role", ["agent", "dpo", "auditor"])
def test_only_admins_reach_the_staff_and_client_pages(clocked_ctx, role):
    add_staff(clocked_ctx, email=ADMIN, role="admin")
    add_staff(clocked_ctx, email=f"{role}@example.org", role=role)
    client = create_app(context=clocked_ctx).test_client()
    sign_in(client, email=f"{role}@example.org")
    admin_id = staff_id(clocked_ctx, ADMIN)
    for url in (
        "/console/staff",
        "/console/staff/new",
        f"/console/staff/{admin_id}/disable",
        "/console/clients",
        "/console/clients/new",
    ):
        assert client.get(url).status_code == 403, url
    page = text(client.get("/console/account"))
    assert "/console/staff" not in page and "/console/clients" not in page
    forged = client.post(
        "/console/staff/new", data={"csrf_token": token(page), "email": "x@example.org", "role": "admin"}
    )
    assert forged.status_code == 403
    assert staff_id(clocked_ctx, "x@example.org") is None
    from consent_service.auth.service import clients, register_client

    client_id = register_client(clocked_ctx, "CRM", ["consent:read"])[0]["id"]
    for url, data in (
        ("/console/clients/new", {"name": "Mine", "scopes": "admin"}),
        (f"/console/clients/{client_id}/revoke", {"confirm": "y"}),
        (f"/console/staff/{admin_id}/disable", {"confirm": "y"}),
        (f"/console/staff/{admin_id}/reset-password", {"confirm": "y"}),
    ):
        assert client.post(url, data={"csrf_token": token(page)} | data).status_code == 403, url
    assert [(c["name"], c["revoked_at"]) for c in clients(clocked_ctx)] == [("CRM", None)]


def test_unknown_console_addresses_and_methods_answer_console_pages(admin):
    for method, url, status in (
        ("GET", "/console/nothing", 404),
        ("POST", "/console/nothing", 404),
        ("POST", "/console/requests", 405),
        ("DELETE", "/console/staff", 405),
        ("GET", "/console/logout", 405),
    ):
        answer = admin.open(url, method=method, headers={"Accept-Language": "en"})
        assert answer.status_code == status and answer.mimetype == "text/html", (method, url)
        assert "<h1>" in text(answer)
    assert admin.post("/console/requests").headers["Allow"] == "GET, HEAD"
    assert "Not possible here" in text(admin.post("/console/requests", headers={"Accept-Language": "en"}))
