"""Records of processing activities (GDPR Art. 30(1)), generated from what the service knows.

One record per registered purpose, with (a) the controller and DPO from the configuration,
(b) the purpose (current version: titles, descriptions, legal basis, data uses), (c) the
categories of data subjects (configuration) and of personal data (the purpose's, plus where
the registered stores hold them: ``store.collection.field``), (d) the registered Art. 19
recipients (key, name, events; never an endpoint or secret), (e) third-country transfers
(configuration), (f) the time limits for erasure: the retention rules that apply, in words,
the purpose's retention period and consent validity, and (g) the security measures
(configuration). ``to_csv`` flattens the records to one row per purpose.

Nothing here reads a store connection or a recipient secret.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.dsar.interface import Recipient
from consent_service.registry.models import Purpose, PurposeVersion
from consent_service.retention.rules import Rule, active_rules, applicable, category_matches
from consent_service.stores.models import DataStore

CSV_COLUMNS = (
    "purpose",
    "version",
    "title",
    "description",
    "legal_basis",
    "controller",
    "dpo",
    "data_subject_categories",
    "data_categories",
    "stored_in",
    "data_uses",
    "recipients",
    "third_country_transfers",
    "retention_period",
    "consent_validity",
    "retention_rules",
    "security_measures",
)
LIST_SEPARATOR = "; "


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _in_language(texts: dict[str, Any] | None, fallback: str) -> str:
    """The English text, else the first one given, else ``fallback``."""
    texts = texts or {}
    if "en" in texts:
        return str(texts["en"])
    return str(next(iter(texts.values()), fallback))


def _rule_dict(rule: Rule) -> dict[str, Any]:
    return {
        "key": rule.key,
        "version": rule.version,
        "description": rule.description,
        "applies_to": rule.applies_to,
        "period": rule.period,
        "trigger": rule.trigger,
        "action": rule.action,
        "in_words": rule.sentence(),
    }


def _stores(session: Session) -> list[dict[str, Any]]:
    """Every store with its collections' fields and categories (no connection, no secret)."""
    out = []
    for store in session.scalars(select(DataStore).order_by(DataStore.key)):
        collections = []
        for name, coll in sorted(store.spec["collections"].items()):
            fields = [
                {"field": field, "category": spec["category"]}
                for field, spec in sorted((coll.get("fields") or {}).items())
            ]
            entry: dict[str, Any] = {"name": name, "fields": fields}
            if coll.get("hold"):
                entry["hold"] = {"reason": coll["hold"]["reason"], "basis": coll["hold"]["basis"]}
            collections.append(entry)
        out.append(
            {
                "key": store.key,
                "type": store.type,
                "description": store.spec.get("description", ""),
                "collections": collections,
            }
        )
    return out


def _locations(stores: list[dict[str, Any]], categories: list[str]) -> list[dict[str, str]]:
    """Where the stores hold data of these categories (a field of a narrower category counts)."""
    return [
        {
            "store": store["key"],
            "collection": coll["name"],
            "field": field["field"],
            "category": field["category"],
            "location": f"{store['key']}.{coll['name']}.{field['field']}",
        }
        for store in stores
        for coll in store["collections"]
        for field in coll["fields"]
        if any(category_matches(c, field["category"]) for c in categories)
    ]


def build(ctx: Context) -> dict[str, Any]:
    """The records of processing as a JSON-ready document, read in one read-only transaction."""
    cfg = ctx.config
    subject_categories = _split(cfg.data_subject_categories)
    with ctx.uow(write=False) as uow:
        session = uow.session
        rules = active_rules(session)
        stores = _stores(session)
        recipients = [
            {"key": r.key, "name": r.name, "events": list(r.events)}
            for r in session.scalars(select(Recipient).order_by(Recipient.key))
        ]
        purposes = session.execute(
            select(Purpose, PurposeVersion)
            .join(
                PurposeVersion,
                (PurposeVersion.purpose_key == Purpose.key)
                & (PurposeVersion.version == Purpose.current_version),
            )
            .order_by(Purpose.key)
        ).all()
        records = []
        for purpose, version in purposes:
            categories = list(version.data_categories or [])
            stored_in = _locations(stores, categories)
            found_categories = {loc["category"] for loc in stored_in}
            concerned = applicable(
                rules,
                purposes=[purpose.key],
                categories=[*categories, *found_categories],
                collections={(loc["store"], loc["collection"]) for loc in stored_in},
            )
            records.append(
                {
                    "purpose": purpose.key,
                    "version": purpose.current_version,
                    "title": _in_language(version.titles, purpose.key),
                    "titles": version.titles,
                    "descriptions": version.descriptions,
                    "legal_basis": version.legal_basis,
                    "direct_marketing": purpose.direct_marketing,
                    "data_subject_categories": subject_categories,
                    "data_categories": categories,
                    "stored_in": stored_in,
                    "data_uses": list(version.data_uses or []),
                    "recipients": recipients,
                    "third_country_transfers": cfg.third_country_transfers,
                    "retention_period": purpose.retention_period,
                    "consent_validity": purpose.consent_validity,
                    "retention_rules": [
                        {"key": r.key, "version": r.version, "in_words": r.sentence()} for r in concerned
                    ],
                }
            )
    return {
        "controller": {
            "name": cfg.controller_name,
            "contact": cfg.controller_contact,
            "address": cfg.controller_address,
        },
        "dpo": {"name": cfg.dpo_name, "contact": cfg.dpo_contact},
        "generated_at": ctx.now().isoformat(),
        "data_subject_categories": subject_categories,
        "third_country_transfers": cfg.third_country_transfers,
        "security_measures": cfg.security_measures,
        "records": records,
        "stores": stores,
        "recipients": recipients,
        "retention_rules": [_rule_dict(rule) for rule in rules],
    }


def _contact(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def _time_limits(record: dict[str, Any]) -> str:
    return LIST_SEPARATOR.join(
        f"{r['key']} v{r['version']}: {r['in_words']}" for r in record["retention_rules"]
    )


def to_csv(doc: dict[str, Any]) -> str:
    """One row per purpose under a header row of ``CSV_COLUMNS``; lists joined with "; "."""
    controller = doc["controller"]
    controller_text = _contact(controller["name"], controller["contact"], controller["address"])
    dpo_text = _contact(doc["dpo"]["name"], doc["dpo"]["contact"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    join = LIST_SEPARATOR.join
    for record in doc["records"]:
        writer.writerow(
            [
                record["purpose"],
                record["version"],
                record["title"],
                _in_language(record["descriptions"], ""),
                record["legal_basis"],
                controller_text,
                dpo_text,
                join(record["data_subject_categories"]),
                join(record["data_categories"]),
                join(f"{loc['location']} ({loc['category']})" for loc in record["stored_in"]),
                join(record["data_uses"]),
                join(f"{r['name']} ({', '.join(r['events'])})" for r in record["recipients"]),
                record["third_country_transfers"],
                record["retention_period"] or "",
                record["consent_validity"] or "",
                _time_limits(record),
                doc["security_measures"],
            ]
        )
    return buffer.getvalue()
