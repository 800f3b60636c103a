"""Writes of every kind the consent counts follow (recorded, banner, withdrawn, imported, erased),
and the fold of ``ledger_events`` the counts must equal, written here apart from the service."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from consent_service.context import Context
from consent_service.erasure.shred import shred_subject
from consent_service.errors import Conflict
from consent_service.ledger.banner import load_site, record_banner_consent
from consent_service.ledger.imported import ImportedDecision, record_imported
from consent_service.ledger.models import LedgerEvent
from consent_service.ledger.service import DecisionInput, RecordConsent, record_consent
from consent_service.subjects.service import IdentityRef

PURPOSES = ("analytics", "newsletter", "ads")


def person(i: int) -> IdentityRef:
    return IdentityRef("email", f"person{i}@example.org") if i % 2 else IdentityRef("customer_id", f"c-{i}")


def write(ctx: Context, site_key: str, op: tuple[Any, ...]) -> None:
    """One write; ``op`` = (kind, ...): consent, banner, import, confirm, erase. Writes refused because the
    subject was erased are part of the sequence (they must count nothing)."""
    kind = op[0]
    try:
        if kind == "consent":  # a grant or a "no" (a withdrawal when the purpose was granted)
            _, who, choices, method, language = op
            record_consent(
                ctx,
                RecordConsent(
                    decisions=[DecisionInput("purpose", p, granted) for p, granted in choices],
                    channel="crm",
                    method=method,
                    actor_type="client",
                    actor_id="crm",
                    subject=person(who),
                    language=language,
                ),
            )
        elif kind == "banner":
            _, device, method, gpc, language = op
            granted = method != "reject_all"
            record_banner_consent(
                ctx,
                site=load_site(ctx, site_key),
                origin="https://shop.example",
                device_id=IdentityRef("device_id", f"dev-{device}"),
                decisions=[DecisionInput("purpose", p, granted) for p in ("analytics", "ads")]
                + [DecisionInput("cookie", "session", True)],
                method=method,
                gpc=gpc,
                proof={},
                language=language,
                jurisdiction=None,
                collection_point=None,
            )
        elif kind == "import":
            _, who, purpose, decision, days_ago, key = op
            record_imported(
                ctx,
                [
                    ImportedDecision(
                        key=key,
                        identity=person(who),
                        target_type="purpose",
                        target_key=purpose,
                        decision=decision,
                        recorded_at_source=ctx.now() - dt.timedelta(days=days_ago, hours=3),
                        method="custom",
                    )
                ],
                source="oldcmp",
                actor_type="client",
                actor_id="importer",
                fresh=lambda session, items: items,
                within=lambda session, written: None,
            )
        elif kind == "confirm":  # the double opt-in confirmation of the person's pending newsletter grant
            from consent_service.subjects.service import resolve

            with ctx.uow(write=False) as uow:
                subject_id = resolve(uow.session, ctx.crypto, person(op[1]))
                pending = uow.session.scalars(
                    select(LedgerEvent.id)
                    .where(LedgerEvent.subject_id == subject_id, LedgerEvent.decision == "pending")
                    .order_by(LedgerEvent.seq.desc())
                ).first()
            if pending is not None:
                record_consent(
                    ctx,
                    RecordConsent(
                        decisions=[DecisionInput("purpose", "newsletter", True)],
                        channel="email",
                        method="custom",
                        actor_type="subject",
                        actor_id="confirmation",
                        subject_id=subject_id,
                        related_event_id=pending,
                    ),
                )
        elif kind == "erase":
            from consent_service.subjects.service import resolve

            with ctx.uow(write=False) as uow:
                subject_id = resolve(uow.session, ctx.crypto, person(op[1]))
            if subject_id is not None:
                shred_subject(ctx, subject_id, actor_type="client", actor_id="admin")
    except Conflict:
        pass  # an erased subject records nothing more


def fold_ledger(ctx: Context, tz: dt.tzinfo = dt.UTC) -> dict[tuple[Any, ...], tuple[int, int]]:
    """{cell: (events, first events)} computed from ``ledger_events`` alone, on days in ``tz``."""
    e = LedgerEvent
    with ctx.uow(write=False) as uow:
        events = uow.session.execute(select(e).order_by(e.seq)).scalars().all()
        tally: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
        seen = set()
        for event in events:
            if event.kind != "consent" or event.target_type != "purpose":
                continue
            day = (event.recorded_at_source or event.recorded_at).astimezone(tz).date()
            site = event.actor_id if event.actor_type == "site" else ""
            cell = (
                event.target_key,
                day,
                site,
                event.channel or "",
                event.method or "",
                event.language or "",
                event.decision,
            )
            tally[cell][0] += 1
            if (event.subject_id, event.target_key, day) not in seen:
                seen.add((event.subject_id, event.target_key, day))
                tally[cell][1] += 1
    return {cell: (n, first) for cell, (n, first) in tally.items()}


def rollup(fold: dict[tuple[Any, ...], tuple[int, int]]) -> dict[tuple[Any, ...], tuple[int, int]]:
    """The fold summed over channel and language, as ``consent_daily`` keeps it."""
    out: dict[tuple[Any, ...], tuple[int, int]] = {}
    for (purpose, day, site, _channel, method, _language, decision), (n, first) in fold.items():
        key = (purpose, day, site, decision, method)
        was = out.get(key, (0, 0))
        out[key] = (was[0] + n, was[1] + first)
    return out


def per_purpose(rolled: dict[tuple[Any, ...], tuple[int, int]]) -> dict[tuple[Any, ...], tuple[int, int]]:
    """``rollup``'s cells summed over sites, as ``consent_purpose_daily`` keeps them."""
    out: dict[tuple[Any, ...], tuple[int, int]] = {}
    for (purpose, day, _site, decision, method), (n, first) in rolled.items():
        key = (purpose, day, decision, method)
        was = out.get(key, (0, 0))
        out[key] = (was[0] + n, was[1] + first)
    return out
