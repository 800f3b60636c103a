"""Imports from other platforms, on SQLite and PostgreSQL: a generated 10,000-row export in each
shipped mapping is imported, a second run adds nothing, a file with one bad row is refused with
that row's number and writes nothing, imported events keep their original time and are chained
and encrypted like any other, and the gate answers from them. The CLI runs the same import."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from consent_service.cli import main
from consent_service.demo import seed
from consent_service.imports import mapping as mappings
from consent_service.imports import service as imports
from consent_service.ledger import queries
from consent_service.ledger.audit import verify
from consent_service.subjects.service import IdentityRef
from tests.conftest import make_context
from tests.integration.import_files import FORMAT, write_export

ROWS = 10_000
DECISIONS_PER_ROW = {"generic": 1, "commanders_act": 2, "ccm19": 2}


def _import(ctx: Any, path: Path, name: str) -> imports.ImportReport:
    return imports.import_consents(
        ctx,
        lambda: path.open("rb"),
        file_format=FORMAT[name],
        mapping=mappings.load(name),
        actor_type="system",
        actor_id="test",
    )


def _counts(ctx: Any) -> tuple[int, int]:
    with ctx.db.engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()
        keys = conn.execute(text("SELECT count(*) FROM import_rows")).scalar_one()
    return events, keys


# Every shipped mapping on the embedded database; on PostgreSQL the one with two decisions a row
# (reading a file does not depend on the database, writing it does, and that is the same path
# for every mapping).
TEN_THOUSAND = [("sqlite", name) for name in sorted(FORMAT)] + [("postgres", "commanders_act")]


@pytest.mark.parametrize(("any_ctx", "name"), TEN_THOUSAND, indirect=["any_ctx"])
def test_a_ten_thousand_row_export_imports_once(any_ctx, tmp_path, name) -> None:
    seed(any_ctx)
    start = any_ctx.now() - dt.timedelta(days=1)
    path = write_export(name, ROWS, tmp_path / f"export.{FORMAT[name]}", start)
    before, _ = _counts(any_ctx)

    report = _import(any_ctx, path, name)

    expected = ROWS * DECISIONS_PER_ROW[name]
    assert (report.rows, report.decisions, report.written) == (ROWS, expected, expected)
    assert _counts(any_ctx) == (before + expected, expected)
    again = _import(any_ctx, path, name)
    assert (again.written, again.already_imported) == (0, expected)
    assert _counts(any_ctx) == (before + expected, expected)

    with any_ctx.db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT channel, source, recorded_at, recorded_at_source, proof_ct FROM ledger_events "
                "WHERE source = :source ORDER BY seq LIMIT 1"
            ),
            {"source": name},
        ).one()
    assert row.channel == "import" and row.source == name
    assert row.recorded_at_source is not None and row.recorded_at_source < row.recorded_at
    assert row.proof_ct and b"Mozilla" not in bytes(row.proof_ct)  # the proof is sealed
    checked = verify(any_ctx)  # the chain, and the projection against the events
    assert checked.ok and not checked.state_mismatches, checked.problem


def test_one_bad_row_refuses_the_file_and_writes_nothing(any_ctx, tmp_path) -> None:
    seed(any_ctx)
    path = write_export("generic", 500, tmp_path / "export.csv", any_ctx.now(), bad_row=321)
    before = _counts(any_ctx)
    with pytest.raises(imports.ImportRefused) as refused:
        _import(any_ctx, path, "generic")
    assert refused.value.errors == {"rows.321.timestamp": ["'not a time' is not a time in format iso"]}
    assert _counts(any_ctx) == before


def test_unknown_purposes_are_reported_once_with_their_first_row(ctx, tmp_path) -> None:
    seed(ctx)
    path = tmp_path / "export.csv"
    path.write_text(
        "identity_type,identity,purpose,decision,recorded_at\n"
        "email,a@example.org,analytics,granted,2026-01-01T10:00:00Z\n"
        "email,b@example.org,loyalty,granted,2026-01-01T10:00:00Z\n"
        "email,c@example.org,loyalty,yes,2026-01-01T10:00:00Z\n"
        "email,d@example.org,loyalty,denied,2026-01-01T10:00:00Z\n"
    )
    with pytest.raises(imports.ImportRefused) as refused:
        _import(ctx, path, "generic")
    assert refused.value.errors == {
        "rows.2.purpose": ["unknown purpose 'loyalty' (and 1 more rows)"],
        "rows.3.decisions.0.decision": ["'yes' is not one of granted, denied, withdrawn, true, false"],
    }


def test_the_gate_answers_from_imported_consent(any_ctx, tmp_path) -> None:
    seed(any_ctx)
    path = write_export("generic", 8, tmp_path / "export.csv", any_ctx.now() - dt.timedelta(hours=1))
    _import(any_ctx, path, "generic")
    # row 1 grants analytics, row 3 grants ads, row 4 denies analytics (see write_export)
    assert queries.decide_one(any_ctx, IdentityRef("email", "person1@example.org"), "analytics").allowed
    assert queries.decide_one(any_ctx, IdentityRef("email", "person3@example.org"), "ads").allowed
    denied = queries.decide_one(any_ctx, IdentityRef("email", "person4@example.org"), "analytics")
    assert (denied.allowed, denied.reason) == (False, "consent_denied")


def test_a_registered_identity_type_is_imported_normalised_and_a_bad_value_refused(any_ctx, tmp_path) -> None:
    from consent_service.subjects.identity_types import put_type

    seed(any_ctx)
    put_type(any_ctx, "hubspot_id", case="lower", trim=True, pattern=r"hs-[0-9]+", dsar_allowed=True)
    path = tmp_path / "export.csv"
    header = "identity_type,identity,purpose,decision,recorded_at\n"
    path.write_text(header + "hubspot_id, HS-501 ,analytics,granted,2026-01-01T10:00:00Z\n")
    assert _import(any_ctx, path, "generic").written == 1
    # the gate finds the subject under the value as the CRM writes it, normalised by the type's rule
    assert queries.decide_one(any_ctx, IdentityRef("hubspot_id", "hs-501"), "analytics").allowed
    assert _import(any_ctx, path, "generic").written == 0  # the same decision, idempotent across spellings

    path.write_text(
        header
        + "hubspot_id,hs-502,analytics,granted,2026-01-01T10:00:00Z\n"
        + "hubspot_id,502,analytics,granted,2026-01-01T10:00:00Z\n"
        + "zendesk_id,7,analytics,granted,2026-01-01T10:00:00Z\n"
    )
    before = _counts(any_ctx)
    with pytest.raises(imports.ImportRefused) as refused:
        _import(any_ctx, path, "generic")
    assert refused.value.errors == {
        "rows.2.identity": ["the value does not match the pattern of identity type 'hubspot_id'"],
        "rows.3.identity_type": [
            "'zendesk_id' is not one of email, phone, customer_id, device_id, hubspot_id"
        ],
    }
    assert _counts(any_ctx) == before


def test_an_old_consent_expires_from_when_it_was_given(ctx, tmp_path) -> None:
    seed(ctx)
    path = write_export("generic", 1, tmp_path / "export.csv", ctx.now() - dt.timedelta(days=3 * 365))
    _import(ctx, path, "generic")
    decision = queries.decide_one(ctx, IdentityRef("email", "person1@example.org"), "analytics")
    assert (decision.allowed, decision.reason) == (False, "consent_expired")


def test_the_cli_imports_and_shows_progress(sqlite_url, tmp_path) -> None:
    from consent_service.crypto.keyring import KeyMaterial

    keys = KeyMaterial.generate().to_json()
    seed(make_context(sqlite_url, tmp_path, master_keys=keys))
    env = {
        **os.environ,
        "CONSENT_DATABASE_URL": sqlite_url,
        "CONSENT_DATA_DIR": str(tmp_path),
        "CONSENT_MASTER_KEYS": keys,
        "CONSENT_LOG_LEVEL": "WARNING",
    }
    path = write_export("ccm19", 2500, tmp_path / "export.jsonl", dt.datetime.now(dt.UTC))
    runner = CliRunner()
    args = ["import", "consents", str(path), "--format", "jsonl", "--mapping", "ccm19", "--json"]
    first = runner.invoke(main, args, env=env)
    assert first.exit_code == 0, first.output + first.stderr
    assert json.loads(first.stdout)["written"] == 5000
    assert "written 2,500/2,500 rows (100%)" in first.stderr
    again = runner.invoke(main, args, env=env)
    assert json.loads(again.stdout)["already_imported"] == 5000

    bad = write_export("ccm19", 30, tmp_path / "bad.jsonl", dt.datetime.now(dt.UTC), bad_row=17)
    refused = runner.invoke(
        main, ["import", "consents", str(bad), "--format", "jsonl", "--mapping", "ccm19"], env=env
    )
    assert refused.exit_code == 2
    assert "row 17, timestamp: 'yesterday' is not a time in format epoch_s" in refused.stderr


def test_the_example_of_docs_imports_md_prints_what_it_shows(sqlite_url, tmp_path, monkeypatch) -> None:
    from consent_service.crypto.keyring import KeyMaterial
    from tests.api.test_doc_examples import ROOT, blocks

    page = ROOT / "docs" / "imports.md"
    found = {language: body for _, language, body in blocks(page, ("yaml", "csv", "json"))}
    command = next(line for line in page.read_text().splitlines() if "import consents oldcrm.csv" in line)
    args = command.split("`")[1].split()[1:]  # the command as the page shows it
    (tmp_path / "oldcrm.yaml").write_text(found["yaml"])
    (tmp_path / "oldcrm.csv").write_text(found["csv"])
    keys = KeyMaterial.generate().to_json()
    seed(make_context(sqlite_url, tmp_path, master_keys=keys))
    env = {
        **os.environ,
        "CONSENT_DATABASE_URL": sqlite_url,
        "CONSENT_DATA_DIR": str(tmp_path),
        "CONSENT_MASTER_KEYS": keys,
        "CONSENT_LOG_LEVEL": "WARNING",
    }
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(main, args, env=env)
    assert first.exit_code == 0, first.output + first.stderr
    assert json.loads(first.stdout) == json.loads(found["json"])
    again = json.loads(CliRunner().invoke(main, args, env=env).stdout)
    assert (again["written"], again["already_imported"]) == (0, 3)  # as the page says
