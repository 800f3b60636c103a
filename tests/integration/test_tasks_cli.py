"""``consent-service requests tasks`` and ``requests complete-task`` on a migrated SQLite file."""

from __future__ import annotations

from click.testing import CliRunner

from consent_service.cli import _context, main
from consent_service.dsar.execution import run_request
from consent_service.dsar.requests import OpenRequest, open_request
from consent_service.stores.registry import save_store
from consent_service.subjects.service import IdentityRef

MANUAL = {
    "type": "manual",
    "connection": {},
    "collections": {
        "paper": {
            "identities": {"email": "email"},
            "instructions": "Shred the forms",
            "fields": {"email": {"category": "user.contact.email"}},
        }
    },
}


def test_list_and_complete_a_task(cli_env: dict[str, str]) -> None:
    env = cli_env
    ctx = _context()
    save_store(ctx, "archive", MANUAL)
    opened = open_request(
        ctx,
        OpenRequest(
            type="erasure",
            identities=[IdentityRef("email", "anna@example.org")],
            verification={"method": "dpo", "note": "seen"},
        ),
        actor="dpo",
    )
    assert run_request(ctx, opened["id"], actor="dpo")["pending"] == ["archive"]
    runner = CliRunner()
    listed = runner.invoke(main, ["requests", "tasks", opened["id"]], env=env)
    assert listed.exit_code == 0, listed.output
    assert "archive" in listed.output and "open" in listed.output and "Shred the forms" in listed.output
    task_id = listed.output.split()[0]
    missing = runner.invoke(main, ["requests", "complete-task", opened["id"], task_id], env=env)
    assert missing.exit_code != 0 and "--note" in missing.output
    done = runner.invoke(
        main, ["requests", "complete-task", opened["id"], task_id, "--note", "shredded"], env=env
    )
    assert done.exit_code == 0, done.output
    assert "completed" in done.output
    again = runner.invoke(main, ["requests", "tasks", opened["id"]], env=env)
    # The erasure shredded the subject, and with its key the note (sealed under it) is gone.
    assert "done by cli" in again.output and "[erased: the subject was crypto-shredded]" in again.output
