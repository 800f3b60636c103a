"""The staff's second factor: time-based one-time codes (TOTP, RFC 6238) through ``pyotp``.

- The secret is stored only sealed: AES-256-GCM under a key derived by HKDF from the current
  master key (info ``consent-service staff totp``), with the account id as associated data so a
  sealed secret cannot be moved to another account; the master key version is kept beside it.
- Enrolment is two steps: ``begin_enrolment`` stores a new secret (not yet in force) and gives
  its ``otpauth://`` URI for an authenticator app; ``confirm_enrolment`` with a first right code
  puts it in force.
- A code is accepted for the current 30-second step and one step either side, and only for a
  step later than the last one used: a code cannot be used twice.
- Wrong codes at sign-in count towards the same lock-out as wrong passwords.
- With ``CONSENT_CONSOLE_REQUIRE_2FA=1`` an administrator must enrol before anything else
  (``must_enrol``) and cannot remove the second factor; ``reset`` (the CLI's ``users reset-2fa``)
  removes it for someone who lost the device.
Every change is written to the ``staff`` audit log.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

import pyotp

from consent_service.config import Config
from consent_service.context import Context
from consent_service.crypto.derivation import derive
from consent_service.crypto.envelope import Crypto, DecryptionFailed, open_sealed, seal
from consent_service.errors import ConfigurationError, Conflict, InvalidInput, Unauthorized
from consent_service.staff import passwords
from consent_service.staff.models import StaffUser
from consent_service.staff.service import WRONG_CODE, count_failure, refuse_while_locked, signed_in, user_view
from consent_service.staff.service import _load as load  # the package's own account loader
from consent_service.staff.service import _log as log

INFO = b"consent-service staff totp"
STEP_SECONDS = 30
DIGITS = 6
ALREADY = "a second factor is already in force; remove it first"
KEEP = "administrators must keep their second factor"


def _aad(user_id: str) -> bytes:
    return b"staff-totp|" + user_id.encode()


def _seal(crypto: Crypto, user: StaffUser, secret: str) -> None:
    crypto.refresh()
    material = crypto.material
    key = derive(material.keks[material.current_kek], INFO)
    user.totp_secret, user.totp_kek = seal(key, secret.encode(), _aad(user.id)), material.current_kek


def _secret(crypto: Crypto, user: StaffUser) -> str:
    master = crypto.material.keks.get(user.totp_kek or 0)
    if master is None:
        crypto.reload()
        master = crypto.material.keks.get(user.totp_kek or 0)
    if master is None or user.totp_secret is None:
        raise ConfigurationError(
            f"the second factor of {user.email} is sealed under a master key that is not in the keyring; "
            "reset it with 'consent-service users reset-2fa'"
        )
    try:
        return open_sealed(derive(master, INFO), user.totp_secret, _aad(user.id)).decode()
    except DecryptionFailed as exc:
        raise ConfigurationError(f"the second factor of {user.email} does not open") from exc


def _uri(ctx: Context, user: StaffUser, secret: str) -> str:
    issuer = ctx.config.controller_name or "Consent console"
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=issuer
    )


def _matching_step(secret: str, code: str, now: dt.datetime, after: int | None) -> int | None:
    """The step (current ±1) whose code is ``code`` and that is later than ``after``."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def must_enrol(config: Config, user: dict[str, Any]) -> bool:
    """Whether ``user`` may use nothing but the enrolment until a second factor is in force."""
    return config.console_require_2fa and user["role"] == "admin" and not user["totp"]


def begin_enrolment(ctx: Context, user_id: str) -> dict[str, str]:
    """A new secret for the account (not in force until confirmed): ``secret`` (base32, for
    typing in) and ``uri`` (otpauth://, for the QR code). Conflict when one is already in force."""
    now = ctx.now()
    secret = pyotp.random_base32()
    with ctx.uow() as uow:
        user = load(uow.session, user_id)
        if user.totp_enrolled_at is not None:
            raise Conflict(ALREADY)
        _seal(ctx.crypto, user, secret)
        user.totp_last_step, user.updated_at = None, now
        log(uow.session, user.id, "2fa_enrolment_started", user, now)
        uri = _uri(ctx, user, secret)
        uow.commit()
    return {"secret": secret, "uri": uri}


def pending_enrolment(ctx: Context, user_id: str) -> dict[str, str] | None:
    """The secret and URI of an enrolment that waits for its first code (None when there is none)."""
    with ctx.uow(write=False) as uow:
        user = load(uow.session, user_id)
        if user.totp_enrolled_at is not None or user.totp_secret is None:
            return None
        secret = _secret(ctx.crypto, user)
        return {"secret": secret, "uri": _uri(ctx, user, secret)}


def confirm_enrolment(ctx: Context, user_id: str, code: str) -> dict[str, Any]:
    """Put the pending secret in force with a first right code (InvalidInput naming ``code``)."""
    now = ctx.now()
    with ctx.uow() as uow:
        user = load(uow.session, user_id)
        if user.totp_enrolled_at is not None:
            raise Conflict(ALREADY)
        if user.totp_secret is None:
            raise InvalidInput("no enrolment was started", errors={"code": ["start the enrolment again"]})
        step = _matching_step(_secret(ctx.crypto, user), code, now, None)
        if step is None:
            raise InvalidInput("the code is not right", errors={"code": [WRONG_CODE]})
        user.totp_enrolled_at, user.totp_last_step, user.updated_at = now, step, now
        log(uow.session, user.id, "2fa_enrolled", user, now)
        view = user_view(user)
        uow.commit()
    return view


def _clear(user: StaffUser, now: dt.datetime) -> None:
    user.totp_secret = user.totp_kek = user.totp_enrolled_at = user.totp_last_step = None
    user.updated_at = now


def disable(ctx: Context, user_id: str, *, password: str) -> dict[str, Any]:
    """Remove the account's second factor after checking its password (InvalidInput naming
    ``password``); Conflict for an administrator while the second factor is required."""
    now = ctx.now()
    with ctx.uow() as uow:
        user = load(uow.session, user_id)
        if ctx.config.console_require_2fa and user.role == "admin":
            raise Conflict(KEEP)
        if not passwords.verify(user.password_hash, password):
            raise InvalidInput(
                "the second factor was not removed",
                errors={"password": ["this is not your current password"]},
            )
        _clear(user, now)
        log(uow.session, user.id, "2fa_disabled", user, now)
        view = user_view(user)
        uow.commit()
    return view


def reset(ctx: Context, key: str, *, actor: str) -> dict[str, Any]:
    """Remove the second factor of the account ``key`` (id or e-mail) for someone who lost the
    device; also ends a lock-out. The account enrols again at its next sign-in if it must."""
    now = ctx.now()
    with ctx.uow() as uow:
        user = load(uow.session, key)
        _clear(user, now)
        user.failed_attempts, user.locked_until = 0, None
        log(uow.session, actor, "2fa_reset", user, now)
        view = user_view(user)
        uow.commit()
    return view


def sign_in(ctx: Context, user_id: str, code: str, *, client_ip: str) -> dict[str, Any]:
    """The second step of signing in: the account when ``code`` is right for a step not used
    before; Unauthorized otherwise (counted towards the lock-out), RateLimited while locked."""
    now = ctx.now()
    with ctx.uow() as uow:
        user = load(uow.session, user_id)
        if user.disabled or user.totp_enrolled_at is None:
            raise Unauthorized(WRONG_CODE)
        refuse_while_locked(user, now)
        step = _matching_step(_secret(ctx.crypto, user), code, now, user.totp_last_step)
        if step is None:
            count_failure(uow.session, user, now, client_ip, "2fa_failed")
            uow.commit()
            raise Unauthorized(WRONG_CODE)
        user.totp_last_step = step
        signed_in(uow.session, user, now, client_ip)
        view = user_view(user)
        uow.commit()
    return view
