"""Consent receipts after the Kantara Consent Receipt v1.1 / ISO/IEC TS 27560 fields.

A receipt names the controller, the subject (by its opaque id), each purpose or cookie with the
decision and the ledger event that proves it, and is signed with the service's Ed25519 key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from consent_service.config import Config
from consent_service.crypto.signing import Signer

RECEIPT_VERSION = "KI-CR-v1.1.0"


def build_receipt(
    *,
    config: Config,
    signer: Signer,
    subject_id: str,
    events: Sequence[dict[str, Any]],
    purposes: dict[str, dict[str, Any]],
    now: dt.datetime,
) -> dict[str, Any]:
    """Signed receipt for the events of one consent request."""
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
    }
    return signer.sign(payload)
