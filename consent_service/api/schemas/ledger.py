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
