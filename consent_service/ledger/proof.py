"""What the ledger proves about one subject: for the console's subject page and its proof of consent.

- ``subject_record``: the gate's answer per registered purpose (``queries.decide_one``, the
  function behind ``POST /v1/decisions``), the latest decision per cookie, and every event of the
  subject's linked group (``queries.history``) with the notice the person saw: the titles and
  descriptions of the purpose version the event names, in the language it was recorded in.
- Receipts are not stored: the signed receipt handed out when consent was recorded is re-issued
  from its events (``build_receipt`` with the purpose version's data uses, categories and legal
  basis, at the recording time). Ed25519 signatures are deterministic, so while the controller's
  details in the configuration are unchanged the re-issued receipt is, byte for byte, the one
  the person received; each is checked with the service's public key.
- ``proof_of_consent``: the record narrowed to one purpose (its own events and those of its
  cookies) with its events verified now (``verify_events``: each one's hash and its link to the
  event before it, a cost that does not grow with the ledger) and the last verification of the
  whole ledger (``ledger.verification``: when, by whom, intact or not, up to which event). Their
  hashes chain through everyone's events, so only a whole-ledger verification shows the chain
  whole; the proof says when the last one ran instead of walking millions of events per page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from consent_service.context import Context
from consent_service.crypto.signing import verify_signed
from consent_service.errors import UnknownPurpose
from consent_service.ledger import queries, verification
from consent_service.ledger.chain import event_digest
from consent_service.ledger.models import GENESIS_HASH, LedgerEvent
from consent_service.ledger.receipts import purpose_versions, reissue, same_call
from consent_service.registry.models import Cookie, Purpose, PurposeVersion


def _shown(texts: dict[str, Any], language: str | None, fallback: str) -> tuple[str, str | None]:
    """(language, text) of ``texts`` for the event's language, else the reader's, else the first."""
    for candidate in (language, (language or "").split("-")[0], fallback):
        if candidate and texts.get(candidate):
            return candidate, texts[candidate]
    for code, value in texts.items():
        return code, value
    return fallback, None


def notice(version: PurposeVersion, language: str | None, reader_language: str) -> dict[str, Any]:
    """A purpose version's notice as shown in ``language`` (the event's), with every language kept."""
    shown, title = _shown(version.titles or {}, language, reader_language)
    description = (version.descriptions or {}).get(shown) or _shown(version.descriptions or {}, shown, shown)[
        1
    ]
    return {
        "purpose": version.purpose_key,
        "version": version.version,
        "content_hash": version.content_hash,
        "language": shown,
        "exact_language": bool(language) and shown in (language, (language or "").split("-")[0]),
        "title": title,
        "description": description,
        "titles": dict(version.titles or {}),
        "descriptions": dict(version.descriptions or {}),
        "legal_basis": version.legal_basis,
        "data_categories": list(version.data_categories or []),
        "data_uses": list(version.data_uses or []),
    }


def _versions(ctx: Context, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], PurposeVersion]:
    with ctx.uow(write=False) as uow:
        versions = purpose_versions(uow.session, wanted)
        for row in versions.values():
            uow.session.expunge(row)
    return versions


def _registry(ctx: Context) -> tuple[list[str], dict[str, str]]:
    """Registered purpose keys, and each cookie's purpose."""
    with ctx.uow(write=False) as uow:
        keys = list(uow.session.scalars(select(Purpose.key).order_by(Purpose.key)))
        cookies = {name: key for name, key in uow.session.execute(select(Cookie.name, Cookie.purpose_key))}
    return keys, cookies


def _receipt_groups(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consent events recorded by one call (``receipts.same_call``)."""
    groups: list[list[dict[str, Any]]] = []
    for event in events:
        if event["kind"] != "consent" or event.get("purpose_key") is None:
            continue
        if groups and same_call(groups[-1][-1], event):
            groups[-1].append(event)
        else:
            groups.append([event])
    return groups


def _receipts(
    ctx: Context, events: list[dict[str, Any]], versions: dict[Any, PurposeVersion]
) -> list[dict[str, Any]]:
    public_key = ctx.signer.public_key()
    out = []
    for group in _receipt_groups(events):
        if any((e["purpose_key"], e["purpose_version"]) not in versions for e in group):
            continue
        receipt = reissue(ctx, group, versions)
        out.append(
            {
                "id": receipt["payload"]["consentReceiptID"],
                "recorded_at": group[0]["recorded_at"],
                "event_ids": [e["id"] for e in group],
                "document": receipt,
                "key_id": receipt["signature"]["key_id"],
                "signature": receipt["signature"]["value"],
                "verified": verify_signed(receipt, public_key),
            }
        )
    return out


def subject_record(ctx: Context, subject_id: str, reader_language: str = "en") -> dict[str, Any]:
    """Everything the ledger holds on a subject's consent: identities (plain; mask them to show),
    the gate per purpose, the latest decision per cookie, the events oldest first with the notice
    of their purpose version, and the receipts re-issued from them. UnknownSubject if none."""
    history = queries.history(ctx, subject_id)
    consents = queries.current_consents(ctx, subject_id)
    keys, cookie_purposes = _registry(ctx)
    events = history["events"]
    for event in events:
        if event["target_type"] == "purpose":
            event["purpose_key"] = event["target_key"]
        elif event["target_type"] == "cookie":
            event["purpose_key"] = cookie_purposes.get(event["target_key"])
        else:
            event["purpose_key"] = None
    versions = _versions(
        ctx,
        (
            (e["purpose_key"], e["purpose_version"])
            for e in events
            if e["purpose_key"] and e["purpose_version"]
        ),
    )
    for event in events:
        version = versions.get((event["purpose_key"], event["purpose_version"]))
        event["notice"] = notice(version, event["language"], reader_language) if version else None
    gate = [{"purpose": key, **queries.decide_one(ctx, subject_id, key).as_dict()} for key in keys]
    cookies = [
        item | {"purpose": cookie_purposes.get(item["target_key"])}
        for item in consents["consents"]
        if item["target_type"] == "cookie"
    ]
    return {
        "subject_id": subject_id,
        "root_id": history["root_id"],
        "identities": history["identities"],
        "gate": gate,
        "cookies": cookies,
        "events": events,
        "receipts": _receipts(ctx, events, versions),
    }


def proof_of_consent(
    ctx: Context, subject_id: str, purpose_key: str, reader_language: str = "en"
) -> dict[str, Any]:
    """The record of one purpose for an auditor: the purpose's current notice, the gate's answer,
    every event for the purpose or its cookies (oldest first) with the notice of its version, the
    receipts that cover them, and the verification of the whole ledger (``ledger: "whole"``).
    UnknownSubject / UnknownPurpose when either is not known."""
    with ctx.uow(write=False) as uow:
        purpose = uow.session.get(Purpose, purpose_key)
        if purpose is None:
            raise UnknownPurpose(f"purpose {purpose_key!r} is not registered")
        current = (purpose_key, purpose.current_version)
    record = subject_record(ctx, subject_id, reader_language)
    events = [e for e in record["events"] if e["purpose_key"] == purpose_key]
    ids = {e["id"] for e in events}
    current_version = _versions(ctx, [current])[current]
    return {
        "subject_id": subject_id,
        "root_id": record["root_id"],
        "identities": record["identities"],
        "purpose": notice(current_version, reader_language, reader_language),
        "gate": next(g for g in record["gate"] if g["purpose"] == purpose_key),
        "events": events,
        "receipts": [r for r in record["receipts"] if ids.intersection(r["event_ids"])],
        "controller": {
            "name": ctx.config.controller_name,
            "contact": ctx.config.controller_contact,
            "address": ctx.config.controller_address,
        },
        "public_key": ctx.signer.public_key_b64,
        "ledger": "events",
        "verification": verify_events(ctx, [e["seq"] for e in events]),
        "last_full_verification": verification.last_completed(ctx),
    }


def verify_events(ctx: Context, seqs: list[int]) -> dict[str, Any]:
    """The proof's events checked now, at a cost that does not grow with the ledger: each event's
    hash recomputed from its stored fields, and its link to the event before it (whose hash it
    carries). That the chain between them and the ledger's head is whole is what a verification
    of the whole ledger shows (``last_full_verification``: its date, result and head)."""
    wanted = sorted(set(seqs))
    around = sorted(set(wanted) | {s - 1 for s in wanted if s > 1})
    with ctx.uow(write=False) as uow:
        columns = list(LedgerEvent.__table__.columns)
        rows = {
            row["seq"]: row
            for row in uow.session.execute(select(*columns).where(LedgerEvent.seq.in_(around))).mappings()
        }
    problems = []
    for seq in wanted:
        row = rows.get(seq)
        if row is None:
            problems.append(f"seq {seq}: missing from the ledger")
            continue
        if event_digest(dict(row)) != row["hash"]:
            problems.append(f"seq {seq}: content does not match its hash (modified)")
        before = GENESIS_HASH if seq == 1 else rows[seq - 1]["hash"] if seq - 1 in rows else None
        if row["prev_hash"] != before:
            problems.append(f"seq {seq}: not linked to the event before it")
    return {"ok": not problems, "events_checked": len(wanted), "problems": problems}
