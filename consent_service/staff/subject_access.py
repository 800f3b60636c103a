"""Staff looking at a person's consent records: the lookup, the subject view, the proof of consent.

Looking is itself a staff action: every lookup and every view is written to the tamper-evident
``subject_access`` audit log with the staff account's id as actor, before the record is handed
back (a view whose entry cannot be written shows nothing). An entry names the identity type
searched and the subject found, never the value searched for.
"""

from __future__ import annotations

from typing import Any

from consent_service.auditlog import service as auditlog
from consent_service.context import Context
from consent_service.ledger import proof, queries
from consent_service.subjects.models import Subject
from consent_service.subjects.service import IdentityRef

LOG = "subject_access"


def _log(ctx: Context, actor: str, action: str, subject_id: str | None, **details: Any) -> None:
    with ctx.uow() as uow:
        auditlog.append(
            uow.session,
            LOG,
            actor=actor,
            action=action,
            details=details,
            now=ctx.now(),
            subject_id=subject_id,
        )
        uow.commit()


def look_up(
    ctx: Context, *, actor: str, ref: IdentityRef | None = None, subject_id: str | None = None
) -> str | None:
    """The subject an identity (or a subject id) names, or None; the search is logged either way."""
    if ref is not None:
        found = queries.resolve_subject(ctx, ref)
        kind = ref.type
    else:
        with ctx.uow(write=False) as uow:
            found = subject_id if subject_id and uow.session.get(Subject, subject_id) else None
        kind = "subject_id"
    _log(ctx, actor, "looked_up", found, by=kind, found=found is not None)
    return found


def view_subject(ctx: Context, *, actor: str, subject_id: str, language: str = "en") -> dict[str, Any]:
    """``proof.subject_record`` of the subject, logged as viewed by ``actor``."""
    record = proof.subject_record(ctx, subject_id, language)
    _log(ctx, actor, "viewed", subject_id)
    return record


def view_proof(
    ctx: Context, *, actor: str, subject_id: str, purpose_key: str, language: str = "en", form: str = "html"
) -> dict[str, Any]:
    """``proof.proof_of_consent`` for one purpose, logged with the purpose and the form (html, pdf)."""
    document = proof.proof_of_consent(ctx, subject_id, purpose_key, language)
    _log(ctx, actor, "proof_viewed", subject_id, purpose=purpose_key, form=form)
    return document
