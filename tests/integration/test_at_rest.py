"""No identity, proof or vault value is stored in plaintext: raw SQLite file + WAL, and a pg_dump.

For 100 subjects an email, a phone number, consent proofs (IP, user agent, URL) and a vaulted
address (encrypted, then decrypted once so the access log has entries) go through the
real services; then the bytes at rest are searched for every submitted value, in the forms a
careless implementation would store (as given, normalised, and the /24 the IP is cut to).
A control value that *is* stored in plaintext (the subject ids) proves the scan sees the data.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger.service import link_subjects
from consent_service.subjects.service import IdentityRef
from consent_service.vault.service import EncryptItem
from consent_service.vault.service import decrypt as vault_decrypt
from consent_service.vault.service import encrypt as vault_encrypt
from tests.integration.helpers import consent, is_sqlite

SUBJECTS = 100


def submit(ctx: Context) -> tuple[list[str], list[str]]:
    """Store the personal data; returns (secrets that must not appear, subject ids that do)."""
    seed(ctx)
    secrets: list[str] = []
    subject_ids: list[str] = []
    for i in range(SUBJECTS):
        mail = f"Person.{i:03d}.Qx@AtRest-Example.org"
        phone = f"+49 151 77{i:03d} 42"
        ip = f"198.51.{i}.{250 - i}"
        agent = f"Mozilla/5.0 (X11; Linux x86_64) AtRestAgent/{i:03d}.7"
        url = f"https://shop.example/checkout?campaign=at-rest-{i:03d}"
        proof = {"ip": ip, "user_agent": agent, "url": url}
        by_mail = consent(
            ctx,
            identity=IdentityRef("email", mail),
            decisions=[("purpose", "newsletter", True), ("purpose", "analytics", i % 2 == 0)],
            proof=proof,
        )
        by_phone = consent(
            ctx,
            identity=IdentityRef("phone", phone),
            decisions=[("purpose", "ads", False)],
            channel="phone",
            proof=proof,
        )
        link_subjects(ctx, by_phone.subject_id, by_mail.subject_id, actor_type="client", actor_id="cli_test")
        vaulted = f"Vault-Street {i:03d}, 10115 AtRestCity"
        tokens = vault_encrypt(ctx, [EncryptItem("address", vaulted, subject_id=by_mail.subject_id)])
        assert vault_decrypt(ctx, tokens[0], "newsletter", client_id="cli_test")["value"] == vaulted
        truncated = f"198.51.{i}.0"
        digits = "+" + "".join(ch for ch in phone if ch.isdigit())
        secrets += [mail, mail.lower(), phone, digits, ip, truncated, agent, url, vaulted]
        subject_ids += [by_mail.subject_id, by_phone.subject_id]
    return secrets, subject_ids


def found(haystack: bytes, values: list[str], *, hex_too: bool = False) -> list[str]:
    """Values present in ``haystack`` as UTF-8 (and, for a text dump of bytea, as hex)."""
    hits = []
    lowered = haystack.lower()
    for value in values:
        raw = value.encode()
        if raw in haystack or (hex_too and raw.hex().encode() in lowered):
            hits.append(value)
    return hits


def test_nothing_personal_in_plaintext_at_rest(any_ctx: Context, tmp_path: Path) -> None:
    secrets, subject_ids = submit(any_ctx)
    if is_sqlite(any_ctx):
        db_file = Path(make_url(any_ctx.db.url).database or "")
        wal = db_file.with_name(db_file.name + "-wal")
        # read while the engine's connections are open: closing the last one folds the WAL away
        assert wal.exists() and wal.stat().st_size > 0, "expected a write-ahead log to scan"
        files = {"database file": db_file.read_bytes(), "WAL": wal.read_bytes()}
        assert found(files["database file"] + files["WAL"], subject_ids) == subject_ids  # control
        for name, data in files.items():
            assert found(data, secrets) == [], f"plaintext personal data in the SQLite {name}"
    else:
        url = make_url(any_ctx.db.url)
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--dbname", dsn], capture_output=True, timeout=120, check=True
        ).stdout
        assert found(dump, subject_ids) == subject_ids  # control: the dump holds the data
        assert b"COPY public.ledger_events" in dump
        assert found(dump, secrets, hex_too=True) == [], "plaintext personal data in pg_dump"
