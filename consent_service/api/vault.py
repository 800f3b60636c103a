"""``/v1/vault``: vault tokens for other systems' copies of personal data, and the access log."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.common import FeedQuery
from consent_service.api.schemas.ledger import VerifyOut
from consent_service.api.schemas.vault import (
    AccessLogOut,
    VaultBatchIn,
    VaultDecryptIn,
    VaultEncryptIn,
    VaultTokenOut,
    VaultTokensOut,
    VaultValueOut,
)
from consent_service.subjects.service import IdentityRef
from consent_service.vault import service as vault

blp = Blueprint("vault", __name__, url_prefix="/v1/vault", description="Privacy vault")


def _item(body: dict[str, Any]) -> vault.EncryptItem:
    subject = body.get("subject")
    return vault.EncryptItem(
        field=body["field"],
        value=body["value"],
        subject_id=body.get("subject_id"),
        subject=IdentityRef(subject["type"], subject["value"]) if subject else None,
    )


@blp.route("/encrypt")
class Encrypt(MethodView):
    @require("vault:encrypt")
    @blp.arguments(VaultEncryptIn)
    @blp.response(200, VaultTokenOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Seal one value under its subject's key and return a vault token."""
        return {"token": vault.encrypt(ctx(), [_item(body)])[0]}


@blp.route("/encrypt/batch")
class EncryptBatch(MethodView):
    @require("vault:encrypt")
    @blp.arguments(VaultBatchIn)
    @blp.response(200, VaultTokensOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Seal up to 1,000 values; tokens come back in the same order."""
        return {"tokens": vault.encrypt(ctx(), [_item(item) for item in body["items"]])}


@blp.route("/decrypt")
class Decrypt(MethodView):
    @require("vault:decrypt")
    @blp.arguments(VaultDecryptIn)
    @blp.response(200, VaultValueOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Open a token if the gate allows the purpose (403 with its reason; 410 once erased)."""
        return vault.decrypt(ctx(), body["token"], body["purpose"], client_id=principal().id)


@blp.route("/access-log")
class AccessLog(MethodView):
    @require("ledger:audit")
    @blp.arguments(FeedQuery, location="query")
    @blp.response(200, AccessLogOut)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Every decrypt attempt (client, purpose, field, outcome; never the value)."""
        return vault.access_log(ctx(), after=query["after"], limit=query["limit"])


@blp.route("/access-log/verify")
class AccessLogVerify(MethodView):
    @require("ledger:audit")
    @blp.response(200, VerifyOut)
    def get(self) -> dict[str, Any]:
        """Verify the access log's hash chain."""
        return vault.verify_access_log(ctx())
