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
import html
import io
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.envelope import DecryptionFailed, field_aad, open_sealed, seal
from consent_service.dsar.connectors.base import Connector, Row
from consent_service.dsar.execution_models import DsarPackage
from consent_service.dsar.recipients import list_recipients
from consent_service.dsar.request_models import DsarRequest
from consent_service.dsar.traversal import Found
from consent_service.errors import Gone, InvalidInput, NotFound
from consent_service.ledger.queries import history
from consent_service.registry.models import Cookie
from consent_service.registry.service import read_purposes
from consent_service.retention.rules import active_rules, applicable
from consent_service.subjects import service as subjects

NOT_PROVIDED = ("user.derived", "user.behavior")
FORMATS = ("json", "csv", "html")
Records = dict[str, dict[str, list[Row]]]


def collect(found: Found, connectors: Mapping[str, Connector], *, portability: bool) -> Records:
    """``{store: {collection: [rows]}}``; for portability only the fields the subject provided."""
    out: Records = {}
    for store, collection in found.order:
        rows = found.rows.get((store, collection), [])
        if portability:
            coll = connectors[store].spec.collections[collection]
            keep = [n for n, f in coll.fields.items() if not f.category.startswith(NOT_PROVIDED)]
            if not keep:
                continue
            rows = [{name: row.get(name) for name in keep if name in row} for row in rows]
        if rows:
            out.setdefault(store, {})[collection] = json.loads(json.dumps(rows, default=str))
    return out


def categories(records: Records, connectors: Mapping[str, Connector]) -> dict[str, list[str]]:
    """The data categories of the fields found per store."""
    out: dict[str, list[str]] = {}
    for store, colls in records.items():
        specs = connectors[store].spec.collections
        cats = {f.category for c in colls for f in specs[c].fields.values()}
        out[store] = sorted(cats)
    return out


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


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _scope_words(applies_to: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {value}" for name, value in applies_to.items())


def retention(
    ctx: Context,
    records: Records,
    found: Mapping[str, list[str]],
    events: list[dict[str, Any]],
    purposes: list[dict[str, Any]],
) -> dict[str, Any]:
    """The retention rules that apply to this subject's data, and each purpose's retention period.

    A rule applies when it concerns a purpose the subject has consent events for (directly or
    through a cookie's purpose), a category of the fields found, or a store collection records
    were found in. Only registry and rule content is shown, nothing of the subject.
    """
    decided = {e["target_key"] for e in events if e["target_type"] == "purpose"}
    cookies = {e["target_key"] for e in events if e["target_type"] == "cookie"}
    with ctx.uow(write=False) as uow:
        session = uow.session
        if cookies:
            decided |= set(session.scalars(select(Cookie.purpose_key).where(Cookie.name.in_(cookies))))
        rules = applicable(
            active_rules(session),
            purposes=decided,
            categories={c for cats in found.values() for c in cats},
            collections={(store, c) for store, colls in records.items() for c in colls},
        )
    return {
        "rules": [
            {"key": r.key, "version": r.version, "applies_to": r.applies_to, "in_words": r.sentence()}
            for r in rules
        ],
        "purposes": [{"key": p["key"], "retention_period": p["retention_period"]} for p in purposes],
    }


def to_html(ctx: Context, doc: dict[str, Any], connectors: Mapping[str, Connector]) -> str:
    esc = html.escape
    cfg = ctx.config
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Your personal data: "
        f"{esc(doc['request_id'])}</title></head><body>",
        f"<h1>Your personal data held by {esc(cfg.controller_name)}</h1>",
        f"<p>Request {esc(doc['request_id'])} ({esc(doc['type'])}), generated {esc(doc['generated_at'])}. "
        f"Contact: {esc(cfg.controller_contact)}. Privacy policy: {esc(cfg.policy_url)}.</p>",
        "<h2>Purposes of the processing (Art. 15(1)(a))</h2>",
        _table(
            ["Purpose", "Key", "Legal basis", "Data categories", "Data uses", "Retention"],
            [
                [
                    (p["titles"] or {}).get("en", p["key"]),
                    p["key"],
                    p["legal_basis"],
                    ", ".join(p["data_categories"] or []),
                    ", ".join(p["data_uses"] or []),
                    p["retention_period"] or "as long as the purpose needs",
                ]
                for p in doc["purposes"]
            ],
        ),
        "<h2>Categories of personal data (Art. 15(1)(b)) and their source (Art. 15(1)(g))</h2>",
        _table(
            ["Store (source)", "Description", "Categories"],
            [
                [store, connectors[store].spec.description, ", ".join(cats)]
                for store, cats in doc["categories"].items()
            ],
        ),
        "<h2>Recipients (Art. 15(1)(c))</h2>",
        _table(["Recipient", "Told of"], [[r["name"], ", ".join(r["told_of"])] for r in doc["recipients"]])
        if doc["recipients"]
        else "<p>No recipients of your data are registered.</p>",
        "<h2>Retention (Art. 15(1)(d))</h2><p>How long your data is kept: the retention rules "
        "that apply to the purposes you decided on, to the kinds of data found and to where it "
        "was found.</p>",
        _table(
            ["Rule", "Version", "Applies to", "Retention"],
            [
                [r["key"], r["version"], _scope_words(r["applies_to"]), r["in_words"]]
                for r in doc["retention"]["rules"]
            ],
        )
        if doc["retention"]["rules"]
        else "<p>No retention rule applies to the data found.</p>",
        "<p>Retention period of each purpose:</p>",
        _table(
            ["Purpose", "Retention period"],
            [
                [p["key"], p["retention_period"] or "as long as the purpose needs"]
                for p in doc["retention"]["purposes"]
            ],
        ),
        "<p>Records kept under a legal obligation:</p>",
        _table(["Store", "Collection", "Kept because"], doc["holds"]),
        "<h2>Your rights (Art. 15(1)(e), (f))</h2><p>You may ask for rectification or erasure of "
        "your data, restriction of or objection to its processing, and lodge a complaint with a "
        "supervisory authority.</p>",
        "<h2>Consent history</h2>",
        _table(
            ["Recorded at", "Event", "Purpose or cookie", "Decision", "Channel"],
            [
                [e["recorded_at"], e["kind"], e["target_key"], e["decision"], e["channel"]]
                for e in doc["consent_history"]
            ],
        ),
        "<h2>Your data</h2>",
    ]
    for store, colls in doc["stores"].items():
        for collection, rows in colls.items():
            columns = list(dict.fromkeys(k for row in rows for k in row))
            parts.append(f"<h3>{esc(store)}: {esc(collection)}</h3>")
            parts.append(_table(columns, [[row.get(c) for c in columns] for row in rows]))
    parts.append("</body></html>")
    return "\n".join(parts)


def build(
    ctx: Context,
    request_id: str,
    request_type: str,
    subject_id: str,
    found: Found,
    connectors: Mapping[str, Connector],
) -> tuple[str, dict[str, str], str]:
    """The JSON, CSV and HTML renderings of the records ``found`` for a request."""
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
    found_categories = categories(records, connectors)
    purposes = json.loads(json.dumps(read_purposes(ctx), default=str))
    doc: dict[str, Any] = {
        "request_id": request_id,
        "type": request_type,
        "generated_at": ctx.now().isoformat(),
        "controller": {"name": ctx.config.controller_name, "contact": ctx.config.controller_contact},
        "stores": records,
        "categories": found_categories,
        "purposes": purposes,
        "recipients": [{"name": r["name"], "told_of": r["events"]} for r in list_recipients(ctx)],
        "holds": holds,
        "retention": retention(ctx, records, found_categories, events, purposes),
        "consent_history": json.loads(json.dumps(events, default=str)),
    }
    if request_type == "portability":
        doc["rule"] = "declared fields only, without categories user.derived.* and user.behavior.*"
    return json.dumps(doc, indent=2, default=str), to_csv(records), to_html(ctx, doc, connectors)


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
