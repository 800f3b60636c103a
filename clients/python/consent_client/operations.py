"""The service operations this client calls, as one table.

Each entry names the HTTP method and path (as in the service's OpenAPI document), the query
parameters and the body fields the client may send. A test of the repository checks the table
against the OpenAPI document of the running service, so the client and the API cannot drift
apart unnoticed: an operation, parameter or field that the service does not know fails it, and
so does a field the service requires that the client cannot send.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI template, e.g. "/v1/segments/{purpose}"
    query: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    safe: bool = False  # changes nothing on the service, so it may be sent again on 429 or 503


SUBJECT = ("subject", "subject_id")

OPERATIONS: dict[str, Operation] = {
    "record_consent": Operation(
        "POST",
        "/v1/consents",
        body=(
            *SUBJECT,
            "decisions",
            "channel",
            "method",
            "collection_point",
            "language",
            "jurisdiction",
            "proof",
        ),
    ),
    "decide": Operation("POST", "/v1/decisions", body=(*SUBJECT, "purpose", "cookie"), safe=True),
    "decide_batch": Operation("POST", "/v1/decisions/batch", body=("purpose", "subjects"), safe=True),
    "events": Operation("GET", "/v1/events", query=("after", "limit", "purpose", "subject_id"), safe=True),
    "segment": Operation(
        "GET", "/v1/segments/{purpose}", query=("cursor", "limit", "identity", "unsubscribe_links"), safe=True
    ),
    "suppressions": Operation("GET", "/v1/suppressions/{purpose}", query=("format",), safe=True),
    "receipt": Operation("GET", "/v1/receipts/{event_id}", safe=True),
}
