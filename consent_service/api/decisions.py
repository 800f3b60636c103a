"""``/v1/decisions``: the processing gate. A deny is a 200 with ``allowed: false`` and a reason."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError

from consent_service.api.auth import ctx, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.decisions import BatchOut, BatchQuery, DecisionOut, DecisionQuery
from consent_service.ledger import queries
from consent_service.ledger.gate import CookieDecision, Decision
from consent_service.stores.spec import KEY_RE
from consent_service.subjects.identity_types import KEY_PATTERN
from consent_service.subjects.service import IdentityRef

blp = Blueprint("decisions", __name__, url_prefix="/v1/decisions", description="Processing gate")


def subject_ref(body: dict[str, Any]) -> queries.SubjectRef:
    if "subject_id" in body:
        return body["subject_id"]
    return IdentityRef(body["subject"]["type"], body["subject"]["value"])


_KEY = KEY_RE
_IDENTITY_TYPE = KEY_PATTERN


def _quick_query(body: Any) -> dict[str, Any] | None:
    """The decision query when it is plainly valid, else None (the schema then explains why)."""
    if not isinstance(body, dict) or len(body) != 2:
        return None
    purpose, cookie = body.get("purpose"), body.get("cookie")
    if isinstance(purpose, str):
        if not _KEY.match(purpose):
            return None
    elif not isinstance(cookie, str) or not 0 < len(cookie) <= 128:
        return None
    subject_id = body.get("subject_id")
    if isinstance(subject_id, str) and 0 < len(subject_id) <= 40:
        return body
    subject = body.get("subject")
    if (
        isinstance(subject, dict)
        and len(subject) == 2
        and isinstance(subject.get("type"), str)
        and _IDENTITY_TYPE.fullmatch(subject["type"]) is not None
        and isinstance(subject.get("value"), str)
        and 0 < len(subject["value"]) <= 320
    ):
        return body
    return None


@blp.route("")
class Decisions(MethodView):
    @require("decisions:read")
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": DecisionQuery}}})
    @blp.response(200, DecisionOut)
    def post(self) -> Response:
        """Tell whether a subject may be processed for a purpose, or a cookie used, and why."""
        # The gate sits in other systems' hot paths: a plainly valid body is checked by hand and
        # the answer written directly; anything else goes through the schema for its 4xx.
        body = request.get_json(silent=True) if request.is_json else None
        query: dict[str, Any] | None = _quick_query(body)
        if query is None:
            if request.is_json and request.get_json(silent=True) is None and request.get_data():
                abort(400, messages={"json": ["Invalid JSON body."]})
            try:
                query = DecisionQuery().load(body if body is not None else {})
            except ValidationError as exc:
                abort(422, messages={"json": exc.messages})
        assert query is not None
        decision: Decision | CookieDecision
        if "cookie" in query:
            decision = queries.decide_cookie(ctx(), subject_ref(query), query["cookie"])
        else:
            decision = queries.decide_one(ctx(), subject_ref(query), query["purpose"])
        answer = decision._asdict()
        if decision.valid_until is not None:
            answer["valid_until"] = decision.valid_until.isoformat()
        return Response(json.dumps(answer, separators=(",", ":")), status=200, mimetype="application/json")


@blp.route("/batch")
class DecisionBatch(MethodView):
    @require("decisions:read")
    @blp.arguments(BatchQuery)
    @blp.response(200, BatchOut)
    def post(self, query: dict[str, Any]) -> Response:
        """Answer the gate for up to 10,000 subjects of one purpose, in request order."""
        refs: list[queries.SubjectRef] = [
            s if isinstance(s, str) else IdentityRef(s["type"], s["value"]) for s in query["subjects"]
        ]
        decisions = queries.decide_batch(ctx(), query["purpose"], refs)
        # Serialised by hand: a 10,000-item marshmallow dump would cost more than the answers.
        # Every interpolated value is a fixed word, a UUID or an ISO timestamp: nothing to escape.
        heads: dict[tuple[bool, str, str], str] = {}
        parts = []
        for d in decisions:
            head = heads.get((d.allowed, d.reason, d.legal_basis))
            if head is None:
                head = heads[(d.allowed, d.reason, d.legal_basis)] = json.dumps(
                    {"allowed": d.allowed, "reason": d.reason, "legal_basis": d.legal_basis},
                    separators=(",", ":"),
                )[:-1]
            event_id = f'"{d.event_id}"' if d.event_id else "null"
            valid_until = f'"{d.valid_until.isoformat()}"' if d.valid_until else "null"
            parts.append(f'{head},"event_id":{event_id},"valid_until":{valid_until}}}')
        body = '{"purpose":' + json.dumps(query["purpose"]) + ',"results":[' + ",".join(parts) + "]}"
        return Response(body, status=200, mimetype="application/json")


BATCH_ENDPOINTS = frozenset({"decisions.DecisionBatch", "vault.EncryptBatch"})


def allow_large_batches(max_bytes: int) -> None:
    """Batch endpoints take bodies up to CONSENT_MAX_BATCH_BODY_BYTES; all others 64 KiB."""
    if request.endpoint in BATCH_ENDPOINTS:
        request.max_content_length = max_bytes
