"""Receipts that name their place in the transparency log, and ``GET /v1/receipts/<event id>``,
which hands a receipt out again with the events' inclusion proofs against the latest checkpoint.

The proofs are checked here with the RFC 9162 and C2SP functions of ``consent_verify`` alone,
from the receipt and the log's verifier key, as a holder of the receipt would."""

from __future__ import annotations

import base64
import hashlib
import json
import time

from consent_service.crypto.signing import load_public_key, verify_signed
from consent_service.ledger import tree
from consent_service.ledger_thread import start_checkpointer
from consent_verify import merkle
from consent_verify import note as tlog
from tests.api.helpers import assert_problem, consent_body


def proven(receipt: dict, vkey: str) -> int:
    """Check every item of ``receipt`` against its inclusion proof; returns the tree size."""
    inclusion = receipt["inclusion"]
    verifier = tlog.parse_verifier_key(vkey)
    opened = tlog.verify_note(inclusion["checkpoint"], [verifier])
    checkpoint = tlog.parse_checkpoint(opened.text)
    assert checkpoint.size == inclusion["treeSize"] and checkpoint.origin == verifier.name
    items = receipt["payload"]["services"][0]["purposes"]
    leaves = {leaf["eventId"]: leaf for leaf in inclusion["leaves"]}
    assert sorted(leaves) == sorted(item["eventId"] for item in items)
    for item in items:
        leaf = leaves[item["eventId"]]
        raw = base64.b64decode(leaf["leaf"])
        assert hashlib.sha256(raw).hexdigest() == item["ledgerHash"]
        event = json.loads(raw)
        assert (event["id"], event["seq"], event["decision"]) == (
            item["eventId"],
            item["ledgerSeq"],
            item["decision"],
        )
        assert leaf["leafIndex"] == item["leafIndex"] == item["ledgerSeq"] - 1
        path = [base64.b64decode(h) for h in leaf["inclusionPath"]]
        assert merkle.verify_inclusion(
            leaf["leafIndex"], checkpoint.size, merkle.leaf_hash(raw), path, checkpoint.root
        )
    return checkpoint.size


def test_a_receipt_names_its_leaves_and_the_log_and_later_proves_them(tclient, auth, clocked_ctx, clock):
    vkey = tclient.get("/v1/ledger/key").get_data(as_text=True).strip()
    first = tclient.post("/v1/consents", headers=auth, json=consent_body()).get_json()
    receipt = first["receipt"]
    assert receipt["payload"]["transparencyLog"] == {"origin": vkey.split("+")[0], "verifierKey": vkey}
    items = receipt["payload"]["services"][0]["purposes"]
    assert [(i["purpose"], i["cookie"], i["leafIndex"]) for i in items] == [
        ("newsletter", None, 0),
        ("analytics", "_ga", 1),
    ]
    assert "inclusion" not in receipt  # the events become leaves after the write

    again = tclient.get(f"/v1/receipts/{first['events'][1]['id']}")
    assert again.status_code == 200
    body = again.get_json()
    assert body["inclusion"] is None  # not yet in the tree
    assert {"payload": body["payload"], "signature": body["signature"]} == {
        "payload": receipt["payload"],
        "signature": receipt["signature"],
    }  # the same receipt, byte for byte, whichever of its events is asked for

    tree.extend(clocked_ctx)
    body = tclient.get(f"/v1/receipts/{first['events'][0]['id']}").get_json()
    key = load_public_key(tclient.get("/v1/ledger/public-key").get_json()["public_key"])
    assert verify_signed(body, key) and body["payload"] == receipt["payload"]
    assert proven(body, vkey) == 2

    clock.advance(seconds=1)  # a receipt is the events of one call: one subject, one time
    second = tclient.post(
        "/v1/consents",
        headers=auth,
        json=consent_body(decisions=[{"purpose": "newsletter", "granted": False}]),
    ).get_json()
    tree.extend(clocked_ctx)
    later = tclient.get(f"/v1/receipts/{first['events'][0]['id']}").get_json()
    assert proven(later, vkey) == 3  # proven again against the latest checkpoint
    assert later["inclusion"]["checkpoint"] == tclient.get("/v1/ledger/checkpoint").get_data(as_text=True)
    withdrawal = tclient.get(f"/v1/receipts/{second['events'][0]['id']}").get_json()
    assert [i["decision"] for i in withdrawal["payload"]["services"][0]["purposes"]] == ["withdrawn"]
    assert proven(withdrawal, vkey) == 3


def test_a_changed_leaf_or_path_does_not_prove_the_receipt(tclient, auth, clocked_ctx):
    vkey = tclient.get("/v1/ledger/key").get_data(as_text=True).strip()
    for value in ("a@example.org", "b@example.org", "c@example.org"):
        event = tclient.post("/v1/consents", headers=auth, json=consent_body(value)).get_json()["events"][0]
    tree.extend(clocked_ctx)
    body = tclient.get(f"/v1/receipts/{event['id']}").get_json()
    assert proven(body, vkey) == 6
    leaf = body["inclusion"]["leaves"][0]
    raw = json.loads(base64.b64decode(leaf["leaf"]))
    forged = dict(leaf, leaf=base64.b64encode(json.dumps({**raw, "decision": "denied"}).encode()).decode())
    path = [base64.b64decode(h) for h in leaf["inclusionPath"]]
    cp = tlog.parse_checkpoint(
        tlog.verify_note(body["inclusion"]["checkpoint"], [tlog.parse_verifier_key(vkey)]).text
    )
    assert not merkle.verify_inclusion(
        leaf["leafIndex"], cp.size, merkle.leaf_hash(base64.b64decode(forged["leaf"])), path, cp.root
    )
    assert not merkle.verify_inclusion(
        leaf["leafIndex"], cp.size, merkle.leaf_hash(base64.b64decode(leaf["leaf"])), path[::-1], cp.root
    )


def test_unknown_ids_and_links_have_no_receipt(tclient, auth):
    assert_problem(tclient.get("/v1/receipts/no-such-event"), 404)
    a = tclient.post("/v1/consents", headers=auth, json=consent_body("a@example.org")).get_json()
    b = tclient.post("/v1/consents", headers=auth, json=consent_body("b@example.org")).get_json()
    linked = tclient.post(
        "/v1/subjects/link",
        headers=auth,
        json={"from": {"subject_id": a["subject_id"]}, "to": {"subject_id": b["subject_id"]}},
    )
    assert linked.status_code == 200, linked.get_data(as_text=True)
    link_id = linked.get_json()["event"]["id"]
    problem = assert_problem(tclient.get(f"/v1/receipts/{link_id}"), 404)
    assert "consent decisions" in problem["detail"]


def test_the_ledger_thread_puts_a_write_into_a_checkpoint_without_waiting_for_its_poll(
    tclient, auth, clocked_ctx
):
    stop = start_checkpointer(clocked_ctx, every=30.0)  # a long poll: only the write's nudge wakes it
    try:
        event = tclient.post("/v1/consents", headers=auth, json=consent_body()).get_json()["events"][0]
        deadline = time.monotonic() + 10
        body = tclient.get(f"/v1/receipts/{event['id']}").get_json()
        while body["inclusion"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
            body = tclient.get(f"/v1/receipts/{event['id']}").get_json()
        assert body["inclusion"] is not None and body["inclusion"]["treeSize"] == 2
    finally:
        stop.set()


def test_the_offline_verifier_accepts_the_service_s_receipt_and_refuses_it_changed(
    tclient, auth, clocked_ctx, tmp_path
):
    """The service's own receipts through ``consent-service-verify receipt``, as a holder runs it."""
    import subprocess
    import sys

    vkey = tclient.get("/v1/ledger/key").get_data(as_text=True).strip()
    written = tclient.post("/v1/consents", headers=auth, json=consent_body()).get_json()
    path = tmp_path / "receipt.json"
    key_file = tmp_path / "log.vkey"
    key_file.write_text(vkey + "\n")

    def verify(document: dict) -> subprocess.CompletedProcess[str]:
        path.write_text(json.dumps(document))
        return subprocess.run(
            [sys.executable, "-m", "consent_verify", "receipt", str(path), "--log-key", str(key_file)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    early = verify(written["receipt"])  # as handed out by the write: not yet in a checkpoint
    assert early.returncode == 1 and "not in a checkpoint yet" in early.stdout
    tree.extend(clocked_ctx)
    later = tclient.get(f"/v1/receipts/{written['events'][0]['id']}").get_json()
    good = verify(later)
    assert good.returncode == 0, good.stdout + good.stderr
    changed = json.loads(json.dumps(later))
    changed["payload"]["services"][0]["purposes"][0]["decision"] = "denied"
    assert verify(changed).returncode == 1
    other = json.loads(json.dumps(later))
    other["inclusion"]["leaves"][0]["inclusionPath"] = other["inclusion"]["leaves"][1]["inclusionPath"]
    assert verify(other).returncode == 1
