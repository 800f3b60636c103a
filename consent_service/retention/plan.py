"""Planning a retention run: which (rule, store, collection) steps it takes, and what it leaves
out and why (stores that are not swept, collections without the fields a rule needs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consent_service.retention.rules import FIELD_TRIGGERS, Rule, category_matches, purpose_categories
from consent_service.stores.spec import CollectionSpec, StoreSpec

SWEPT_TYPES = ("sql", "redis")


@dataclass
class Target:
    """One rule applied to one collection of one store."""

    rule: Rule
    store: str
    collection: str
    actions: dict[str, str]

    def entry(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "rule": self.rule.key,
            "version": self.rule.version,
            "store": self.store,
            "collection": self.collection,
            "trigger": dict(self.rule.trigger),
            "period": self.rule.period,
            "action": self.rule.action,
            "cutoff": self.rule.cutoff(now).isoformat(),
            "status": "done",
            "candidates": 0,
            "deleted": 0,
            "anonymised": 0,
            "shredded": 0,
            "held": 0,
            "errors": [],
            "batches": 0,
            "longest_transaction_ms": 0.0,
        }


def _field_filter(session: Any, rule: Rule) -> Callable[[str], bool] | None:
    """Which field categories a rule reaches; None when it is scoped to stores/collections only."""
    category = rule.applies_to.get("category")
    purpose = rule.applies_to.get("purpose")
    if not category and not purpose:
        return None
    reached = purpose_categories(session, purpose) if purpose else []

    def matches(field_category: str) -> bool:
        if category and not category_matches(category, field_category):
            return False
        return not purpose or any(category_matches(c, field_category) for c in reached)

    return matches


def _anonymise_actions(coll: CollectionSpec, reaches: Callable[[str], bool] | None) -> dict[str, str]:
    """The fields' erase actions (``delete`` of a field becomes ``nullify``: the record stays)."""
    out = {}
    for name, spec in coll.fields.items():
        if reaches is not None and not reaches(spec.category):
            continue
        if spec.erase in ("nullify", "mask", "hash"):
            out[name] = spec.erase
        elif spec.erase == "delete":
            out[name] = "nullify"
    return out


def plan(
    session: Any, rules: list[Rule], specs: dict[str, StoreSpec], only_store: str | None = None
) -> tuple[list[Target], list[dict[str, Any]]]:
    """The (rule, store, collection) steps of a run, and what was left out and why."""
    targets: list[Target] = []
    skipped: list[dict[str, Any]] = []
    for rule in rules:
        scope = rule.applies_to
        if rule.action == "crypto_shred" and rule.trigger_type == "consent_ended":
            if not only_store:
                targets.append(Target(rule, "", "", {}))
            continue
        reaches = _field_filter(session, rule)
        reached_any = False
        for key in sorted(specs):
            spec = specs[key]
            if (scope.get("store") and scope["store"] != key) or (only_store and only_store != key):
                continue
            if spec.type not in SWEPT_TYPES:
                if scope.get("store") == key:
                    skipped.append(
                        {"rule": rule.key, "store": key, "reason": f"{spec.type} stores are not swept"}
                    )
                continue
            for name, coll in spec.collections.items():
                if scope.get("collection") and scope["collection"] != name:
                    continue
                if reaches is not None and not any(reaches(f.category) for f in coll.fields.values()):
                    continue
                reached_any = True
                why = None
                actions: dict[str, str] = {"*": "delete"}
                if rule.action == "anonymise":
                    actions = _anonymise_actions(coll, reaches)
                    if not actions:
                        why = "no field of it has an erase action (nullify, mask, hash) to anonymise with"
                elif (
                    rule.action == "crypto_shred"
                    and rule.trigger_type in FIELD_TRIGGERS
                    and not coll.identities
                ):
                    why = "crypto_shred needs the record's identities to find its subject; it declares none"
                if why:
                    skipped.append({"rule": rule.key, "store": key, "collection": name, "reason": why})
                else:
                    targets.append(Target(rule, key, name, actions))
        if not reached_any and not (only_store and scope.get("store") not in (None, only_store)):
            skipped.append(
                {"rule": rule.key, "reason": "no registered collection holds the data it applies to"}
            )
    return targets, skipped
