"""Staff accounts and sign-in: the functions the console, the CLI and the demo call.

Roles (least privilege): ``auditor`` reads only; ``agent`` also opens and verifies requests;
``dpo`` does all data protection work; ``admin`` also manages staff and API clients (``can``).
Sign-in: a wrong e-mail and a wrong password get the same answer; after ``MAX_FAILURES`` wrong
passwords in a row an account is locked for ``LOCK_MINUTES`` (``RateLimited`` with the seconds
left), and a successful sign-in resets the count. An account with a second factor (``totp``)
is signed in only by its code: the right password alone resets nothing, and wrong codes count
like wrong passwords. A disabled account cannot sign in. Every
change to an account and every sign-in is written to the tamper-evident ``staff`` audit log
(ids and roles, never passwords).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consent_service.auditlog import service as auditlog
from consent_service.context import Context
from consent_service.db import columns_of
from consent_service.errors import Conflict, InvalidInput, NotFound, RateLimited, Unauthorized
from consent_service.staff import passwords
from consent_service.staff.models import StaffUser

ROLES = ("admin", "dpo", "agent", "auditor")
LOG = "staff"
MAX_FAILURES = 5
LOCK_MINUTES = 15
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
WRONG = "wrong e-mail or password"
WRONG_CODE = "this code is not right; enter the current code of your authenticator app"

# What each role may do; "read" is every page and download that changes nothing.
_ALLOWED = {
    "auditor": {"read"},
    "agent": {"read", "request:open", "request:verify"},
    "dpo": {"read", "request:open", "request:verify", "request:manage", "package:download", "registry:write"},
}
# statistics without the minimum-subjects rule (``ledger.stats``): the dpo's right, and so admin's
_ALLOWED["dpo"] |= {"stats:unsuppressed"}
_ALLOWED["admin"] = _ALLOWED["dpo"] | {"staff:manage", "clients:manage"}
ACTIONS = tuple(sorted(set().union(*_ALLOWED.values())))


def can(role: str, action: str) -> bool:
    return action in _ALLOWED.get(role, set())


HIDDEN = (
    "password_hash",
    "failed_attempts",
    "locked_until",
    "updated_at",
    "totp_secret",
    "totp_kek",
    "totp_last_step",
)


def user_view(user: StaffUser) -> dict[str, Any]:
    """The account without its secrets; ``totp`` tells whether it has an enrolled second factor."""
    return columns_of(user, exclude=HIDDEN) | {"totp": user.totp_enrolled_at is not None}


def _normal(email: str) -> str:
    return email.strip().lower()


def _log(session: Session, actor: str, action: str, user: StaffUser, now: dt.datetime, **extra: Any) -> None:
    auditlog.append(
        session,
        LOG,
        actor=actor,
        action=action,
        details={"user": user.id, "role": user.role, **extra},
        now=now,
    )


def _password(password: str, email: str, field: str = "password") -> None:
    found = passwords.problems(password, email=email)
    if found:
        raise InvalidInput("the password cannot be used", errors={field: found})


def create_user(
    ctx: Context, *, email: str, role: str, password: str | None = None, actor: str
) -> tuple[dict[str, Any], str | None]:
    """Create an account; returns its view and the one-time password when none was given (it must
    be changed at the first sign-in). InvalidInput for a bad e-mail, role or password; Conflict
    when the e-mail has an account."""
    email = _normal(email)
    errors: dict[str, list[str]] = {}
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors["email"] = ["give an e-mail address such as dpo@example.org"]
    if role not in ROLES:
        errors["role"] = [f"one of {', '.join(ROLES)}"]
    if errors:
        raise InvalidInput("the account cannot be created", errors=errors)
    one_time = None
    if password is None:
        password = one_time = passwords.one_time_password()
    else:
        _password(password, email)
    now = ctx.now()
    with ctx.uow() as uow:
        if uow.session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
            raise Conflict(f"{email} already has an account")
        user = StaffUser(
            id="stf_" + secrets.token_urlsafe(12),
            email=email,
            role=role,
            password_hash=passwords.hash_password(password),
            must_change_password=one_time is not None,
            disabled=False,
            failed_attempts=0,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(user)
        uow.session.flush()
        _log(uow.session, actor, "created", user, now)
        view = user_view(user)
        uow.commit()
    return view, one_time


def _by_email(session: Session, email: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.email == _normal(email)))


def _load(session: Session, key: str) -> StaffUser:
    """An account by id or e-mail address."""
    user = session.get(StaffUser, key) or _by_email(session, key)
    if user is None:
        raise NotFound(f"no staff account {key!r}")
    return user


def authenticate(ctx: Context, *, email: str, password: str, client_ip: str) -> dict[str, Any]:
    """The account of ``email`` when ``password`` is its password; Unauthorized otherwise (the
    same for an unknown e-mail), RateLimited while the account is locked. For an account with a
    second factor (``totp`` in the answer) this is only the first step: ``staff.totp.sign_in``
    with its code signs it in."""
    now = ctx.now()
    with ctx.uow() as uow:
        user = _by_email(uow.session, email)
        if user is None or user.disabled:
            passwords.verify(_dummy_hash(), password)  # the same work as for a real account
            raise Unauthorized(WRONG)
        refuse_while_locked(user, now)
        if not passwords.verify(user.password_hash, password):
            count_failure(uow.session, user, now, client_ip)
            uow.commit()
            raise Unauthorized(WRONG)
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        if user.totp_enrolled_at is not None:  # a wrong code after this still counts
            _log(uow.session, user.id, "password_accepted", user, now, ip=client_ip)
        else:
            signed_in(uow.session, user, now, client_ip)
        view = user_view(user)
        uow.commit()
    return view


def refuse_while_locked(user: StaffUser, now: dt.datetime) -> None:
    if user.locked_until is not None and user.locked_until > now:
        left = int((user.locked_until - now).total_seconds()) + 1
        raise RateLimited(
            f"too many wrong passwords; try again in {(left + 59) // 60} minute(s)", retry_after=left
        )


def count_failure(
    session: Session, user: StaffUser, now: dt.datetime, client_ip: str, action: str = "sign_in_failed"
) -> None:
    """One more wrong password or code; the ``MAX_FAILURES``-th locks the account."""
    user.failed_attempts += 1
    locked = user.failed_attempts >= MAX_FAILURES
    if locked:
        user.locked_until, user.failed_attempts = now + dt.timedelta(minutes=LOCK_MINUTES), 0
    _log(session, user.id, action, user, now, ip=client_ip, locked=locked)


def signed_in(session: Session, user: StaffUser, now: dt.datetime, client_ip: str) -> None:
    user.failed_attempts, user.locked_until, user.last_sign_in_at = 0, None, now
    _log(session, user.id, "signed_in", user, now, ip=client_ip)


@functools.cache
def _dummy_hash() -> str:
    return passwords.hash_password(secrets.token_urlsafe(16))


def get_user(ctx: Context, user_id: str) -> dict[str, Any] | None:
    """The account ``user_id`` as the console sees it; None when unknown or disabled."""
    with ctx.uow(write=False) as uow:
        user = uow.session.get(StaffUser, user_id)
        return None if user is None or user.disabled else user_view(user)


def find_user(ctx: Context, key: str) -> dict[str, Any]:
    """The account ``key`` (id or e-mail), disabled or not; NotFound when there is none."""
    with ctx.uow(write=False) as uow:
        return user_view(_load(uow.session, key))


def list_users(ctx: Context) -> list[dict[str, Any]]:
    with ctx.uow(write=False) as uow:
        return [user_view(u) for u in uow.session.scalars(select(StaffUser).order_by(StaffUser.email))]


def change_password(ctx: Context, user_id: str, *, old: str, new: str) -> dict[str, Any]:
    """Set a new password after checking the old one (InvalidInput naming ``old`` or ``new``)."""
    now = ctx.now()
    with ctx.uow() as uow:
        user = _load(uow.session, user_id)
        if not passwords.verify(user.password_hash, old):
            raise InvalidInput(
                "the password was not changed", errors={"old": ["this is not your current password"]}
            )
        if new == old:
            raise InvalidInput("the password was not changed", errors={"new": ["choose a new password"]})
        _password(new, user.email, "new")
        user.password_hash, user.must_change_password, user.updated_at = (
            passwords.hash_password(new),
            False,
            now,
        )
        _log(uow.session, user.id, "password_changed", user, now)
        view = user_view(user)
        uow.commit()
    return view


def reset_password(ctx: Context, key: str, *, actor: str) -> tuple[dict[str, Any], str]:
    """Give the account a one-time password (returned) that must be changed at the next sign-in;
    also ends a lock-out."""
    now = ctx.now()
    one_time = passwords.one_time_password()
    with ctx.uow() as uow:
        user = _load(uow.session, key)
        user.password_hash, user.must_change_password = passwords.hash_password(one_time), True
        user.failed_attempts, user.locked_until, user.updated_at = 0, None, now
        _log(uow.session, actor, "password_reset", user, now)
        view = user_view(user)
        uow.commit()
    return view, one_time


def disable_user(ctx: Context, key: str, *, actor: str) -> dict[str, Any]:
    """Disable an account (it cannot sign in; its sessions end at their next request). Conflict
    for the last admin account that is not disabled."""
    now = ctx.now()
    with ctx.uow() as uow:
        user = _load(uow.session, key)
        if user.role == "admin" and not user.disabled:
            admins = uow.session.scalar(
                select(func.count())
                .select_from(StaffUser)
                .where(StaffUser.role == "admin", StaffUser.disabled.is_(False))
            )
            if admins == 1:
                raise Conflict("this is the last admin account; create another admin first")
        if not user.disabled:
            user.disabled, user.updated_at = True, now
            _log(uow.session, actor, "disabled", user, now)
        view = user_view(user)
        uow.commit()
    return view
