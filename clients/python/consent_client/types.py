"""The shapes the service answers with, as typed dictionaries (fields as in the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class Subject(TypedDict):
    """An identity: ``{"type": "email", "value": "anna@example.org"}``."""

    type: str
    value: str


class DecisionIn(TypedDict, total=False):
    """One decision to record: exactly one of ``purpose`` or ``cookie``, and ``granted``."""

    purpose: str
    cookie: str
    granted: bool


class Event(TypedDict):
    id: str
    seq: int
    kind: str
    subject_id: str
    related_subject_id: str | None
    purpose: str | None
    cookie: str | None
    decision: str | None
    purpose_version: int | None
    purpose_hash: str | None
    channel: str | None
    method: str | None
    collection_point: str | None
    language: str | None
    jurisdiction: str | None
    recorded_at: str
    valid_until: str | None
    actor_type: str
    actor_id: str
    hash: str
    related_event_id: NotRequired[str | None]
    recorded_at_source: NotRequired[str | None]
    source: NotRequired[str | None]
    identity_types: NotRequired[list[str]]


class Recorded(TypedDict):
    subject_id: str
    subject_created: bool
    events: list[Event]
    receipt: dict[str, Any]


class Decision(TypedDict):
    allowed: bool
    reason: str
    legal_basis: str
    event_id: str | None
    valid_until: str | None
    cookie: NotRequired[str]
    purpose: NotRequired[str]
    decided_by: NotRequired[Literal["cookie", "purpose"]]


class BatchDecision(TypedDict):
    purpose: str
    results: list[Decision]


class FeedPage(TypedDict):
    events: list[Event]
    next_after: int
    has_more: bool


class UnsubscribeLink(TypedDict):
    url: str
    headers: dict[str, str]  # List-Unsubscribe and List-Unsubscribe-Post, to add to the e-mail


class SegmentMember(TypedDict):
    subject_id: str
    identity: str | None
    decided_at: str | None
    unsubscribe: NotRequired[UnsubscribeLink]  # with unsubscribe_links=True


class SegmentPage(TypedDict):
    items: list[SegmentMember]
    next_cursor: str | None
    feed_after: int
