"""The service's own data retention (GDPR Art. 5(1)(e)): what this service itself stores.

- Ledger proofs (IP, user agent, URL): a consent event's proof is sealed under a proof key of its
  own (``proof_keys``). When the consent of that subject and target ended (withdrawn or denied
  at ``recorded_at``, expired at ``valid_until``) at least ``proof_retention`` ago, the wrapped
  proof keys of the target's events are destroyed. The ledger row is not touched, so its hash
  and the chain still verify; the proof then reads ``[expired]``.
- Verification codes: deleted once expired or once their request no longer awaits verification.
- Outbox: sent and dead messages older than ``outbox_retention``; pending ones never.
- Access packages: deleted after their expiry (they are refused from then on anyway).
- Requester contact data: the identities and changes of requests closed at least
  ``request_contact_retention`` ago are set to NULL (``contact_purged_at``).
- Subjects with nothing left to keep (see ``_spent``) are crypto-shredded, the whole linked group.

Guarantees of every step: it works in batches of ``batch_size`` rows, each batch its own short
transaction whose statement re-checks the condition, so a crash loses at most the batch in
flight and a rerun does exactly the rest; a rerun after a complete sweep changes nothing. Subjects
under a legal hold (``ActiveHolds.subject_ids``, linked groups expanded) keep their proofs,
contact data, messages and keys; they are counted as ``held``. A dry run reads only: it counts
``candidates`` and ``held`` and reports 0 for the action.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, not_, or_, select, update
from sqlalchemy.orm import Session, aliased

from consent_service.auditlog.models import AuditEntry
from consent_service.config import Config
from consent_service.config_checks import check_durations
from consent_service.context import Context
from consent_service.dsar.interface import DsarPackage, DsarRequest, DsarVerification, OutboxMessage
from consent_service.durations import parse_duration
from consent_service.erasure.holds import ActiveHolds
from consent_service.erasure.shred import shred_subject
from consent_service.errors import Conflict
from consent_service.ledger.models import ConsentState, LedgerEvent, ProofKey
from consent_service.subjects.models import Subject, SubjectKey

Progress = Callable[[str, int], None]
Counts = dict[str, int]

STEPS = ("proofs", "verification_codes", "outbox", "packages", "request_contacts", "subjects")
AWAITING_VERIFICATION = ("received", "identity_pending")  # the states ``requests.verify`` accepts
OUTBOX_DONE = ("sent", "dead")
SHRED_ACTOR = ("system", "retention")  # actor_type, actor_id of the ``shredded`` ledger events
VAULT_LOG = "vault"


@dataclass(frozen=True)
class Cutoffs:
    """The moments before which each kind of data is due (``now`` minus its retention)."""

    now: dt.datetime
    proofs: dt.datetime
    contacts: dt.datetime
    outbox: dt.datetime


def cutoffs(config: Config, now: dt.datetime) -> Cutoffs:
    check_durations(config)
    return Cutoffs(
        now=now,
        proofs=now - parse_duration(config.proof_retention),
        contacts=now - parse_duration(config.request_contact_retention),
        outbox=now - parse_duration(config.outbox_retention),
    )


# The batch loop ----------------------------------------------------------------------------

Row = tuple[str, str | None]  # (row key, subject id or None where holds do not apply)


def _sweep(
    ctx: Context,
    step: str,
    action: str,
    *,
    find: Callable[[Session, str, int], Sequence[Any]],
    apply: Callable[[list[str]], int],
    dry_run: bool,
    held: ActiveHolds | None,
    batch_size: int,
    progress: Progress | None,
) -> Counts:
    """Key-set batches: ``find(session, after_key, n)`` reads up to n due rows (key, subject) in
    key order; ``apply(keys)`` acts on the rows not held, in its own transaction(s), re-checking
    that each is still due, and returns how many it changed."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    counts: Counts = {"candidates": 0, action: 0}
    if held is not None:
        counts["held"] = 0
    held_ids = held.subject_ids if held is not None else set()
    last = ""
    while True:
        with ctx.uow(write=False) as uow:
            rows: list[Row] = [(r[0], r[1]) for r in find(uow.session, last, batch_size)]
        if not rows:
            break
        last = rows[-1][0]
        free = [key for key, subject_id in rows if subject_id is None or subject_id not in held_ids]
        if free and not dry_run:
            counts[action] += apply(free)
        counts["candidates"] += len(rows)
        if held is not None:
            counts["held"] += len(rows) - len(free)
        if progress is not None:
            progress(step, counts["candidates"])
        if len(rows) < batch_size:
            break
    return counts


def _write(ctx: Context, statement: Any) -> int:
    with ctx.uow() as uow:
        result = uow.session.execute(statement)
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)


# Proofs ------------------------------------------------------------------------------------


def _proof_due(cut: Cutoffs) -> ColumnElement[bool]:
    """The proof key's (subject, target) consent ended at or before the proof cutoff."""
    cs = ConsentState
    ended = or_(
        and_(cs.decision.in_(("withdrawn", "denied")), cs.recorded_at <= cut.proofs),
        and_(
            cs.decision == "granted",
            cs.valid_until.is_not(None),
            cs.valid_until <= cut.proofs,
            cs.valid_until <= cut.now,
        ),
    )
    return and_(
        ProofKey.wrapped_key.is_not(None),
        exists()
        .where(
            cs.subject_id == ProofKey.subject_id,
            cs.target_type == ProofKey.target_type,
            cs.target_key == ProofKey.target_key,
            ended,
        )
        .correlate(ProofKey),
    )


def purge_proofs(
    ctx: Context,
    *,
    now: dt.datetime,
    dry_run: bool,
    held: ActiveHolds,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> Counts:
    """Destroy the proof keys of consents that ended ``proof_retention`` ago (never a valid grant)."""
    cut = cutoffs(ctx.config, now)
    due = _proof_due(cut)

    def find(session: Session, after: str, n: int) -> Sequence[Any]:
        stmt = (
            select(ProofKey.event_id, ProofKey.subject_id)
            .where(due, ProofKey.event_id > after)
            .order_by(ProofKey.event_id)
            .limit(n)
        )
        return session.execute(stmt).all()

    def apply(keys: list[str]) -> int:
        stmt = (
            update(ProofKey)
            .where(ProofKey.event_id.in_(keys), due)
            .values(wrapped_key=None, purged_at=now)
            .execution_options(synchronize_session=False)
        )
        return _write(ctx, stmt)

    return _sweep(
        ctx, "proofs", "purged", find=find, apply=apply, dry_run=dry_run, held=held,
        batch_size=batch_size, progress=progress,
    )  # fmt: skip


# Verification codes, outbox, packages -------------------------------------------------------


def delete_verification_codes(
    ctx: Context, *, now: dt.datetime, dry_run: bool, batch_size: int = 500, progress: Progress | None = None
) -> Counts:
    """Delete codes that expired or whose request no longer awaits verification."""
    v, r = DsarVerification, DsarRequest
    due = or_(
        v.expires_at < now,
        exists().where(r.id == v.request_id, r.state.not_in(AWAITING_VERIFICATION)).correlate(v),
    )

    def find(session: Session, after: str, n: int) -> Sequence[Any]:
        stmt = select(v.request_id).where(due, v.request_id > after).order_by(v.request_id).limit(n)
        return [(key, None) for key in session.scalars(stmt)]

    def apply(keys: list[str]) -> int:
        stmt = delete(v).where(v.request_id.in_(keys), due).execution_options(synchronize_session=False)
        return _write(ctx, stmt)

    return _sweep(
        ctx, "verification_codes", "deleted", find=find, apply=apply, dry_run=dry_run, held=None,
        batch_size=batch_size, progress=progress,
    )  # fmt: skip


def delete_outbox(
    ctx: Context,
    *,
    now: dt.datetime,
    dry_run: bool,
    held: ActiveHolds,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> Counts:
    """Delete sent and dead messages older than ``outbox_retention`` (never pending ones)."""
    cut = cutoffs(ctx.config, now)
    o = OutboxMessage
    due = and_(o.state.in_(OUTBOX_DONE), func.coalesce(o.sent_at, o.created_at) < cut.outbox)

    def find(session: Session, after: str, n: int) -> Sequence[Any]:
        stmt = select(o.id, o.subject_id).where(due, o.id > after).order_by(o.id).limit(n)
        return session.execute(stmt).all()

    def apply(keys: list[str]) -> int:
        stmt = delete(o).where(o.id.in_(keys), due).execution_options(synchronize_session=False)
        return _write(ctx, stmt)

    return _sweep(
        ctx, "outbox", "deleted", find=find, apply=apply, dry_run=dry_run, held=held,
        batch_size=batch_size, progress=progress,
    )  # fmt: skip


def delete_packages(
    ctx: Context, *, now: dt.datetime, dry_run: bool, batch_size: int = 500, progress: Progress | None = None
) -> Counts:
    """Delete access packages past their expiry, the rule of ``dsar.package.purge_expired``
    (batched, and at the sweep's ``now``); an expired package is refused anyway."""
    p = DsarPackage
    due = p.expires_at < now

    def find(session: Session, after: str, n: int) -> Sequence[Any]:
        stmt = select(p.request_id).where(due, p.request_id > after).order_by(p.request_id).limit(n)
        return [(key, None) for key in session.scalars(stmt)]

    def apply(keys: list[str]) -> int:
        stmt = delete(p).where(p.request_id.in_(keys), due).execution_options(synchronize_session=False)
        return _write(ctx, stmt)

    return _sweep(
        ctx, "packages", "deleted", find=find, apply=apply, dry_run=dry_run, held=None,
        batch_size=batch_size, progress=progress,
    )  # fmt: skip


# Requester contact data --------------------------------------------------------------------


def purge_request_contacts(
    ctx: Context,
    *,
    now: dt.datetime,
    dry_run: bool,
    held: ActiveHolds,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> Counts:
    """NULL the identities and changes of requests closed ``request_contact_retention`` ago."""
    cut = cutoffs(ctx.config, now)
    r = DsarRequest
    due = and_(r.closed_at.is_not(None), r.closed_at <= cut.contacts, r.contact_purged_at.is_(None))

    def find(session: Session, after: str, n: int) -> Sequence[Any]:
        stmt = select(r.id, r.subject_id).where(due, r.id > after).order_by(r.id).limit(n)
        return session.execute(stmt).all()

    def apply(keys: list[str]) -> int:
        stmt = (
            update(r)
            .where(r.id.in_(keys), due)
            .values(identities_ct=None, changes_ct=None, contact_purged_at=now)
            .execution_options(synchronize_session=False)
        )
        return _write(ctx, stmt)

    return _sweep(
        ctx, "request_contacts", "purged", find=find, apply=apply, dry_run=dry_run, held=held,
        batch_size=batch_size, progress=progress,
    )  # fmt: skip


# Spent subjects ----------------------------------------------------------------------------


def _spent(cut: Cutoffs) -> Select[Any]:
    """Group roots with nothing left to keep. For every member of the group:

    - it was created before the proof cutoff (vault sealing leaves no other trace);
    - no consent of it is granted without end or ending after the proof cutoff (its proof is
      still kept, or it is valid);
    - it has no ledger event since the proof cutoff;
    - it has no request that is open or closed after the contact cutoff;
    - it has no entry in the vault log since the proof cutoff;
    and some member still has its data key (otherwise there is nothing to shred).
    """
    root = aliased(Subject, name="root")
    m = aliased(Subject, name="m")

    def member_has(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(m.root_id == root.id, *conditions).correlate(root)

    cs, le, dr, ae, k = ConsentState, LedgerEvent, DsarRequest, AuditEntry, SubjectKey
    return (
        select(root.id)
        .where(
            root.id == root.root_id,
            member_has(k.subject_id == m.id, k.wrapped_key.is_not(None)),
            not_(member_has(m.created_at >= cut.proofs)),
            not_(
                member_has(
                    cs.subject_id == m.id,
                    cs.decision == "granted",
                    or_(cs.valid_until.is_(None), cs.valid_until > cut.proofs),
                )
            ),
            not_(member_has(le.subject_id == m.id, le.recorded_at >= cut.proofs)),
            not_(member_has(dr.subject_id == m.id, or_(dr.closed_at.is_(None), dr.closed_at > cut.contacts))),
            not_(member_has(ae.log == VAULT_LOG, ae.subject_id == m.id, ae.recorded_at >= cut.proofs)),
        )
        .order_by(root.id)
    )


def shred_spent_subjects(
    ctx: Context,
    *,
    now: dt.datetime,
    dry_run: bool,
    held: ActiveHolds,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> Counts:
    """Crypto-shred every linked group with nothing left to keep (one transaction per group,
    re-checked under the ledger head lock, so a consent recorded meanwhile calls it off)."""
    cut = cutoffs(ctx.config, now)
    spent = _spent(cut)
    root_id = spent.selected_columns[0]

    def find(session: Session, after: str, n: int) -> Sequence[Any]:
        return [(rid, rid) for rid in session.scalars(spent.where(root_id > after).limit(n))]

    def still_spent(session: Session, root: str) -> bool:
        return session.scalar(spent.where(root_id == root)) is not None

    def apply(keys: list[str]) -> int:
        done = 0
        for root in keys:
            try:
                result = shred_subject(
                    ctx, root, actor_type=SHRED_ACTOR[0], actor_id=SHRED_ACTOR[1], only_if=still_spent
                )
            except Conflict:  # a legal hold placed since ``held`` was read: keep the subject
                continue
            done += 1 if result["shredded_subjects"] else 0
        return done

    return _sweep(
        ctx, "subjects", "shredded", find=find, apply=apply, dry_run=dry_run, held=held,
        batch_size=batch_size, progress=progress,
    )  # fmt: skip


# All of it ---------------------------------------------------------------------------------


def sweep_own_data(
    ctx: Context,
    *,
    now: dt.datetime,
    dry_run: bool,
    held: ActiveHolds,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> dict[str, Counts]:
    """Every step in order (subjects last); returns counts per step (see the module docstring).

    Each count dict has ``candidates`` (rows due, held ones included), the action (``purged``,
    ``deleted`` or ``shredded``; 0 in a dry run) and, where holds apply, ``held``.
    """
    check_durations(ctx.config)
    common: dict[str, Any] = {"now": now, "dry_run": dry_run, "batch_size": batch_size, "progress": progress}
    return {
        "proofs": purge_proofs(ctx, held=held, **common),
        "verification_codes": delete_verification_codes(ctx, **common),
        "outbox": delete_outbox(ctx, held=held, **common),
        "packages": delete_packages(ctx, **common),
        "request_contacts": purge_request_contacts(ctx, held=held, **common),
        "subjects": shred_spent_subjects(ctx, held=held, **common),
    }
