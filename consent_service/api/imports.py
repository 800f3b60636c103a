"""``POST /v1/imports``: import a consent-log export of another platform (files up to
CONSENT_MAX_IMPORT_BYTES; larger ones with ``consent-service import consents``)."""

from __future__ import annotations

import io
from typing import Any

import yaml
from flask import request
from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.imports import ImportOut, ImportQuery
from consent_service.errors import InvalidInput
from consent_service.imports import mapping as mappings
from consent_service.imports import service as imports

blp = Blueprint("imports", __name__, url_prefix="/v1/imports", description="Imports from other platforms")

ENDPOINT = "imports.Imports"
_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "mapping": {"type": "string", "format": "binary", "description": "a mapping (YAML)"},
                },
            }
        },
        "text/csv": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},  # a JSON Lines file
    },
}


def allow_import_bodies(max_bytes: int) -> None:
    """The import endpoint takes files up to CONSENT_MAX_IMPORT_BYTES; all others their own limit."""
    if request.endpoint == ENDPOINT:
        request.max_content_length = max_bytes


def _upload() -> tuple[bytes, mappings.Mapping | None]:
    """The file's bytes, and the mapping uploaded with it (or None)."""
    if request.mimetype != "multipart/form-data":
        return request.get_data(cache=False), None
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("no file", errors={"file": ["send the export as the multipart part 'file'"]})
    own = request.files.get("mapping")
    if own is None:
        return upload.read(), None
    try:
        doc = yaml.safe_load(own.read().decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput("the mapping is not YAML", errors={"mapping": [str(exc)]}) from exc
    return upload.read(), mappings.parse("uploaded", doc)


@blp.route("")
class Imports(MethodView):
    @require("imports:write")
    @blp.arguments(ImportQuery, location="query")
    @blp.doc(requestBody=_BODY)
    @blp.response(200, ImportOut)
    def post(self, query: dict[str, Any]) -> dict[str, Any]:
        """Validate every row, then import; re-sending a file adds nothing; a bad row writes nothing."""
        data, own = _upload()
        who = principal()
        return imports.import_consents(
            ctx(),
            lambda: io.BytesIO(data),
            file_format=query["format"],
            mapping=own or mappings.load(query["mapping"]),
            actor_type=who.kind,
            actor_id=who.id,
        ).as_dict()
