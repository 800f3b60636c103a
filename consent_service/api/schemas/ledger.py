"""Schemas of ``/v1/ledger``: verification, checkpoints and the public key."""

from __future__ import annotations

from marshmallow import fields

from consent_service.api.schemas.common import StrictSchema


class VerifyOut(StrictSchema):
    ok = fields.Bool()
    events_checked = fields.Int()
    head_seq = fields.Int()
    head_hash = fields.Str()
    first_bad_seq = fields.Int(allow_none=True)
    problem = fields.Str(allow_none=True)
    checkpoints_checked = fields.Int()


class SignedOut(StrictSchema):
    payload = fields.Dict()
    signature = fields.Dict()


class PublicKeyOut(StrictSchema):
    key_id = fields.Str()
    algorithm = fields.Str()
    public_key = fields.Str(metadata={"description": "raw Ed25519 key, base64"})
    public_key_pem = fields.Str()


class VerificationOut(StrictSchema):
    id = fields.Str()
    state = fields.Str(metadata={"description": "queued, running, completed, failed or interrupted"})
    started_by = fields.Str()
    started_at = fields.DateTime()
    heartbeat_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    total = fields.Int(
        metadata={"description": "events in the ledger (when it began; at the end, when it ended)"}
    )
    checked = fields.Int(metadata={"description": "events checked so far"})
    percent = fields.Int()
    ok = fields.Bool(allow_none=True, metadata={"description": "null until it has completed"})
    first_bad_seq = fields.Int(allow_none=True)
    problem = fields.Str(allow_none=True)
    report = fields.Dict(
        metadata={"description": "the full report once completed (as GET /v1/ledger/verify)"}
    )
    error = fields.Str(allow_none=True)
