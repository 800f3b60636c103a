"""``POST /v1/consents``: record consent decisions from forms, CRMs and other API clients."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.consents import ConsentIn, ConsentOut
from consent_service.ledger import queries
from consent_service.ledger import service as ledger
from consent_service.optin import service as optin
from consent_service.subjects.service import IdentityRef

blp = Blueprint("consents", __name__, url_prefix="/v1/consents", description="Consent decisions")


def decision_inputs(items: list[dict[str, Any]]) -> list[ledger.DecisionInput]:
    return [
        ledger.DecisionInput("purpose", d["purpose"], d["granted"])
        if "purpose" in d
        else ledger.DecisionInput("cookie", d["cookie"], d["granted"])
        for d in items
    ]


event_out = queries.event_view


@blp.route("")
class Consents(MethodView):
    @require("consent:write")
    @blp.arguments(ConsentIn)
    @blp.response(201, ConsentOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record decisions for one subject; all land together or none do."""
        who = principal()
        subject = body.get("subject")
        result = optin.record_consent(
            ctx(),
            ledger.RecordConsent(
                decisions=decision_inputs(body["decisions"]),
                channel=body["channel"],
                method=body["method"],
                actor_type=who.kind,
                actor_id=who.id,
                subject=IdentityRef(subject["type"], subject["value"]) if subject else None,
                subject_id=body.get("subject_id"),
                collection_point=body.get("collection_point"),
                language=body.get("language"),
                jurisdiction=body.get("jurisdiction"),
                proof=body.get("proof") or {},
            ),
        )
        return {
            "subject_id": result.subject_id,
            "subject_created": result.subject_created,
            "events": [event_out(r) for r in result.events],
            "receipt": result.receipt,
        }
