"""``POST /v1/imports``: an export uploaded as multipart or sent as the raw body is imported once;
a file over CONSENT_MAX_IMPORT_BYTES is a 413, a bad row a 422 naming it, with nothing written;
the endpoint needs the imports:write scope."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import text

from consent_service import create_app
from tests.api.helpers import assert_problem
from tests.integration.import_files import write_export

URL = "/v1/imports?format=csv&mapping=generic"


def _events(ctx) -> int:
    with ctx.db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()


@pytest.fixture
def export(tmp_path, ctx):
    return write_export(
        "generic", 200, tmp_path / "export.csv", ctx.now() - dt.timedelta(hours=1)
    ).read_bytes()


def test_a_multipart_upload_is_imported_once(client, ctx, demo, token, export) -> None:
    headers = {"Authorization": f"Bearer {token('imports:write')}"}
    before = _events(ctx)
    answered = client.post(URL, headers=headers, data={"file": (io.BytesIO(export), "export.csv")})
    assert answered.status_code == 200, answered.get_data(as_text=True)
    assert answered.get_json() | {"errors": []} == {
        "source": "generic",
        "rows": 200,
        "decisions": 200,
        "written": 200,
        "already_imported": 0,
        "erased_skipped": 0,
        "subjects_created": 200,
        "errors": [],
    }
    again = client.post(URL, headers=headers, data=export, content_type="text/csv")
    assert again.status_code == 200 and again.get_json()["already_imported"] == 200
    assert _events(ctx) == before + 200
    decided = client.post(
        "/v1/decisions",
        headers={"Authorization": f"Bearer {token('decisions:read')}"},
        json={"subject": {"type": "email", "value": "person1@example.org"}, "purpose": "analytics"},
    )
    assert decided.get_json()["allowed"] is True


def test_an_uploaded_mapping_is_used(client, demo, admin) -> None:
    own = (
        b"source: oldtool\nfields:\n  identity_type: {value: customer_id}\n  identity: id\n"
        b"  timestamp: {column: at, format: epoch_ms}\ndecisions:\n  - purpose: {value: newsletter}\n"
        b"    decision: {column: ok, values: {'1': granted, '0': denied}}\n"
    )
    data = {
        "file": (io.BytesIO(b"id,at,ok\nC-1,1767225600000,1\nC-2,1767225600000,0\n"), "x.csv"),
        "mapping": (io.BytesIO(own), "mapping.yaml"),
    }
    answered = client.post(URL, headers=admin, data=data)
    assert answered.status_code == 200, answered.get_data(as_text=True)
    assert (answered.get_json()["source"], answered.get_json()["written"]) == ("oldtool", 2)


def test_a_bad_row_is_a_422_naming_it_and_nothing_is_written(client, ctx, demo, admin, tmp_path) -> None:
    bad = write_export("generic", 50, tmp_path / "bad.csv", ctx.now(), bad_row=42).read_bytes()
    before = _events(ctx)
    body = assert_problem(client.post(URL, headers=admin, data=bad, content_type="text/csv"), 422)
    assert body["errors"] == {"rows.42.timestamp": ["'not a time' is not a time in format iso"]}
    assert "nothing was written" in body["detail"]
    assert _events(ctx) == before


def test_a_file_over_the_limit_is_a_413(ctx, demo, admin, export) -> None:
    ctx.config = ctx.config.with_overrides(max_import_bytes=len(export) - 1)
    client = create_app(context=ctx).test_client()
    assert_problem(client.post(URL, headers=admin, data=export, content_type="text/csv"), 413)
    upload = {"file": (io.BytesIO(export), "export.csv")}
    assert_problem(client.post(URL, headers=admin, data=upload), 413)
    # other endpoints keep their own, smaller limit
    ctx.config = ctx.config.with_overrides(max_import_bytes=len(export) + 10_000)
    client = create_app(context=ctx).test_client()
    assert client.post(URL, headers=admin, data=export, content_type="text/csv").status_code == 200


def test_the_endpoint_needs_its_scope(client, demo, token, export) -> None:
    headers = {"Authorization": f"Bearer {token('consent:write')}"}
    assert_problem(client.post(URL, headers=headers, data=export, content_type="text/csv"), 403)


def test_unknown_mappings_and_formats_are_422(client, demo, admin, export) -> None:
    body = assert_problem(
        client.post(
            "/v1/imports?format=xml&mapping=../x", headers=admin, data=export, content_type="text/csv"
        ),
        422,
    )
    assert set(body["errors"]) == {"format", "mapping"}
