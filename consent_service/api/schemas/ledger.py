"""Schemas of ``/v1/ledger``: verification, checkpoints, the public key and the Merkle proofs."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

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


class InclusionQuery(StrictSchema):
    seq = fields.Int(
        load_default=None, validate=validate.Range(min=1), metadata={"description": "the event's seq"}
    )
    event = fields.Str(
        load_default=None, validate=validate.Length(min=1, max=36), metadata={"description": "or its id"}
    )
    size = fields.Int(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={"description": "the tree size to prove against (default: the tree's size now)"},
    )

    @validates_schema
    def one_of(self, data: dict[str, Any], **_: Any) -> None:
        if (data["seq"] is None) == (data["event"] is None):
            raise ValidationError("give either 'seq' or 'event'", field_name="seq")


class InclusionOut(StrictSchema):
    seq = fields.Int()
    leaf_index = fields.Int(metadata={"description": "seq - 1"})
    tree_size = fields.Int()
    leaf_hash = fields.Str(metadata={"description": "SHA-256(0x00 ‖ the event's canonical bytes), base64"})
    root_hash = fields.Str(metadata={"description": "the root of the tree of tree_size leaves, base64"})
    inclusion_path = fields.List(fields.Str(), metadata={"description": "RFC 9162 §2.1.3 audit path, base64"})
    checkpoint = fields.Str(
        allow_none=True,
        metadata={
            "description": "the signed checkpoint of tree_size, if the log signed one, with the witnesses' "
            "cosignature lines after the log's signature"
        },
    )
    witnessed = fields.Bool(
        metadata={
            "description": "at least CONSENT_LOG_WITNESS_QUORUM of the configured witnesses cosigned it"
        }
    )
    cosigners = fields.List(
        fields.Str(), metadata={"description": "the names of the configured witnesses that cosigned it"}
    )


class ConsistencyQuery(StrictSchema):
    from_ = fields.Int(data_key="from", required=True, validate=validate.Range(min=1))
    to = fields.Int(required=True, validate=validate.Range(min=1))


class ConsistencyOut(StrictSchema):
    from_ = fields.Int(data_key="from")
    to = fields.Int()
    old_root_hash = fields.Str()
    new_root_hash = fields.Str()
    consistency_path = fields.List(fields.Str(), metadata={"description": "RFC 9162 §2.1.4 proof, base64"})


class ReceiptLeafOut(StrictSchema):
    eventId = fields.Str()
    leafIndex = fields.Int(metadata={"description": "the event's seq - 1"})
    leaf = fields.Str(metadata={"description": "the event's canonical bytes (its Merkle leaf), base64"})
    inclusionPath = fields.List(fields.Str(), metadata={"description": "RFC 9162 audit path, base64"})


class ReceiptInclusionOut(StrictSchema):
    checkpoint = fields.Str(metadata={"description": "the log's latest checkpoint, a signed note"})
    treeSize = fields.Int()
    leaves = fields.List(fields.Nested(ReceiptLeafOut))


class ReceiptOut(StrictSchema):
    payload = fields.Dict(metadata={"description": "the receipt (Kantara Consent Receipt v1.1 fields)"})
    signature = fields.Dict(metadata={"description": "Ed25519 over the canonical JSON of the payload"})
    inclusion = fields.Nested(
        ReceiptInclusionOut,
        allow_none=True,
        metadata={
            "description": "the events' inclusion proofs against the latest checkpoint; null until they are in it"
        },
    )
