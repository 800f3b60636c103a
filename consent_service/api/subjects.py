"""``/v1/subjects``: resolve identities, current consents, history with proof, linking."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.decisions import subject_ref
from consent_service.api.schemas.common import IdentityIn
from consent_service.api.schemas.subjects import (
    HistoryOut,
    LinkIn,
    LinkOut,
    ShredOut,
    SubjectConsentsOut,
    SubjectIdOut,
)
from consent_service.erasure.shred import shred_subject
from consent_service.errors import UnknownSubject
from consent_service.ledger import queries
from consent_service.ledger import service as ledger
from consent_service.subjects.service import IdentityRef

blp = Blueprint("subjects", __name__, url_prefix="/v1/subjects", description="Subjects")


@blp.route("/resolve")
class Resolve(MethodView):
    @require("consent:read")
    @blp.arguments(IdentityIn)
    @blp.response(200, SubjectIdOut)
    def post(self, identity: dict[str, Any]) -> dict[str, Any]:
        """Find the subject an identity belongs to (404 if none)."""
        subject_id = queries.resolve_subject(ctx(), IdentityRef(identity["type"], identity["value"]))
        if subject_id is None:
            raise UnknownSubject("no subject has this identity")
        return {"subject_id": subject_id}


@blp.route("/<subject_id>/consents")
class SubjectConsents(MethodView):
    @require("consent:read")
    @blp.response(200, SubjectConsentsOut)
    def get(self, subject_id: str) -> dict[str, Any]:
        """Current decision per purpose and cookie (across linked subjects)."""
        return queries.current_consents(ctx(), subject_id)


@blp.route("/<subject_id>/history")
class SubjectHistory(MethodView):
    @require("consent:read")
    @blp.response(200, HistoryOut)
    def get(self, subject_id: str) -> dict[str, Any]:
        """Every ledger event of the subject (and linked subjects) with decrypted proof."""
        return queries.history(ctx(), subject_id)


def _subject_id(ref: dict[str, Any]) -> str:
    found = subject_ref(ref)
    if isinstance(found, str):
        return found
    subject_id = queries.resolve_subject(ctx(), found)
    if subject_id is None:
        raise UnknownSubject(f"no subject has the {found.type} given")
    return subject_id


@blp.route("/<subject_id>/shred")
class Shred(MethodView):
    @require("admin")
    @blp.response(200, ShredOut)
    def post(self, subject_id: str) -> dict[str, Any]:
        """Destroy the data keys of the subject (and linked subjects): crypto-shredding."""
        who = principal()
        return shred_subject(ctx(), subject_id, actor_type=who.kind, actor_id=who.id)


@blp.route("/link")
class Link(MethodView):
    @require("consent:write")
    @blp.arguments(LinkIn)
    @blp.response(200, LinkOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Link a subject (e.g. a device) to another (e.g. a customer); histories stay intact."""
        who = principal()
        return ledger.link_subjects(
            ctx(), _subject_id(body["from_"]), _subject_id(body["to"]), actor_type=who.kind, actor_id=who.id
        )
