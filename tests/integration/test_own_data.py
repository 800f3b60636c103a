"""The service's own data retention, by time travel with a fixed clock, on SQLite and PostgreSQL.

Proofs become ``[expired]`` ``proof_retention`` after their consent ended while the ledger still
verifies; verification codes, the outbox, access packages and requester contact data go after
their periods and not before; subjects with nothing left to keep are shredded. Every step is a
no-op on a rerun, a dry run changes nothing, a legal hold keeps everything, and a crash between
batches leaves a state the next run finishes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, func, select

from consent_service.config_checks import check_durations
from consent_service.context import Context
from consent_service.demo import seed
from consent_service.dsar import request_views
from consent_service.dsar import requests as dsar
from consent_service.dsar.execution_models import DsarPackage
from consent_service.dsar.request_models import DsarRequest, DsarVerification, OutboxMessage
from consent_service.erasure import holds
from consent_service.errors import ConfigurationError, Conflict
from consent_service.ledger import audit, queries
from consent_service.ledger import service as ledger_service
from consent_service.ledger.models import ProofKey
from consent_service.retention import own_data
from consent_service.retention import service as retention
from consent_service.subjects import service as subjects
from consent_service.subjects.service import IdentityRef
from tests.conftest import make_context, param_database
from tests.fakes import FixedClock
from tests.integration.helpers import consent, email

PROOF = {"ip": "198.51.100.77", "user_agent": "Mozilla/5.0 (OwnData)", "url": "https://shop.example/x"}
READABLE = {"ip": "198.51.100.0", "user_agent": "Mozilla/5.0 (OwnData)", "url": "https://shop.example/x"}


@pytest.fixture(params=["sqlite", "postgres"])
def tctx(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    """A seeded context with the test's fixed clock, on SQLite and on PostgreSQL."""
    context = make_context(param_database(request, tmp_path), tmp_path, clock=clock)
    seed(context)
    yield context
    context.db.dispose()


def sweep(ctx: Context, *, dry_run: bool = False, batch_size: int = 500, **kw: Any) -> dict[str, Any]:
    now = ctx.now()
    with ctx.uow(write=False) as uow:
        held = holds.active(uow.session, now)
    return own_data.sweep_own_data(ctx, now=now, dry_run=dry_run, held=held, batch_size=batch_size, **kw)


def proofs(ctx: Context, subject_id: str) -> dict[str, Any]:
    """Event id -> proof as the history shows it."""
    return {e["id"]: e["proof"] for e in queries.history(ctx, subject_id)["events"] if e["kind"] == "consent"}


def verified(ctx: Context) -> bool:
    return audit.verify(ctx).ok


def at(clock: FixedClock, moment: dt.datetime) -> None:
    clock.now = moment


def test_proofs_expire_after_the_retention_and_the_ledger_still_verifies(
    tctx: Context, clock: FixedClock
) -> None:
    ident = email("proof-owner")
    first = consent(
        tctx,
        identity=ident,
        decisions=[("purpose", "newsletter", True), ("purpose", "analytics", True)],
        proof=PROOF,
    )
    sid = first.subject_id
    clock.advance(days=1)
    withdrawn_at = tctx.now()
    withdrawal = consent(tctx, subject_id=sid, decisions=[("purpose", "newsletter", False)], proof=PROOF)
    newsletter = [first.events[0]["id"], withdrawal.events[0]["id"]]
    assert withdrawal.events[0]["decision"] == "withdrawn"
    # analytics stays granted: renewed before each expiry
    renewals = []
    while tctx.now() < withdrawn_at + relativedelta(years=3) - dt.timedelta(days=40):
        clock.advance(days=330)
        renewals.append(
            consent(tctx, subject_id=sid, decisions=[("purpose", "analytics", True)], proof=PROOF)
        )
    analytics = [first.events[1]["id"]] + [r.events[0]["id"] for r in renewals]

    at(clock, withdrawn_at + relativedelta(years=3) - dt.timedelta(days=1))  # one day early
    report = sweep(tctx)
    assert report["proofs"] == {"candidates": 0, "purged": 0, "held": 0}
    assert all(p == READABLE for p in proofs(tctx, sid).values())

    at(clock, withdrawn_at + relativedelta(years=3))  # the deadline itself
    dry = sweep(tctx, dry_run=True)
    assert dry["proofs"] == {"candidates": 2, "purged": 0, "held": 0}
    assert all(p == READABLE for p in proofs(tctx, sid).values())

    report = sweep(tctx)
    assert report["proofs"] == {"candidates": 2, "purged": 2, "held": 0}
    shown = proofs(tctx, sid)
    assert [shown[e] for e in newsletter] == ["[expired]", "[expired]"]
    assert [shown[e] for e in analytics] == [READABLE] * len(analytics)  # a valid grant keeps every proof
    assert verified(tctx)
    with tctx.uow(write=False) as uow:
        purged = uow.session.scalars(select(ProofKey).where(ProofKey.event_id.in_(newsletter))).all()
    assert {p.wrapped_key for p in purged} == {None} and {p.purged_at for p in purged} == {tctx.now()}

    assert sweep(tctx)["proofs"] == {"candidates": 0, "purged": 0, "held": 0}  # a rerun does nothing
    # the gate still answers from the projection; the withdrawal is still in force
    assert queries.decide_one(tctx, sid, "newsletter").allowed is False


def test_an_expired_grant_ends_its_proof_retention_at_its_end(tctx: Context, clock: FixedClock) -> None:
    granted = consent(tctx, identity=email("expiring"), decisions=[("purpose", "ads", True)], proof=PROOF)
    valid_until = granted.events[0]["valid_until"]
    at(clock, valid_until + relativedelta(years=3) - dt.timedelta(hours=1))
    assert sweep(tctx)["proofs"]["purged"] == 0
    fresh = consent(
        tctx, subject_id=granted.subject_id, decisions=[("purpose", "analytics", True)], proof=PROOF
    )
    at(clock, valid_until + relativedelta(years=3))
    report = sweep(tctx)
    assert report["proofs"]["purged"] == 1 and report["subjects"]["shredded"] == 0  # still in use
    assert proofs(tctx, granted.subject_id) == {
        granted.events[0]["id"]: "[expired]",
        fresh.events[0]["id"]: READABLE,
    }
    assert verified(tctx)


def test_a_held_subject_keeps_its_proofs_contacts_and_key(tctx: Context, clock: FixedClock) -> None:
    kept = consent(tctx, identity=email("held"), decisions=[("purpose", "analytics", False)], proof=PROOF)
    other = consent(
        tctx, identity=email("not-held"), decisions=[("purpose", "analytics", False)], proof=PROOF
    )
    for ident in (email("held"), email("not-held")):
        dsar.open_request(
            tctx,
            dsar.OpenRequest("restriction", [ident], {"method": "dpo", "note": "ID checked"}),
            actor="dpo",
        )
    retention.save_hold(
        tctx, "case-17", {"scope": {"subject": kept.subject_id}, "reason": "court case 17"}, "dpo"
    )
    clock.advance(days=4 * 366)
    report = sweep(tctx)
    assert report["proofs"] == {"candidates": 2, "purged": 1, "held": 1}
    assert report["request_contacts"] == {"candidates": 2, "purged": 1, "held": 1}
    assert report["subjects"] == {"candidates": 2, "shredded": 1, "held": 1}
    assert proofs(tctx, kept.subject_id) == {kept.events[0]["id"]: READABLE}
    with tctx.uow(write=False) as uow:
        assert subjects.data_key(uow.session, tctx.crypto, kept.subject_id) is not None
        assert subjects.data_key(uow.session, tctx.crypto, other.subject_id) is None
        by_subject = {r.subject_id: r for r in uow.session.scalars(select(DsarRequest))}
    assert by_subject[kept.subject_id].identities_ct is not None
    assert by_subject[other.subject_id].contact_purged_at == tctx.now()
    again = sweep(tctx)
    assert {step: counts.get("held", 0) for step, counts in again.items()} == {
        "proofs": 1, "verification_codes": 0, "outbox": 0, "packages": 0, "request_contacts": 1, "subjects": 1,
    }  # fmt: skip
    assert sum(c.get("purged", 0) + c.get("deleted", 0) + c.get("shredded", 0) for c in again.values()) == 0


def test_verification_codes_go_when_expired_or_no_longer_needed(tctx: Context, clock: FixedClock) -> None:
    def open_by_mail(name: str, kind: str) -> str:
        cmd = dsar.OpenRequest(
            kind, [email(name)], {"method": "email"}, purposes=["ads"] * (kind == "objection")
        )
        return str(dsar.open_request(tctx, cmd, actor="public")["id"])

    waiting = open_by_mail("waiting", "access")
    done = open_by_mail("done", "objection")
    dsar.verify(tctx, done, code=None, dpo_note="called back", actor="dpo")

    def codes() -> set[str]:
        with tctx.uow(write=False) as uow:
            return set(uow.session.scalars(select(DsarVerification.request_id)))

    dry = sweep(tctx, dry_run=True)
    assert dry["verification_codes"] == {"candidates": 1, "deleted": 0} and codes() == {waiting, done}
    assert sweep(tctx)["verification_codes"] == {"candidates": 1, "deleted": 1}
    assert codes() == {waiting}
    clock.advance(minutes=tctx.config.verification_code_minutes - 1)
    assert sweep(tctx)["verification_codes"]["deleted"] == 0
    clock.advance(minutes=2)
    assert sweep(tctx)["verification_codes"] == {"candidates": 1, "deleted": 1}
    assert codes() == set()
    with pytest.raises(Conflict, match="a DPO must verify"):
        dsar.verify(tctx, waiting, code="123456", dpo_note=None, actor="public")


def test_sent_and_dead_messages_go_after_the_outbox_retention(tctx: Context, clock: FixedClock) -> None:
    sid = consent(tctx, identity=email("mailed")).subject_id
    now = tctx.now()
    with tctx.uow() as uow:
        for state in ("pending", "sent", "dead"):
            uow.session.add(
                OutboxMessage(
                    id=f"msg_{state}",
                    kind="webhook",
                    subject_id=sid,
                    payload_ct=b"{}",
                    state=state,
                    attempts=1,
                    next_attempt_at=now,
                    created_at=now,
                    sent_at=now if state == "sent" else None,
                )
            )
        uow.commit()

    def messages() -> set[str]:
        with tctx.uow(write=False) as uow:
            return set(uow.session.scalars(select(OutboxMessage.id)))

    clock.advance(days=30, seconds=-1)
    assert sweep(tctx)["outbox"] == {"candidates": 0, "deleted": 0, "held": 0}
    clock.advance(seconds=2)
    assert sweep(tctx, dry_run=True)["outbox"] == {"candidates": 2, "deleted": 0, "held": 0}
    assert messages() == {"msg_pending", "msg_sent", "msg_dead"}
    assert sweep(tctx)["outbox"] == {"candidates": 2, "deleted": 2, "held": 0}
    assert messages() == {"msg_pending"}
    clock.advance(days=400)
    assert sweep(tctx)["outbox"]["deleted"] == 0 and messages() == {"msg_pending"}


def test_packages_go_after_their_expiry(tctx: Context, clock: FixedClock) -> None:
    req = dsar.open_request(
        tctx, dsar.OpenRequest("access", [email("pkg")], {"method": "dpo", "note": "ok"}), actor="dpo"
    )
    with tctx.uow() as uow:
        uow.session.add(
            DsarPackage(
                request_id=req["id"],
                created_at=tctx.now(),
                expires_at=tctx.now() + dt.timedelta(days=30),
                json_ct=b"x",
                csv_ct=b"x",
                html_ct=b"x",
            )
        )
        uow.commit()
    clock.advance(days=30)
    assert sweep(tctx)["packages"] == {"candidates": 0, "deleted": 0}
    clock.advance(seconds=1)
    assert sweep(tctx, dry_run=True)["packages"] == {"candidates": 1, "deleted": 0}
    assert sweep(tctx)["packages"] == {"candidates": 1, "deleted": 1}
    assert sweep(tctx)["packages"] == {"candidates": 0, "deleted": 0}


def test_contact_data_goes_a_year_after_the_request_closed(tctx: Context, clock: FixedClock) -> None:
    closed = dsar.open_request(
        tctx,
        dsar.OpenRequest(
            "restriction",
            [email("closed"), IdentityRef("phone", "+49 30 1234")],
            {"method": "dpo", "note": "ok"},
        ),
        actor="dpo",
    )
    still_open = dsar.open_request(
        tctx, dsar.OpenRequest("access", [email("open")], {"method": "dpo", "note": "ok"}), actor="dpo"
    )
    assert closed["state"] == "completed" and still_open["state"] == "verified"
    closed_at = tctx.now()
    at(clock, closed_at + relativedelta(years=1) - dt.timedelta(minutes=1))
    assert sweep(tctx)["request_contacts"] == {"candidates": 0, "purged": 0, "held": 0}
    assert request_views.show(tctx, closed["id"])["identities"][0] == {
        "type": "email",
        "value": "closed@integration.example",
        "verification": "dpo",
    }
    at(clock, closed_at + relativedelta(years=1))
    assert sweep(tctx, dry_run=True)["request_contacts"] == {"candidates": 1, "purged": 0, "held": 0}
    assert sweep(tctx)["request_contacts"] == {"candidates": 1, "purged": 1, "held": 0}
    shown = request_views.show(tctx, closed["id"])
    assert shown["identities"] == "[purged]" and shown["audit_trail_ok"] is True
    assert isinstance(request_views.show(tctx, still_open["id"])["identities"], list)
    with tctx.uow(write=False) as uow:
        row = uow.session.get(DsarRequest, closed["id"])
        assert row is not None and row.changes_ct is None and row.contact_purged_at == tctx.now()
    assert sweep(tctx)["request_contacts"]["candidates"] == 0


def test_spent_subjects_are_shredded_and_live_ones_are_not(tctx: Context, clock: FixedClock) -> None:
    spent = consent(tctx, identity=email("spent"), decisions=[("purpose", "analytics", True)], proof=PROOF)
    device = consent(
        tctx, identity=IdentityRef("device_id", "dev-spent"), decisions=[("purpose", "ads", False)]
    )
    ledger_service.link_subjects(tctx, device.subject_id, spent.subject_id, actor_type="client", actor_id="t")
    live = consent(tctx, identity=email("live"), decisions=[("purpose", "analytics", True)])
    asking = consent(tctx, identity=email("asking"), decisions=[("purpose", "analytics", False)])
    dsar.open_request(
        tctx, dsar.OpenRequest("access", [email("asking")], {"method": "email"}), actor="public"
    )
    clock.advance(days=1)
    consent(tctx, subject_id=spent.subject_id, decisions=[("purpose", "analytics", False)])
    last_event = tctx.now()
    for _ in range(3):  # "live" renews its consent every year
        clock.advance(days=360)
        consent(tctx, subject_id=live.subject_id, decisions=[("purpose", "analytics", True)])

    at(clock, last_event + relativedelta(years=3) - dt.timedelta(days=1))
    assert sweep(tctx)["subjects"] == {"candidates": 0, "shredded": 0, "held": 0}
    at(clock, last_event + relativedelta(years=3) + dt.timedelta(seconds=1))
    dry = sweep(tctx, dry_run=True)
    assert dry["subjects"] == {"candidates": 1, "shredded": 0, "held": 0}
    report = sweep(tctx)
    assert report["subjects"] == {"candidates": 1, "shredded": 1, "held": 0}

    with tctx.uow(write=False) as uow:
        keys = {s: subjects.data_key(uow.session, tctx.crypto, s) for s in (spent.subject_id, device.subject_id, live.subject_id, asking.subject_id)}  # fmt: skip
    assert keys[spent.subject_id] is None and keys[device.subject_id] is None  # the whole group
    assert keys[live.subject_id] is not None and keys[asking.subject_id] is not None
    history = queries.history(tctx, spent.subject_id)
    assert history["identities"] == [{"type": "email", "value": "[erased]"}]
    shredded = [e for e in history["events"] if e["kind"] == "shredded"]
    assert {e["actor_type"] for e in shredded} == {"system"} and {e["actor_id"] for e in shredded} == {
        "retention"
    }
    assert queries.decide_one(tctx, spent.subject_id, "analytics").reason == "erased"
    assert verified(tctx)
    assert sweep(tctx)["subjects"] == {"candidates": 0, "shredded": 0, "held": 0}


def test_a_crash_between_batches_is_finished_by_the_next_run(tctx: Context, clock: FixedClock) -> None:
    ids = []
    for i in range(7):
        recorded = consent(
            tctx, identity=email(f"crash{i}"), decisions=[("purpose", "analytics", False)], proof=PROOF
        )
        ids.append(recorded.events[0]["id"])
    clock.advance(days=3 * 366)

    def crash(step: str, done: int) -> None:
        raise RuntimeError(f"killed after {step} {done}")

    with pytest.raises(RuntimeError, match="killed after proofs 2"):
        sweep(tctx, batch_size=2, progress=crash)

    def purged() -> int:
        with tctx.uow(write=False) as uow:
            return int(uow.session.scalar(select(func.count()).where(ProofKey.wrapped_key.is_(None))) or 0)

    assert purged() == 2  # the first batch landed whole, nothing of the second
    assert verified(tctx)
    seen: list[tuple[str, int]] = []
    report = sweep(tctx, batch_size=2, progress=lambda step, done: seen.append((step, done)))
    assert report["proofs"] == {"candidates": 5, "purged": 5, "held": 0}
    assert [done for step, done in seen if step == "proofs"] == [2, 4, 5]
    assert purged() == 7
    assert sweep(tctx, batch_size=2)["proofs"] == {"candidates": 0, "purged": 0, "held": 0}


def test_events_recorded_before_proof_keys_read_with_the_data_key(
    tctx: Context, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events recorded before this version have no proof key row: their proof was sealed under the
    data key. They stay readable, the sweep leaves them alone, and a shred makes them unreadable."""
    sid = consent(tctx, identity=email("legacy"), decisions=[("purpose", "analytics", True)]).subject_id
    with tctx.uow(write=False) as uow:
        dek = subjects.data_key(uow.session, tctx.crypto, sid)
    assert dek is not None
    monkeypatch.setattr(ledger_service, "os", SimpleNamespace(urandom=lambda n: dek))  # proof key = data key
    old = consent(tctx, subject_id=sid, decisions=[("purpose", "analytics", False)], proof=PROOF)
    monkeypatch.undo()
    with tctx.uow() as uow:
        uow.session.execute(delete(ProofKey).where(ProofKey.event_id == old.events[0]["id"]))
        uow.commit()
    assert proofs(tctx, sid)[old.events[0]["id"]] == READABLE
    clock.advance(days=4 * 366)
    report = sweep(tctx)
    assert report["proofs"]["purged"] == 1  # the first event's key; the old one has none to destroy
    assert report["subjects"]["shredded"] == 1
    assert proofs(tctx, sid)[old.events[0]["id"]] == "[erased]"
    assert verified(tctx)


def test_a_bad_retention_period_is_a_configuration_error(tctx: Context) -> None:
    tctx.config = tctx.config.with_overrides(proof_retention="3 years")
    with pytest.raises(ConfigurationError, match="CONSENT_PROOF_RETENTION"):
        sweep(tctx)
    tctx.config = tctx.config.with_overrides(proof_retention="P3Y", outbox_retention="P")
    with pytest.raises(ConfigurationError, match="CONSENT_OUTBOX_RETENTION"):
        check_durations(tctx.config)
