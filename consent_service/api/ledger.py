"""``/v1/ledger``: verification of the hash chain and signed checkpoints, for auditors, and the
Merkle tree's checkpoint, verifier key and proofs (RFC 9162; C2SP checkpoint and signed note)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.ledger import (
    ConsistencyOut,
    ConsistencyQuery,
    InclusionOut,
    InclusionQuery,
    PublicKeyOut,
    SignedOut,
    VerificationOut,
    VerifyOut,
)
from consent_service.ledger import audit, tree, verification

blp = Blueprint("ledger", __name__, url_prefix="/v1/ledger", description="Ledger audit")


@blp.route("/verify")
class Verify(MethodView):
    @require("ledger:audit")
    @blp.response(200, VerifyOut)
    def get(self) -> dict[str, Any]:
        """Walk the whole chain; ``ok: false`` names the first bad sequence number."""
        return audit.verify(ctx()).as_dict()


@blp.route("/verifications")
class Verifications(MethodView):
    @require("ledger:audit")
    @blp.response(202, VerificationOut)
    def post(self) -> dict[str, Any]:
        """Start a verification of the whole ledger in the background (the running one if any)."""
        return verification.start(ctx(), started_by=principal().id)


@blp.route("/verifications/<verification_id>")
class VerificationById(MethodView):
    @require("ledger:audit")
    @blp.response(200, VerificationOut)
    def get(self, verification_id: str) -> dict[str, Any]:
        """A verification's progress (events checked of total) and, once completed, its result."""
        return verification.get(ctx(), verification_id)


@blp.route("/checkpoints/latest")
class LatestCheckpoint(MethodView):
    @require("ledger:audit")
    @blp.response(200, SignedOut)
    def get(self) -> dict[str, Any]:
        """A signed checkpoint of the current head (recorded for later verification)."""
        return audit.latest_checkpoint(ctx())


@blp.route("/public-key")
class PublicKey(MethodView):
    @blp.doc(security=[])
    @blp.response(200, PublicKeyOut)
    def get(self) -> dict[str, Any]:
        """The Ed25519 key that signs checkpoints and receipts (no auth)."""
        signer = ctx().signer
        return {
            "key_id": signer.key_id,
            "algorithm": "Ed25519",
            "public_key": signer.public_key_b64,
            "public_key_pem": signer.public_key_pem(),
        }


def _text(body: str) -> Response:
    return Response(body, mimetype="text/plain")


TEXT_DOC = {
    "responses": {"200": {"description": "text", "content": {"text/plain": {"schema": {"type": "string"}}}}}
}


@blp.route("/checkpoint")
class TreeCheckpoint(MethodView):
    @blp.doc(security=[], **TEXT_DOC)
    def get(self) -> Response:
        """The latest checkpoint of the Merkle tree: c2sp.org/tlog-checkpoint in a signed note (no auth)."""
        return _text(tree.latest_checkpoint(ctx()))


@blp.route("/key")
class TreeKey(MethodView):
    @blp.doc(security=[], **TEXT_DOC)
    def get(self) -> Response:
        """The verifier key of the checkpoints in the c2sp.org/signed-note format (no auth)."""
        return _text(tree.verifier_key(ctx()) + "\n")


@blp.route("/proofs/inclusion")
class InclusionProof(MethodView):
    @blp.doc(security=[])
    @blp.arguments(InclusionQuery, location="query")
    @blp.response(200, InclusionOut)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The RFC 9162 audit path of one event (by ``seq`` or ``event`` id) in the tree of ``size``
        leaves (no auth: hashes only, as a transparency log gives them to anyone)."""
        seq = query["seq"] if query["seq"] is not None else tree.event_seq(ctx(), query["event"])
        return tree.inclusion(ctx(), seq, query["size"])


@blp.route("/proofs/consistency")
class ConsistencyProof(MethodView):
    @blp.doc(security=[])
    @blp.arguments(ConsistencyQuery, location="query")
    @blp.response(200, ConsistencyOut)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The RFC 9162 consistency proof between the trees of ``from`` and ``to`` leaves (no auth:
        a receipt's holder shows with it that the log was not rewritten since)."""
        return tree.consistency(ctx(), query["from_"], query["to"])
