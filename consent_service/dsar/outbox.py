"""The outbox: messages written in the same transaction as the change that causes them, and
delivered after commit, so a crash never leaves "saved but not sent" or "sent but not saved".

Delivery is at least once: a message is claimed (leased for five minutes), sent, then marked
sent; a process that dies between sending and marking lets the lease expire and the message is
sent again. Failures back off exponentially; after eight attempts a message is ``dead`` and
shows in ``consent-service outbox list``. E-mail bodies are sealed under the subject's data key.
The one exception is a message that must outlive that key: the confirmation of an erasure,
enqueued after the subject was crypto-shredded. It is sealed under a key derived (HKDF) from
the current master key and the message id (``sealed_with = "service:<version>"``), and its
payload is blanked the moment it is sent, so the erased person's address stays readable only
until delivery (a dead one until ``CONSENT_OUTBOX_RETENTION`` deletes it).
Webhooks to recipients (kind ``webhook``, see ``recipients``) carry only ids, events and field
names and are stored in plaintext, so shredding the subject does not stop them.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import smtplib
import string
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from consent_service.config import DATE_LOCALES, Config
from consent_service.context import Context
from consent_service.crypto.derivation import derive
from consent_service.crypto.envelope import Crypto, DecryptionFailed, field_aad, open_sealed, seal
from consent_service.dsar import recipients
from consent_service.dsar.request_models import OutboxMessage
from consent_service.subjects import service as subjects

LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 8
SERVICE_INFO = b"consent-service outbox message|"


def retry_delay(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min, … (the
    delay of the last attempt the outbox makes, ``MAX_ATTEMPTS``, at most)."""
    return dt.timedelta(seconds=30 * 2 ** (min(attempts, MAX_ATTEMPTS) - 1))


def _service_key(crypto: Crypto, version: int, message_id: str) -> bytes:
    return derive(crypto.material.keks[version], SERVICE_INFO + message_id.encode())


def enqueue_email(
    session: Session,
    *,
    subject_id: str,
    key: bytes | None,
    to: str,
    title: str,
    body: str,
    now: dt.datetime,
    language: str = "en",
    topic: str = "",
    crypto: Crypto | None = None,
) -> str:
    """Write an e-mail to the outbox in the caller's transaction; returns its id.

    ``key`` None (the subject was shredded) seals it under a per-message service key instead,
    which needs ``crypto``; ``topic`` is the message kind, sent as ``X-Consent-Message``."""
    message_id = "msg_" + secrets.token_hex(8)
    payload = json.dumps(
        {"to": to, "subject": title, "body": body, "language": language, "topic": topic}
    ).encode()
    sealed_with = None
    if key is None:
        assert crypto is not None, "a message for a shredded subject needs the service key"
        version = crypto.material.current_kek
        key, sealed_with = _service_key(crypto, version, message_id), f"service:{version}"
    session.add(
        OutboxMessage(
            id=message_id,
            kind="email",
            subject_id=subject_id,
            payload_ct=seal(key, payload, field_aad(subject_id, "outbox", "payload", message_id)),
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            sealed_with=sealed_with,
        )
    )
    return message_id


def enqueue_link_email(
    session: Session,
    config: Config,
    template: string.Template,
    *,
    subject_id: str,
    key: bytes,
    to: str,
    language: str,
    now: dt.datetime,
    topic: str,
    expires: dt.datetime,
    **values: object,
) -> str:
    """Write an e-mail that carries an expiring link (double opt-in, a preference-centre
    sign-in) to the outbox in the caller's transaction; returns its id.

    ``template`` is the subject line, a blank line, then the body. It is filled with ``values``,
    the link's expiry as a long date in the reader's locale and the controller's time zone
    (``expires``), and the controller's name and contact."""
    zone = ZoneInfo(config.timezone)
    text = template.substitute(
        values,
        expires=format_datetime(expires.astimezone(zone), "long", tzinfo=zone, locale=DATE_LOCALES[language]),
        controller_name=config.controller_name,
        controller_contact=config.controller_contact,
    )
    title, _, body = text.partition("\n\n")
    return enqueue_email(
        session,
        subject_id=subject_id,
        key=key,
        to=to,
        title=title.strip(),
        body=body,
        now=now,
        language=language,
        topic=topic,
    )


def _claim(ctx: Context, only: list[str] | None, limit: int) -> list[tuple[str, str, bytes, str, str | None]]:
    now = ctx.now()
    with ctx.uow() as uow:
        stmt = (
            select(OutboxMessage)
            .where(or_(OutboxMessage.state == "pending", OutboxMessage.state == "sending"))
            .where(OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at)
            .limit(limit)
        )
        if only is not None:
            stmt = stmt.where(OutboxMessage.id.in_(only))
        if not ctx.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        claimed = []
        for message in uow.session.scalars(stmt):
            message.state = "sending"
            message.attempts += 1
            message.next_attempt_at = now + LEASE
            claimed.append(
                (message.id, message.subject_id, message.payload_ct, message.kind, message.sealed_with)
            )
        uow.commit()
    return claimed


def _send_email(ctx: Context, payload: dict[str, Any]) -> None:
    config = ctx.config
    if not config.smtp_host:
        raise RuntimeError("no SMTP server configured (CONSENT_SMTP_HOST)")
    email = EmailMessage()
    email["From"] = config.smtp_from
    email["To"] = payload["to"]
    email["Subject"] = payload["subject"]
    if payload.get("topic"):
        email["X-Consent-Message"] = payload["topic"]
    email.set_content(payload["body"])
    if payload.get("language"):  # after set_content, which clears the Content-* headers
        email["Content-Language"] = payload["language"]
    with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=10) as smtp:
        if config.smtp_starttls:
            smtp.starttls()
        if config.smtp_user:
            smtp.login(config.smtp_user, config.smtp_password)
        smtp.send_message(email)


def deliver(ctx: Context, *, only: list[str] | None = None, limit: int = 50) -> dict[str, int]:
    """Send due messages (or just ``only``); returns counts of sent, failed and dead."""
    counts = {"sent": 0, "failed": 0, "dead": 0}
    if only is not None and not only:
        return counts
    for message_id, subject_id, payload_ct, kind, sealed_with in _claim(ctx, only, limit):
        error: str | None = None
        key: bytes | None = b""
        try:
            if kind == "webhook":
                recipients.send_webhook(ctx, json.loads(payload_ct))
            else:
                if sealed_with:
                    key = _opening_key(ctx, sealed_with, message_id)
                else:
                    with ctx.uow(write=False) as uow:
                        key = subjects.data_key(uow.session, ctx.crypto, subject_id)
                if key is None:
                    raise DecryptionFailed("the message's key is gone (subject erased or master key retired)")
                payload = json.loads(
                    open_sealed(key, payload_ct, field_aad(subject_id, "outbox", "payload", message_id))
                )
                _send_email(ctx, payload)
        except (OSError, smtplib.SMTPException, RuntimeError, DecryptionFailed, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        now = ctx.now()
        with ctx.uow() as uow:
            message = uow.session.get(OutboxMessage, message_id)
            assert message is not None
            if error is None:
                message.state, message.sent_at, message.last_error = "sent", now, None
                if message.sealed_with:
                    message.payload_ct = b""  # an erased person's address: gone once delivered
                counts["sent"] += 1
            elif message.attempts >= MAX_ATTEMPTS or key is None:
                message.state, message.last_error = "dead", error
                counts["dead"] += 1
            else:
                message.state, message.last_error = "pending", error
                message.next_attempt_at = now + retry_delay(message.attempts)
                counts["failed"] += 1
            uow.commit()
    return counts


def _opening_key(ctx: Context, sealed_with: str, message_id: str) -> bytes | None:
    """The service key of a message sealed with it; None once that master key is retired."""
    version = int(sealed_with.removeprefix("service:"))
    if version not in ctx.crypto.material.keks:
        return None
    return _service_key(ctx.crypto, version, message_id)


def states(session: Session, message_ids: list[str]) -> dict[str, str]:
    """The state of each of these messages that is still in the outbox."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.state).where(OutboxMessage.id.in_(message_ids))
    )
    return {row.id: row.state for row in rows}


def pending(ctx: Context) -> list[dict[str, Any]]:
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.state != "sent").order_by(OutboxMessage.created_at)
        )
        return [
            {
                "id": m.id,
                "kind": m.kind,
                "state": m.state,
                "attempts": m.attempts,
                "next_attempt_at": m.next_attempt_at,
                "last_error": m.last_error,
            }
            for m in rows
        ]
