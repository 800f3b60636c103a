"""Retention rules: how long data in the registered stores is kept, and what happens after.

A rule applies to a purpose, a data category and/or a store collection (``applies_to``; every
key given narrows it further), has a ``period`` (ISO 8601 duration), a ``trigger`` that says
from when the period runs, and an ``action``:

- triggers: ``since_field`` (a timestamp field of the record, e.g. ``created_at``),
  ``last_activity`` (a declared last-activity field), ``contract_end`` (a declared contract-end
  field; records whose field is empty are under contract and never due), ``consent_ended``
  (the subject's consent for a purpose was withdrawn, denied or expired that long ago);
- actions: ``delete`` (the record), ``anonymise`` (the fields' erase actions from the store
  description: nullify, mask or hash; a field whose erase action is ``delete`` is nullified),
  ``crypto_shred`` (destroy the subject's data key: every value sealed under it, here or in a
  store holding vault tokens, becomes unreadable).

Rules are versioned like purposes: a changed rule gets a new version (earlier ones are kept and
shown); putting the same content again changes nothing. Retiring a rule keeps its versions.
Each function runs in the caller's unit of work and does not commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.durations import DurationError, parse_duration
from consent_service.errors import InvalidInput, NotFound, refused
from consent_service.hashing import content_hash
from consent_service.registry import taxonomy
from consent_service.registry.models import Purpose, PurposeVersion
from consent_service.retention.models import RetentionRule, RetentionRuleVersion
from consent_service.stores.models import DataStore
from consent_service.stores.spec import KEY_RE, NAME_RE

TRIGGERS = ("since_field", "last_activity", "contract_end", "consent_ended")
FIELD_TRIGGERS = ("since_field", "last_activity", "contract_end")
ACTIONS = ("delete", "anonymise", "crypto_shred")
SCOPE_KEYS = ("purpose", "category", "store", "collection")
RULE_KEYS = {"description", "applies_to", "period", "trigger", "action"}
TRIGGER_WORDS = {
    "since_field": "after the record's {field}",
    "last_activity": "after the last activity ({field})",
    "contract_end": "after the end of the contract ({field})",
    "consent_ended": "after consent to {purpose} ended (withdrawn, refused or expired)",
}
ACTION_WORDS = {"delete": "deleted", "anonymise": "anonymised", "crypto_shred": "made unreadable"}


@dataclass(frozen=True)
class Rule:
    """The current version of an active rule, ready to apply."""

    key: str
    version: int
    description: str
    applies_to: dict[str, str]
    period: str
    trigger: dict[str, str]
    action: str

    @property
    def trigger_type(self) -> str:
        return self.trigger["type"]

    @property
    def trigger_field(self) -> str | None:
        return self.trigger.get("field")

    @property
    def consent_purpose(self) -> str | None:
        return self.trigger.get("purpose") or self.applies_to.get("purpose")

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        """Records whose trigger time is at or before this are due."""
        return now - parse_duration(self.period)

    def sentence(self) -> str:
        """The rule in words, for access reports and records of processing."""
        when = TRIGGER_WORDS[self.trigger_type].format(field=self.trigger_field, purpose=self.consent_purpose)
        return f"{self.period} {when}, then {ACTION_WORDS[self.action]}"


def _errors() -> dict[str, list[str]]:
    return {}


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """The canonical form of a rule document (what is hashed and stored)."""
    trigger = {k: v for k, v in sorted(doc["trigger"].items()) if v is not None}
    applies = {k: doc["applies_to"][k] for k in SCOPE_KEYS if doc["applies_to"].get(k)}
    return {
        "description": doc.get("description", ""),
        "applies_to": applies,
        "period": doc["period"],
        "trigger": trigger,
        "action": doc["action"],
    }


def validate(session: Session, key: str, doc: Any) -> dict[str, Any]:
    """Check a rule document against the registry and the stores; InvalidInput names every problem."""
    errors = _errors()
    references: set[tuple[str, str]] = set()

    def add(path: str, message: str, *, reference: bool = False) -> None:
        errors.setdefault(path, []).append(message)
        if reference:
            references.add((path, message))

    if not KEY_RE.match(key):
        add("key", "use 1-64 of a-z, 0-9, '_', '.', '-'")
    if not isinstance(doc, dict):
        raise InvalidInput("a retention rule is an object", errors={"rule": ["must be an object"]})
    for extra in sorted(set(doc) - RULE_KEYS):
        add(extra, "unknown key")
    description = doc.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        add("description", "a text of at most 2000 characters")
    applies = doc.get("applies_to")
    if not isinstance(applies, dict):
        applies = {}
    if not any(applies.get(k) for k in SCOPE_KEYS):
        add("applies_to", f"name at least one of {', '.join(SCOPE_KEYS)}")
    for extra in sorted(set(applies) - set(SCOPE_KEYS)):
        add(f"applies_to.{extra}", "unknown key")
    for name in SCOPE_KEYS:
        if name in applies and not isinstance(applies[name], str):
            add(f"applies_to.{name}", "must be a string")
    period = doc.get("period")
    try:
        parse_duration(period if isinstance(period, str) else "")
    except DurationError as exc:
        add("period", str(exc))
    trigger = doc.get("trigger")
    if not isinstance(trigger, dict):
        trigger = {}
    if trigger.get("type") not in TRIGGERS:
        add("trigger.type", f"must be one of {', '.join(TRIGGERS)}")
    for extra in sorted(set(trigger) - {"type", "field", "purpose"}):
        add(f"trigger.{extra}", "unknown key")
    for name in ("field", "purpose"):
        if name in trigger and not isinstance(trigger[name], str):
            add(f"trigger.{name}", "must be a string")
    action = doc.get("action")
    if action not in ACTIONS:
        add("action", f"must be one of {', '.join(ACTIONS)}")
    # the registry checks below run on whatever is well-formed, so one answer names every problem
    applies = {k: v for k, v in applies.items() if k in SCOPE_KEYS and isinstance(v, str)}
    trigger = {k: v for k, v in trigger.items() if isinstance(v, str)}
    purpose = applies.get("purpose")
    if purpose and session.get(Purpose, purpose) is None:
        add("applies_to.purpose", f"no purpose {purpose!r} is registered", reference=True)
    category = applies.get("category")
    if category and category not in taxonomy.data_categories():
        add("applies_to.category", f"unknown data category {category!r}")
    store_key, collection = applies.get("store"), applies.get("collection")
    if collection and not store_key:
        add("applies_to.collection", "name the store of the collection too")
    if store_key:
        store = session.get(DataStore, store_key)
        if store is None:
            add("applies_to.store", f"no store {store_key!r} is registered", reference=True)
        elif store.type not in ("sql", "redis"):
            add(
                "applies_to.store",
                f"{store_key!r} is a {store.type} store: the sweeper works on sql and redis stores; "
                "a remote service or a manual archive applies its own retention",
            )
        elif collection and collection not in store.spec["collections"]:
            add(
                "applies_to.collection",
                f"store {store_key!r} has no collection {collection!r}",
                reference=True,
            )
    kind = trigger.get("type")
    if kind in FIELD_TRIGGERS:
        field = trigger.get("field")
        if "trigger.field" not in errors and (not isinstance(field, str) or not NAME_RE.match(field)):
            add("trigger.field", f"{kind} needs the name of the record's timestamp field")
        if "purpose" in trigger:
            add("trigger.purpose", f"only consent_ended names a purpose; {kind} uses a field")
    elif kind == "consent_ended":
        if "field" in trigger:
            add("trigger.field", "consent_ended runs from the consent's end, not from a field")
        named = trigger.get("purpose") or purpose
        if not named:
            add("trigger.purpose", "name the purpose whose consent ending starts the period")
        elif session.get(Purpose, named) is None:
            add("trigger.purpose", f"no purpose {named!r} is registered", reference=True)
    if errors:
        raise refused(f"retention rule {key!r} is not valid", errors, references)
    return normalise(doc)


def put_rule(
    session: Session, key: str, doc: dict[str, Any], actor: str, now: dt.datetime
) -> tuple[dict[str, Any], str]:
    """Create, change or reactivate a rule; returns its view and what happened.

    The outcome is "created" (version 1), "new_version" (the content changed), "reactivated"
    (a retired rule put again with its current content: active again, same version) or
    "unchanged" (an active rule put with its current content: nothing written).
    """
    rule = validate(session, key, doc)
    digest = content_hash(rule)
    head = session.get(RetentionRule, key, with_for_update=session.get_bind().dialect.name != "sqlite")
    if head is None:
        head = RetentionRule(key=key, current_version=0, current_hash="", active=True, created_at=now)
        session.add(head)
        outcome = "created"
    elif head.current_hash == digest and head.active:
        return rule_view(session, head), "unchanged"
    else:
        outcome = "new_version" if head.current_hash != digest else "reactivated"
    if head.current_hash != digest:
        version = RetentionRuleVersion(
            rule_key=key,
            version=head.current_version + 1,
            content_hash=digest,
            rule=rule,
            created_at=now,
            created_by=actor,
        )
        session.add(version)
        head.current_version, head.current_hash = version.version, digest
    head.active = True
    head.updated_at = now
    session.flush()
    return rule_view(session, head), outcome


def retire_rule(session: Session, key: str, now: dt.datetime) -> None:
    head = _head(session, key)
    head.active = False
    head.updated_at = now


def _head(session: Session, key: str) -> RetentionRule:
    head = session.get(RetentionRule, key)
    if head is None:
        raise NotFound(f"no retention rule {key!r}")
    return head


def rule_view(session: Session, head: RetentionRule, *, versions: bool = False) -> dict[str, Any]:
    current = session.get(RetentionRuleVersion, (head.key, head.current_version))
    assert current is not None, "a rule always has its current version"
    out: dict[str, Any] = {
        "key": head.key,
        "version": head.current_version,
        "active": head.active,
        **current.rule,
        "in_words": as_rule(head.key, current).sentence(),
        "created_at": head.created_at,
        "updated_at": head.updated_at,
    }
    if versions:
        rows = session.scalars(
            select(RetentionRuleVersion)
            .where(RetentionRuleVersion.rule_key == head.key)
            .order_by(RetentionRuleVersion.version)
        )
        out["versions"] = [
            {
                "version": r.version,
                "content_hash": r.content_hash,
                "created_at": r.created_at,
                "created_by": r.created_by,
                **r.rule,
            }
            for r in rows
        ]
    return out


def get_rule(session: Session, key: str) -> dict[str, Any]:
    return rule_view(session, _head(session, key), versions=True)


def list_rules(session: Session, *, include_retired: bool = False) -> list[dict[str, Any]]:
    query = select(RetentionRule).order_by(RetentionRule.key)
    if not include_retired:
        query = query.where(RetentionRule.active.is_(True))
    return [rule_view(session, head) for head in session.scalars(query)]


def as_rule(key: str, version: RetentionRuleVersion) -> Rule:
    doc = version.rule
    return Rule(
        key=key,
        version=version.version,
        description=doc.get("description", ""),
        applies_to=dict(doc["applies_to"]),
        period=doc["period"],
        trigger=dict(doc["trigger"]),
        action=doc["action"],
    )


def active_rules(session: Session) -> list[Rule]:
    """The current version of every active rule, by key."""
    rows = session.execute(
        select(RetentionRule.key, RetentionRuleVersion)
        .join(
            RetentionRuleVersion,
            (RetentionRuleVersion.rule_key == RetentionRule.key)
            & (RetentionRuleVersion.version == RetentionRule.current_version),
        )
        .where(RetentionRule.active.is_(True))
        .order_by(RetentionRule.key)
    )
    return [as_rule(key, version) for key, version in rows]


def category_matches(rule_category: str, field_category: str) -> bool:
    """A rule on ``user.contact`` covers ``user.contact.email``; the reverse does not hold."""
    return field_category == rule_category or field_category.startswith(rule_category + ".")


def purpose_categories(session: Session, purpose_key: str) -> list[str]:
    row = session.execute(
        select(PurposeVersion.data_categories)
        .join(Purpose, (Purpose.key == PurposeVersion.purpose_key))
        .where(Purpose.key == purpose_key, PurposeVersion.version == Purpose.current_version)
    ).first()
    return list(row[0]) if row else []


def applicable(
    rules: Iterable[Rule],
    *,
    purposes: Iterable[str] = (),
    categories: Iterable[str] = (),
    collections: Iterable[tuple[str, str]] = (),
) -> list[Rule]:
    """The rules that concern any of the given purposes, data categories or (store, collection)s.

    Used by access reports (Art. 15(1)(d)) and the records of processing: a rule concerns a
    purpose it names (in ``applies_to`` or its trigger), a category it covers, or a collection
    of a store it is scoped to.
    """
    purposes, categories, collections = set(purposes), set(categories), set(collections)
    out = []
    for rule in rules:
        scope = rule.applies_to
        if rule.consent_purpose in purposes or scope.get("purpose") in purposes:
            out.append(rule)
        elif scope.get("category") and any(category_matches(scope["category"], c) for c in categories):
            out.append(rule)
        elif scope.get("store") and any(
            s == scope["store"] and scope.get("collection") in (None, c) for s, c in collections
        ):
            out.append(rule)
    return out
