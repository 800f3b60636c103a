"""``/v1/ledger``: verification of the hash chain and signed checkpoints, for auditors."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.ledger import PublicKeyOut, SignedOut, VerificationOut, VerifyOut
from consent_service.ledger import audit, verification

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
