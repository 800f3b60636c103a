"""``/v1/receipts``: a consent receipt again, at any later time, with its proof from the log."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.ledger import ReceiptOut
from consent_service.ledger import receipts

blp = Blueprint("receipts", __name__, url_prefix="/v1/receipts", description="Consent receipts")


@blp.route("/<event_id>")
class Receipt(MethodView):
    @blp.doc(security=[])
    @blp.response(200, ReceiptOut)
    def get(self, event_id: str) -> dict[str, Any]:
        """The receipt of the call that recorded consent event ``event_id``, re-issued, with the
        events' inclusion proofs against the log's latest checkpoint (no auth: the event id, a
        random UUID handed out with the receipt, is what a holder needs). The receipt's own id,
        ``rcpt_<id of its first event>``, is taken as well."""
        return receipts.receipt_of_event(ctx(), event_id.removeprefix("rcpt_")[:64])
