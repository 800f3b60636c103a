"""Consent receipts after the Kantara Consent Receipt v1.1 / ISO/IEC TS 27560 fields.

A receipt names the controller, the subject (by its opaque id), each purpose or cookie with the
decision and the ledger event that proves it (its id, seq, chain hash and Merkle leaf index),
and the transparency log it is in (origin and verifier key), and is signed with the service's
Ed25519 key.

Beside the signed payload, ``with_inclusion`` adds what the log proves once the events are in
its tree: ``inclusion`` = the latest checkpoint (a signed note), its size, and per event the
leaf bytes (the event's canonical encoding, whose SHA-256 is the chain hash the payload names)
and the RFC 9162 audit path to the checkpoint's root; ``None`` while an event is not yet a leaf
(the ledger thread adds new events within about a second). ``consent_verify.receipt`` checks
all of it offline. The proof is not signed with the receipt: it proves itself, through the
checkpoint's signature.

Receipts are not stored: ``reissue`` builds the receipt of the events one call recorded again
(the same subject and time, consecutive seqs), with their purpose versions' data uses,
categories and legal basis. Ed25519 signatures are deterministic, so while the controller's
details in the configuration are unchanged the receipt re-issued is, byte for byte, the one
handed out when consent was recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from consent_service.config import Config
from consent_service.context import Context
from consent_service.crypto.signing import Signer
from consent_service.errors import NotFound
from consent_service.ledger import tree
from consent_service.ledger.models import LedgerEvent
from consent_service.registry.models import Cookie, PurposeVersion

RECEIPT_VERSION = "KI-CR-v1.1.0"


def build_receipt(
    *,
    config: Config,
    signer: Signer,
    subject_id: str,
    events: Sequence[dict[str, Any]],
    purposes: dict[str, dict[str, Any]],
    now: dt.datetime,
    log: dict[str, str],
) -> dict[str, Any]:
    """Signed receipt for the events of one consent request; ``log`` is ``log_of(ctx)``."""
    first = events[0]
    items = []
    for event in events:
        info = purposes[event["purpose_key"]]
        items.append(
            {
                "purpose": event["target_key"] if event["target_type"] == "purpose" else event["purpose_key"],
                "cookie": event["target_key"] if event["target_type"] == "cookie" else None,
                "purposeVersion": event["purpose_version"],
                "purposeHash": event["purpose_hash"],
                "purposeCategory": info["data_uses"],
                "piiCategory": info["data_categories"],
                "consentType": "EXPLICIT" if event["method"] != "gpc" else "SIGNAL",
                "decision": event["decision"],
                "legalBasis": info["legal_basis"],
                "primaryPurpose": True,
                "termination": event["valid_until"].isoformat() if event["valid_until"] else None,
                "thirdPartyDisclosure": False,
                "eventId": event["id"],
                "ledgerSeq": event["seq"],
                "ledgerHash": event["hash"],
                "leafIndex": event["seq"] - 1,
            }
        )
    payload = {
        "version": RECEIPT_VERSION,
        "consentReceiptID": "rcpt_" + first["id"],
        "jurisdiction": first["jurisdiction"],
        "consentTimestamp": int(now.timestamp()),
        "recordedAt": now.isoformat(),
        "collectionMethod": f"{first['channel']}/{first['method']}",
        "collectionPoint": first["collection_point"],
        "language": first["language"],
        "piiPrincipalId": subject_id,
        "piiControllers": [
            {
                "piiController": config.controller_name,
                "contact": config.controller_contact,
                "address": config.controller_address,
            }
        ],
        "policyUrl": config.policy_url,
        "services": [{"service": config.controller_name, "purposes": items}],
        "sensitive": False,
        "spiCat": [],
        "transparencyLog": log,
    }
    return signer.sign(payload)


_LOG = "ledger.receipt-log"  # ctx.caches key: the log a receipt names, worked out once


def log_of(ctx: Context) -> dict[str, str]:
    """The transparency log a receipt names: its origin and verifier key (fixed for a context:
    its settings and signing key; worked out once, not on every consent write)."""
    log = ctx.caches.get(_LOG)
    if log is None:
        log = ctx.caches[_LOG] = {"origin": tree.origin(ctx), "verifierKey": tree.verifier_key(ctx)}
    return dict(log)


def reissue(
    ctx: Context, group: Sequence[dict[str, Any]], versions: dict[tuple[str, int], Any]
) -> dict[str, Any]:
    """The signed receipt of ``group``, the consent events one call recorded (each with its
    ``purpose_key``), from ``versions``, their purpose versions by (purpose key, version)."""
    purposes = {}
    for event in group:
        version = versions[event["purpose_key"], event["purpose_version"]]
        purposes[event["purpose_key"]] = {
            "data_uses": list(version.data_uses or []),
            "data_categories": list(version.data_categories or []),
            "legal_basis": version.legal_basis,
        }
    return build_receipt(
        config=ctx.config,
        signer=ctx.signer,
        subject_id=group[0]["subject_id"],
        events=group,
        purposes=purposes,
        now=group[0]["recorded_at"],
        log=log_of(ctx),
    )


def purpose_versions(
    session: Session, wanted: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], PurposeVersion]:
    """The purpose versions named by (purpose key, version), read in one statement."""
    pairs = sorted(set(wanted))
    if not pairs:
        return {}
    statement = select(PurposeVersion).where(
        tuple_(PurposeVersion.purpose_key, PurposeVersion.version).in_(pairs)
    )
    return {(v.purpose_key, v.version): v for v in session.scalars(statement)}


def same_call(last: dict[str, Any] | None, event: dict[str, Any]) -> bool:
    """Whether consent ``event`` was recorded by the call that recorded ``last``, the event
    before it: the same subject and time, consecutive seqs."""
    return (
        last is not None
        and last["subject_id"] == event["subject_id"]
        and last["recorded_at"] == event["recorded_at"]
        and last["seq"] + 1 == event["seq"]
    )


_COLUMNS = list(LedgerEvent.__table__.columns)


def receipt_of_event(ctx: Context, event_id: str) -> dict[str, Any]:
    """The receipt of the call that recorded consent event ``event_id``, re-issued, with its
    inclusion proof against the latest checkpoint (``None`` until its events are in the tree).
    NotFound for an unknown id or an event that is not a consent decision (links have none)."""
    with ctx.uow(write=False) as uow:
        session = uow.session
        event = session.execute(select(*_COLUMNS).where(LedgerEvent.id == event_id)).mappings().first()
        if event is None or event["kind"] != "consent":
            raise NotFound(
                f"no consent event {event_id!r} in the ledger: receipts exist for consent decisions"
            )
        rows = [
            dict(r)
            for r in session.execute(
                select(*_COLUMNS)
                .where(
                    LedgerEvent.subject_id == event["subject_id"],
                    LedgerEvent.recorded_at == event["recorded_at"],
                    LedgerEvent.kind == "consent",
                )
                .order_by(LedgerEvent.seq)
            ).mappings()
        ]
        group: list[dict[str, Any]] = []
        for row in rows:
            if group and not same_call(group[-1], row):
                if any(r["seq"] == event["seq"] for r in group):
                    break
                group = []
            group.append(row)
        cookies = dict(
            session.execute(
                select(Cookie.name, Cookie.purpose_key).where(
                    Cookie.name.in_([r["target_key"] for r in group if r["target_type"] == "cookie"])
                )
            ).all()
        )
        for row in group:
            row["purpose_key"] = (
                row["target_key"] if row["target_type"] == "purpose" else cookies[row["target_key"]]
            )
        versions = purpose_versions(session, ((r["purpose_key"], r["purpose_version"]) for r in group))
        receipt = reissue(ctx, group, versions)
        receipt["inclusion"] = tree.receipt_inclusion(session, group)
    return receipt
