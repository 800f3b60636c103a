"""The package an access (Art. 15) or portability (Art. 20) request produces, and its download.

Three renderings of the same records: JSON (machine-readable), one CSV text per collection
(``"store.collection" -> text``) and an HTML report with the information Art. 15(1) requires:
purposes with their legal basis, data categories, data uses and retention; the categories found
per store; recipients; the retention rules that apply to this subject's data (``retention``:
rules concerning the purposes the subject has consent events for, the categories of the fields
found, or the store collections records were found in; each with its key, version and the rule
in words) next to the purposes' retention periods; the source (the store); the subject's
rights; and the consent history from the ledger (events without their proof documents).

Portability keeps only data the subject provided. The rule is deliberately simple: only
declared fields are exported, and fields whose category starts with ``user.derived`` or
``user.behavior`` (inferences, observed behaviour) are left out.

The package is sealed under the subject's data key: it expires after
``Config.package_retention_days`` and becomes unreadable (410) once the subject is shredded.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.envelope import DecryptionFailed, field_aad, open_sealed, seal
from consent_service.dsar import package_texts as texts
from consent_service.dsar import transfers
from consent_service.dsar.execution_models import DsarPackage
from consent_service.dsar.package_html import to_html
from consent_service.dsar.recipients import list_recipients
from consent_service.dsar.request_models import DsarRequest
from consent_service.errors import Gone, InvalidInput, NotFound
from consent_service.ledger.queries import history
from consent_service.registry import taxonomy
from consent_service.registry.models import Cookie
from consent_service.registry.service import read_purposes
from consent_service.retention.interface import active_rules, applicable
from consent_service.stores.connectors.base import Connector, Row
from consent_service.stores.spec import CollectionSpec
from consent_service.stores.traversal import Found
from consent_service.subjects import service as subjects

UNCLASSIFIED = "unclassified"
PORTABILITY_RULE = (
    "data provided by the data subject: the data they actively and knowingly provided and the data "
    "observed from their use of the service or device (WP242); inferred and derived data (fields "
    "with origin inferred or derived) and the columns the store description excludes are left out"
)
FORMATS = ("json", "csv", "html")
Records = dict[str, dict[str, list[Row]]]


def _copy(row: Row, coll: CollectionSpec, portability: bool) -> Row:
    """Every column of ``row`` but the excluded ones (and, for portability, inferred fields)."""
    return {
        name: value
        for name, value in row.items()
        if name not in coll.exclude
        and not (portability and name in coll.fields and not coll.fields[name].portable)
    }


def collect(found: Found, connectors: Mapping[str, Connector], *, portability: bool) -> Records:
    """``{store: {collection: [rows]}}``: every column the stores returned, less the excluded ones;
    for portability also less the fields the description marks inferred or derived."""
    out: Records = {}
    for store, collection in found.order:
        coll = connectors[store].spec.collections[collection]
        rows = [_copy(row, coll, portability) for row in found.rows.get((store, collection), [])]
        rows = [row for row in rows if row]
        if rows:
            out.setdefault(store, {})[collection] = json.loads(json.dumps(rows, default=str))
    return out


def classify(records: Records, connectors: Mapping[str, Connector]) -> dict[str, dict[str, dict[str, str]]]:
    """``{store: {collection: {column: category}}}``: a column the description does not declare as
    a field (an undeclared column, or a key without a category) is ``UNCLASSIFIED``."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for store, colls in records.items():
        for collection, rows in colls.items():
            fields = connectors[store].spec.collections[collection].fields
            columns = dict.fromkeys(k for row in rows for k in row)
            out.setdefault(store, {})[collection] = {
                c: fields[c].category if c in fields else UNCLASSIFIED for c in columns
            }
    return out


def categories(columns: Mapping[str, Mapping[str, Mapping[str, str]]]) -> dict[str, list[str]]:
    """The data categories of the columns found per store."""
    return {
        store: sorted({c for cols in colls.values() for c in cols.values()})
        for store, colls in columns.items()
    }


def left_out(records: Records, connectors: Mapping[str, Connector]) -> dict[str, dict[str, dict[str, str]]]:
    """The columns the store descriptions exclude from the copy, with their reasons."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for store, colls in records.items():
        for collection in colls:
            exclude = connectors[store].spec.collections[collection].exclude
            if exclude:
                out.setdefault(store, {})[collection] = dict(exclude)
    return out


def _overlaps(one: str, other: str) -> bool:
    return one == other or one.startswith(other + ".") or other.startswith(one + ".")


def concerning(
    purposes: list[dict[str, Any]], decided: set[str], found: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    """The purposes that concern this person: those they have consent events for (directly or
    through a cookie), and those (on any legal basis) using a category of the data found (a
    category matches its parents and children in the taxonomy, ``user.contact`` ~
    ``user.contact.email``)."""
    kinds = {c for cats in found.values() for c in cats if c != UNCLASSIFIED}
    return [
        p
        for p in purposes
        if p["key"] in decided or any(_overlaps(c, k) for c in p["data_categories"] or [] for k in kinds)
    ]


def to_csv(records: Records) -> dict[str, str]:
    out = {}
    for store, colls in records.items():
        for collection, rows in colls.items():
            columns = list(dict.fromkeys(k for row in rows for k in row))
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            out[f"{store}.{collection}"] = buffer.getvalue()
    return out


def decided_purposes(ctx: Context, events: list[dict[str, Any]]) -> set[str]:
    """The purposes the subject has consent events for, directly or through a cookie's purpose."""
    decided = {e["target_key"] for e in events if e["target_type"] == "purpose"}
    cookies = {e["target_key"] for e in events if e["target_type"] == "cookie"}
    if cookies:
        with ctx.uow(write=False) as uow:
            decided |= set(uow.session.scalars(select(Cookie.purpose_key).where(Cookie.name.in_(cookies))))
    return decided


def retention(
    ctx: Context,
    records: Records,
    found: Mapping[str, list[str]],
    decided: set[str],
    purposes: list[dict[str, Any]],
) -> dict[str, Any]:
    """The retention rules that apply to this subject's data, and each purpose's retention period.

    A rule applies when it concerns a purpose the subject has consent events for (directly or
    through a cookie's purpose), a category of the fields found, or a store collection records
    were found in. Only registry and rule content is shown, nothing of the subject.
    """
    with ctx.uow(write=False) as uow:
        rules = applicable(
            active_rules(uow.session),
            purposes=decided,
            categories={c for cats in found.values() for c in cats},
            collections={(store, c) for store, colls in records.items() for c in colls},
        )
    return {
        "rules": [
            {
                "key": r.key,
                "version": r.version,
                "applies_to": r.applies_to,
                "period": r.period,
                "trigger": r.trigger,
                "action": r.action,
                "in_words": r.sentence(),
            }
            for r in rules
        ],
        "purposes": [{"key": p["key"], "retention_period": p["retention_period"]} for p in purposes],
    }


def recipient_entry(recipient: dict[str, Any], language: str) -> dict[str, Any]:
    """A recipient as the package names it: where it is and what protects a transfer there."""
    country = recipient["country"]
    return {
        "name": recipient["name"],
        "told_of": recipient["events"],
        "country": country,
        "country_name": transfers.country_name(country, language)
        if country
        else texts.text(language, "country_not_recorded"),
        "third_country": transfers.in_third_country(country),
        "safeguard": recipient["safeguard"],
    }


def build(
    ctx: Context,
    request_id: str,
    request_type: str,
    subject_id: str,
    found: Found,
    connectors: Mapping[str, Connector],
    language: str = "en",
) -> tuple[str, dict[str, str], str]:
    """The JSON, CSV and HTML renderings of the records ``found`` for a request, in ``language``."""
    language = texts.language_of(language)
    cfg = ctx.config
    records = collect(found, connectors, portability=request_type == "portability")
    events = [
        {
            k: e.get(k)
            for k in ("seq", "recorded_at", "kind", "target_type", "target_key", "decision", "channel")
        }
        for e in history(ctx, subject_id)["events"]
    ]
    holds = [
        [store, c, f"{spec.hold.reason} ({spec.hold.basis})"]
        for store, colls in records.items()
        for c in colls
        if (spec := connectors[store].spec.collections[c]).hold is not None
    ]
    columns = classify(records, connectors)
    found_categories = categories(columns)
    decided = decided_purposes(ctx, events)
    purposes = concerning(json.loads(json.dumps(read_purposes(ctx), default=str)), decided, found_categories)
    keys = {c for cats in found_categories.values() for c in cats} | {
        k for p in purposes for k in [*(p["data_categories"] or []), *(p["data_uses"] or [])]
    }
    doc: dict[str, Any] = {
        "request_id": request_id,
        "type": request_type,
        "language": language,
        "generated_at": ctx.now().isoformat(),
        "controller": {"name": cfg.controller_name, "contact": cfg.controller_contact},
        "stores": records,
        "columns": columns,
        "left_out": left_out(records, connectors),
        "categories": found_categories,
        "names": {k: taxonomy.name(k, language) for k in sorted(keys - {UNCLASSIFIED})},
        "purposes": purposes,
        "recipients": [recipient_entry(r, language) for r in list_recipients(ctx)],
        "holds": holds,
        "retention": retention(ctx, records, found_categories, decided, purposes),
        "consent_history": json.loads(json.dumps(events, default=str)),
        "rights": texts.rights(language, cfg.controller_contact, cfg.policy_url),
        "complaint": texts.complaint(language, cfg.supervisory_authority_name, cfg.supervisory_authority_url),
    }
    if request_type == "portability":
        doc["rule"] = PORTABILITY_RULE
    descriptions = {store: c.spec.description for store, c in connectors.items()}
    return json.dumps(doc, indent=2, default=str), to_csv(records), to_html(doc, descriptions, cfg)


def _aad(request: DsarRequest, column: str) -> bytes:
    return field_aad(request.subject_id, "dsar_packages", column, request.id)


def save(
    ctx: Context, session: Session, request: DsarRequest, rendered: tuple[str, dict[str, str], str]
) -> None:
    """Seal and store the package in the caller's transaction (replacing an earlier one)."""
    key = subjects.data_key(session, ctx.crypto, request.subject_id)
    if key is None:
        raise Gone("this person's data has been erased", extra={"reason": "erased"})
    now = ctx.now()
    json_text, csvs, html_text = rendered
    values = {
        "created_at": now,
        "expires_at": now + dt.timedelta(days=ctx.config.package_retention_days),
        "json_ct": seal(key, json_text.encode(), _aad(request, "json")),
        "csv_ct": seal(key, json.dumps(csvs).encode(), _aad(request, "csv")),
        "html_ct": seal(key, html_text.encode(), _aad(request, "html")),
    }
    existing = session.get(DsarPackage, request.id)
    if existing is None:
        session.add(DsarPackage(request_id=request.id, **values))
    else:
        for name, value in values.items():
            setattr(existing, name, value)


def purge_expired(ctx: Context) -> int:
    """Delete every package past its retention; returns how many went."""
    with ctx.uow() as uow:
        result = uow.session.execute(delete(DsarPackage).where(DsarPackage.expires_at < ctx.now()))
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def read(ctx: Context, request_id: str, fmt: str = "json", collection: str | None = None) -> Any:
    """The package: a dict (json), ``{name: csv text}`` or one CSV text, or the HTML text.

    NotFound before the package exists, Gone after it expired or the subject was shredded.
    """
    if fmt not in FORMATS:
        raise InvalidInput("unknown format", errors={"format": [f"one of {', '.join(FORMATS)}"]})
    with ctx.uow(write=False) as uow:
        session = uow.session
        request = session.get(DsarRequest, request_id)
        package = session.get(DsarPackage, request_id)
        if request is None or package is None:
            raise NotFound(f"request {request_id!r} has no package (yet)")
        if ctx.now() > package.expires_at:
            raise Gone("the package has expired", extra={"reason": "expired"})
        key = subjects.data_key(session, ctx.crypto, request.subject_id)
        if key is None:
            raise Gone("this person's data has been erased", extra={"reason": "erased"})
        blob = {"json": package.json_ct, "csv": package.csv_ct, "html": package.html_ct}[fmt]
        try:
            text = open_sealed(key, blob, _aad(request, fmt)).decode()
        except DecryptionFailed:
            raise Gone("the package can no longer be read", extra={"reason": "erased"}) from None
    if fmt == "json":
        return json.loads(text)
    if fmt == "csv":
        csvs: dict[str, str] = json.loads(text)
        if collection is None:
            return csvs
        if collection not in csvs:
            raise NotFound(f"the package has no collection {collection!r} (names: {', '.join(csvs)})")
        return csvs[collection]
    return text
