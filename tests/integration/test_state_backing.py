"""The gate's answer is backed by the ledger, and ``verify`` checks the projection against it.

``consent_state`` is a projection nothing guards: an UPDATE on it must neither turn a denial into
``consent_granted`` nor go unnoticed by ``ledger verify``, which names every row that differs
from the fold of the events.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger import queries
from consent_service.ledger.audit import verify
from tests.integration.helpers import cli, consent, email, raw


def denied_ann_granted_ben(ctx: Context) -> tuple[str, str, str, str]:
    """ann denies analytics, ben grants it; returns (ann, ann's denial, ben, ben's grant)."""
    seed(ctx)
    ann = consent(ctx, identity=email("ann"), decisions=[("purpose", "analytics", False)])
    ben = consent(ctx, identity=email("ben"), decisions=[("purpose", "analytics", True)])
    return ann.subject_id, ann.events[0]["id"], ben.subject_id, ben.events[0]["id"]


def both_gates(ctx: Context, subject_id: str) -> list[tuple[bool, str, str | None]]:
    one = queries.decide_one(ctx, subject_id, "analytics")
    (batch,) = queries.decide_batch(ctx, "analytics", [subject_id])
    return [(d.allowed, d.reason, d.event_id) for d in (one, batch)]


def test_a_decision_flipped_in_the_projection_does_not_open_the_gate(any_ctx: Context) -> None:
    ann, denial, _, _ = denied_ann_granted_ben(any_ctx)
    with raw(any_ctx) as conn:
        conn.execute(text("UPDATE consent_state SET decision = 'granted' WHERE subject_id = :s"), {"s": ann})
    assert both_gates(any_ctx, ann) == [(False, "consent_denied", denial)] * 2
    report = verify(any_ctx)
    assert not report.ok
    assert report.state_mismatches == [
        {
            "subject_id": ann,
            "target_type": "purpose",
            "target_key": "analytics",
            "problem": "decision differs",
        }
    ]


def test_a_state_row_citing_another_subjects_grant_is_refused(any_ctx: Context) -> None:
    ann, _, _, grant = denied_ann_granted_ben(any_ctx)
    with raw(any_ctx) as conn:
        seq = conn.execute(text("SELECT seq FROM ledger_events WHERE id = :e"), {"e": grant}).scalar()
        conn.execute(
            text(
                "UPDATE consent_state SET decision = 'granted', event_id = :e, seq = :q WHERE subject_id = :s"
            ),
            {"e": grant, "q": seq, "s": ann},
        )
    assert both_gates(any_ctx, ann) == [(False, "state_unverified", grant)] * 2
    assert not verify(any_ctx).ok


def test_verify_names_every_row_that_differs_from_the_events(any_ctx: Context) -> None:
    ann, _, ben, _ = denied_ann_granted_ben(any_ctx)
    consent(any_ctx, identity=email("ann"), decisions=[("purpose", "ads", True)])
    assert verify(any_ctx).ok
    with raw(any_ctx) as conn:
        conn.execute(text("DELETE FROM consent_state WHERE subject_id = :s"), {"s": ben})
        conn.execute(
            text(
                "UPDATE consent_state SET purpose_version = 99 WHERE subject_id = :s AND target_key = 'ads'"
            ),
            {"s": ann},
        )
        conn.execute(
            text(
                "INSERT INTO consent_state (subject_id, target_type, target_key, event_id, seq, decision, "
                "purpose_version, purpose_hash, recorded_at, valid_until) "
                "SELECT subject_id, 'purpose', 'newsletter', event_id, seq, 'granted', purpose_version, "
                "purpose_hash, recorded_at, valid_until FROM consent_state WHERE subject_id = :s "
                "AND target_key = 'analytics'"
            ),
            {"s": ann},
        )
    report = verify(any_ctx)
    assert not report.ok
    assert sorted(
        (m["subject_id"], m["target_key"], m["problem"]) for m in report.state_mismatches
    ) == sorted(
        [
            (ben, "analytics", "missing from the projection"),
            (ann, "ads", "purpose_version differs"),
            (ann, "newsletter", "not backed by any event"),
        ]
    )


def test_cli_verify_reports_the_projection(ctx: Context, tmp_path: Path) -> None:
    ann, _, _, _ = denied_ann_granted_ben(ctx)
    with raw(ctx) as conn:
        conn.execute(text("UPDATE consent_state SET decision = 'granted' WHERE subject_id = :s"), {"s": ann})
    result = cli(ctx, "ledger", "verify", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"consent_state {ann} purpose analytics: decision differs" in result.stdout


def test_the_subjects_current_consents_read_the_event_not_the_edited_row(any_ctx: Context) -> None:
    ann, denial, _, _ = denied_ann_granted_ben(any_ctx)
    with raw(any_ctx) as conn:
        conn.execute(text("UPDATE consent_state SET decision = 'granted' WHERE subject_id = :s"), {"s": ann})
    (item,) = queries.current_consents(any_ctx, ann)["consents"]
    assert (item["decision"], item["reason"], item["event_id"]) == ("denied", "consent_denied", denial)
    with raw(any_ctx) as conn:
        conn.execute(text("UPDATE consent_state SET event_id = 'forged' WHERE subject_id = :s"), {"s": ann})
    (item,) = queries.current_consents(any_ctx, ann)["consents"]
    assert (item["decision"], item["reason"]) == (None, "state_unverified")


def test_a_withdrawal_is_told_from_a_denial_by_the_events_not_the_edited_row(any_ctx: Context) -> None:
    ann, _, _, _ = denied_ann_granted_ben(any_ctx)
    with raw(any_ctx) as conn:
        conn.execute(text("UPDATE consent_state SET decision = 'granted' WHERE subject_id = :s"), {"s": ann})
    again = consent(any_ctx, identity=email("ann"), decisions=[("purpose", "analytics", False)])
    assert again.events[0]["decision"] == "denied"  # a refusal after a refusal, not a withdrawal
