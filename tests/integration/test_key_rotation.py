"""Key rotation, retirement, re-indexing and the backup guarantee on real SQLite and PostgreSQL.

Contexts here read their keys from a key FILE (rotation saves new versions; the environment
provider of the other tests is read-only), and every check of "still readable" goes through a
fresh context built from that file, so nothing is answered from an in-process key cache.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from consent_service.config import Config
from consent_service.context import Context
from consent_service.crypto.envelope import ERASED, DecryptionFailed, open_sealed
from consent_service.crypto.keyring import KeyMaterial, LocalFileProvider
from consent_service.demo import seed
from consent_service.errors import ConfigurationError, Conflict, NotFound
from consent_service.ledger.queries import history
from consent_service.subjects import backups, rotation
from consent_service.subjects.service import IdentityRef, get_or_create, identities_of, resolve
from consent_service.wiring import bootstrap
from tests.conftest import migrate
from tests.integration.helpers import consent, email, is_sqlite, raw


def keyed_context(url: str, data_dir: Path) -> Context:
    """A context whose keys live in ``data_dir/keyring.json`` (created on first use)."""
    key_file = data_dir / "keyring.json"
    if not key_file.exists():
        LocalFileProvider(key_file).save(KeyMaterial.generate())
    return bootstrap(Config(data_dir=data_dir, database_url=url, key_file=key_file, testing=True))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def keyed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Context]:
    """A key-file context on a migrated SQLite file or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'consent.db'}"
        migrate(url)
    else:
        url = request.getfixturevalue("pg_url")
    context = keyed_context(url, tmp_path)
    yield context
    context.db.dispose()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Callable[[Context], Context]]:
    """``fresh(ctx)``: a new context on ctx's database from the key file as it is now."""
    made: list[Context] = []

    def make(ctx: Context) -> Context:
        made.append(keyed_context(ctx.db.url, ctx.config.data_dir))
        return made[-1]

    yield make
    for context in made:
        context.db.dispose()


def address(i: int) -> str:
    return f"u{i}@rotation.example"


def seed_subjects(ctx: Context, count: int) -> list[str]:
    """``count`` subjects with one email identity each, in one transaction."""
    with ctx.uow() as uow:
        ids = [
            get_or_create(uow.session, ctx.crypto, IdentityRef("email", address(i)), ctx.now())[0]
            for i in range(count)
        ]
        uow.commit()
    return ids


def assert_all_readable(ctx: Context, ids: list[str]) -> None:
    with ctx.uow(write=False) as uow:
        for i, sid in enumerate(ids):
            assert identities_of(uow.session, ctx.crypto, sid) == [{"type": "email", "value": address(i)}]


def kek_versions(ctx: Context) -> dict[int, int]:
    """Live data keys per master key version, straight from the table."""
    with raw(ctx) as conn:
        rows = conn.execute(
            text(
                "SELECT kek_version, count(*) FROM subject_keys "
                "WHERE wrapped_key IS NOT NULL GROUP BY kek_version"
            )
        ).all()
    return {int(v): int(n) for v, n in rows}


def key_file(ctx: Context) -> KeyMaterial:
    return LocalFileProvider(ctx.config.data_dir / "keyring.json").load()


class Interrupted(Exception):
    """What a crash looks like to the caller: the run stops between two batches."""


def stop_after(batches: int) -> Callable[[int, int], None]:
    calls = 0

    def progress(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls >= batches:
            raise Interrupted(f"stopped at {done}/{total}")

    return progress


# rotate and retire ----------------------------------------------------------------------------


def test_rotation_rewraps_every_key_and_retirement_waits_for_it(
    keyed: Context, fresh: Callable[[Context], Context]
) -> None:
    seed(keyed)
    ids = seed_subjects(keyed, 1500)
    proofs = {
        sid: consent(keyed, subject_id=sid, decisions=[("purpose", "newsletter", True)], proof={"page": sid})
        for sid in ids[:5]
    }
    assert kek_versions(keyed) == {1: 1500}
    with pytest.raises(Conflict, match="current one"):
        rotation.retire(keyed, 1)

    with pytest.raises(Interrupted):
        rotation.rotate(keyed, batch_size=200, progress=stop_after(2))
    assert kek_versions(keyed) == {2: 400, 1: 1100}
    assert key_file(keyed).current_kek == 2
    with pytest.raises(Conflict, match="1100 data keys still use master key version 1"):
        rotation.retire(keyed, 1)
    assert set(key_file(keyed).keks) == {1, 2}
    assert_all_readable(fresh(keyed), ids)  # half-way: both versions read

    seen: list[tuple[int, int]] = []
    result = rotation.rotate(keyed, batch_size=200, progress=lambda d, t: seen.append((d, t)))
    assert result["resumed"] is True and result["created"] is False
    assert result["current_version"] == 2 and result["rewrapped"] == 1100 and result["remaining"] == 0
    assert seen[-1] == (1100, 1100) and len(seen) == 6
    assert kek_versions(keyed) == {2: 1500}
    assert rotation.status(keyed)["rotation_pending"] == 0

    rotation.retire(keyed, 1)
    assert set(key_file(keyed).keks) == {2}
    with pytest.raises(NotFound):
        rotation.retire(keyed, 1)
    after = fresh(keyed)
    assert_all_readable(after, ids)
    for sid, recorded in proofs.items():
        events = history(after, sid)["events"]
        assert [e["id"] for e in events] == [e["id"] for e in recorded.events]
        assert [e["proof"] for e in events] == [{"page": sid}]

    # the next rotation creates version 3 and re-wraps everything again
    result = rotation.rotate(keyed, batch_size=1000)
    assert (result["created"], result["current_version"], result["rewrapped"]) == (True, 3, 1500)
    assert kek_versions(keyed) == {3: 1500}
    assert_all_readable(fresh(keyed), ids[:50])


def test_rotation_needs_a_writable_key_provider(ctx: Context) -> None:
    seed_subjects(ctx, 3)
    with pytest.raises(ConfigurationError, match="CONSENT_KEY_FILE"):
        rotation.rotate(ctx)
    assert kek_versions(ctx) == {1: 3}


@pytest.mark.postgres
@pytest.mark.parametrize("operation", ["rotate", "reindex"])
def test_a_shred_during_a_batch_stays_shredded(
    operation: str,
    pg_url: str,
    tmp_path: Path,
    fresh: Callable[[Context], Context],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A subject shredded between a batch's read and its write gets neither its data key nor
    its blind index back (PostgreSQL: nothing locks the rows a batch has read)."""
    ctx = keyed_context(pg_url, tmp_path)
    ids = seed_subjects(ctx, 20)
    victim = ids[0]  # the first row of the batch: its data key is read before the shred
    other = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    hooked = "seal" if operation == "rotate" else "open_sealed"
    real = getattr(rotation, hooked)
    shredded = False

    def shred_then_continue(*args: Any) -> Any:
        nonlocal shredded
        if not shredded:  # the batch has read its rows; another transaction shreds one of them
            shredded = True
            with other.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE subject_keys SET wrapped_key = NULL, shredded_at = now() WHERE subject_id = :s"
                    ),
                    {"s": victim},
                )
                conn.execute(
                    text("UPDATE identities SET blind_index = NULL WHERE subject_id = :s"), {"s": victim}
                )
        return real(*args)

    monkeypatch.setattr(rotation, hooked, shred_then_continue)
    try:
        if operation == "rotate":
            result = rotation.rotate(ctx, batch_size=100)
            assert (result["rewrapped"], result["skipped"], result["remaining"]) == (19, 1, 0)
        else:
            result = rotation.reindex(ctx, batch_size=100, settle_s=0)
            # the skipped row is still on the old index version: the next pass forgets it
            assert (result["reindexed"], result["forgotten"], result["remaining"]) == (19, 1, 0)
    finally:
        other.dispose()
        ctx.db.dispose()
    assert shredded
    with raw(fresh(ctx)) as conn:
        key = conn.execute(
            text("SELECT wrapped_key FROM subject_keys WHERE subject_id = :s"), {"s": victim}
        ).one()
        index = conn.execute(
            text("SELECT blind_index FROM identities WHERE subject_id = :s"), {"s": victim}
        ).one()
    assert key.wrapped_key is None and index.blind_index is None
    assert kek_versions(fresh(ctx)) == ({2: 19} if operation == "rotate" else {1: 19})


# an interrupted run of the command --------------------------------------------------------------


def command_env(ctx: Context) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update(
        CONSENT_DATABASE_URL=ctx.db.url,
        CONSENT_KEY_FILE=str(ctx.config.data_dir / "keyring.json"),
        CONSENT_DATA_DIR=str(ctx.config.data_dir),
    )
    return env


def command(ctx: Context, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "consent-service"
    return subprocess.run(
        [str(exe), *args],
        env=command_env(ctx),
        cwd=ctx.config.data_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def kill_part_way(ctx: Context, *args: str) -> list[str]:
    """Start the command, SIGKILL it at its first progress line; returns the lines it printed.

    Returns an empty list if the run finished before the kill landed (a very slow parent).
    """
    exe = Path(sys.executable).parent / "consent-service"
    proc = subprocess.Popen(
        [str(exe), *args],
        env=command_env(ctx),
        cwd=ctx.config.data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line.strip())
            if "%)" in line:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()
    return lines if proc.returncode == -signal.SIGKILL else []


def test_a_killed_rotation_resumes_without_a_new_version_or_a_lost_key(
    ctx: Context, tmp_path: Path, fresh: Callable[[Context], Context]
) -> None:
    keyed_ctx = keyed_context(ctx.db.url, tmp_path)
    ids = seed_subjects(keyed_ctx, 3000)
    for _ in range(3):  # a kill that lands after the run finished is retried with a new rotation
        versions_before = len(key_file(keyed_ctx).keks)
        lines = kill_part_way(keyed_ctx, "keys", "rotate", "--batch-size", "20")
        killed = key_file(keyed_ctx)
        split = kek_versions(keyed_ctx)
        if lines and split.get(killed.current_kek, 0) < 3000:
            break
    else:
        pytest.fail("the rotation always finished before it could be killed")
    assert lines[-1].startswith("re-wrapped ") and lines[-1].endswith("data keys (10%)"), lines
    assert len(killed.keks) == versions_before + 1
    assert split.get(killed.current_kek, 0) >= 300, split  # at least the 10% it reported
    assert sum(n for v, n in split.items() if v != killed.current_kek) > 0, split  # not all done
    assert sum(split.values()) == 3000

    status = command(keyed_ctx, "keys", "status")
    assert status.returncode == 0, status.stderr
    assert (
        f"rotation pending for {sum(split.values()) - split[killed.current_kek]:,} data keys" in status.stdout
    )

    result = command(keyed_ctx, "keys", "rotate", "--batch-size", "20")
    assert result.returncode == 0, result.stderr
    assert "resumed an interrupted rotation" in result.stdout
    progress = [line for line in result.stderr.splitlines() if line.startswith("re-wrapped ")]
    assert len(progress) >= 10 and progress[-1].endswith("(100%)"), result.stderr
    assert key_file(keyed_ctx).keks.keys() == killed.keks.keys()  # no extra version
    assert kek_versions(keyed_ctx) == {killed.current_kek: 3000}
    assert_all_readable(fresh(keyed_ctx), ids)

    for old in sorted(v for v in killed.keks if v != killed.current_kek):
        retired = command(keyed_ctx, "keys", "retire", str(old))
        assert retired.returncode == 0, retired.stderr
    refused = command(keyed_ctx, "keys", "retire", str(killed.current_kek))
    assert refused.returncode == 2 and "is the current one" in refused.stderr
    assert set(key_file(keyed_ctx).keks) == {killed.current_kek}
    assert_all_readable(fresh(keyed_ctx), ids)
    keyed_ctx.db.dispose()


# re-indexing ----------------------------------------------------------------------------------


def test_identities_stay_findable_before_during_and_after_a_reindex(
    keyed: Context, fresh: Callable[[Context], Context]
) -> None:
    from consent_service.erasure.shred import shred_subject

    ids = seed_subjects(keyed, 600)
    erased = ids[450]
    shred_subject(keyed, erased, actor_type="client", actor_id="test")
    running = fresh(keyed)  # a process started before the re-index; it looks at the file each call
    running.crypto.refresh_s = 0

    def findable(context: Context) -> None:
        with context.uow(write=False) as uow:
            found = [
                resolve(uow.session, context.crypto, IdentityRef("email", address(i))) for i in range(600)
            ]
        assert found == [None if sid == erased else sid for sid in ids]

    findable(running)
    with pytest.raises(Interrupted):
        rotation.reindex(keyed, batch_size=100, progress=stop_after(3), settle_s=0)
    assert set(key_file(keyed).index_keys) == {1, 2}
    assert rotation.status(keyed)["identities"] == {2: 300, 1: 300}
    findable(running)
    findable(fresh(keyed))

    result = rotation.reindex(keyed, batch_size=100, settle_s=0)
    assert result["resumed"] is True and result["created"] is False
    assert (result["reindexed"], result["forgotten"], result["remaining"]) == (299, 1, 0)
    assert result["removed_versions"] == [1]
    material = key_file(keyed)
    assert material.index_keys.keys() == {2} and material.current_index == 2
    findable(running)
    findable(fresh(keyed))
    assert running.crypto.material.index_keys.keys() == {2}
    with raw(keyed) as conn:
        row = conn.execute(
            text("SELECT blind_index, index_version FROM identities WHERE subject_id = :s"), {"s": erased}
        ).one()
    assert tuple(row) == (None, 2)

    # a re-index with nothing pending makes a new key and leaves one key again
    result = rotation.reindex(keyed, batch_size=1000, settle_s=0)
    assert (result["created"], result["current_version"], result["removed_versions"]) == (True, 3, [2])
    findable(fresh(keyed))


# the backup guarantee -------------------------------------------------------------------------


@pytest.fixture
def copy_of(tmp_path: Path) -> Iterator[Callable[[Context], str]]:
    """``copy_of(ctx)``: a consistent copy of ctx's database, taken while nothing writes."""
    dropped: list[tuple[str, str]] = []

    def take(ctx: Context) -> str:
        if is_sqlite(ctx):
            target = tmp_path / f"backup-{uuid.uuid4().hex[:6]}.db"
            source = sqlite3.connect(make_url(ctx.db.url).database or "")
            dest = sqlite3.connect(target)
            try:
                source.backup(dest)
            finally:
                dest.close()
                source.close()
            return f"sqlite:///{target}"
        live = make_url(ctx.db.url)
        name = f"consent_bk_{uuid.uuid4().hex[:10]}"
        ctx.db.dispose()  # CREATE DATABASE ... TEMPLATE needs the source without connections
        admin_url = live.set(database="postgres").render_as_string(hide_password=False)
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{live.database}"'))
        admin.dispose()
        dropped.append((admin_url, name))
        return live.set(database=name).render_as_string(hide_password=False)

    yield take
    for admin_url, name in dropped:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_erasure_reaches_a_backup_once_the_old_master_key_is_retired(
    keyed: Context, fresh: Callable[[Context], Context], copy_of: Callable[[Context], str], tmp_path: Path
) -> None:
    from consent_service.erasure.shred import shred_subject
    from consent_service.ledger.suppressions import email_hash

    seed(keyed)
    a = consent(keyed, identity=email("anna"), proof={"page": "anna-signup"}).subject_id
    b = consent(keyed, identity=email("bert"), proof={"page": "bert-signup"}).subject_id
    version_at_backup = keyed.crypto.material.current_kek
    backup_url = copy_of(keyed)

    shred_subject(keyed, a, actor_type="client", actor_id="test")
    assert rotation.rotate(keyed)["rewrapped"] == 1  # B only: A has no key left to re-wrap
    rotation.reindex(keyed, settle_s=0)
    rotation.retire(keyed, version_at_backup)

    # the old copy, opened with the current keyring
    copy_dir = tmp_path / "restore"
    copy_dir.mkdir()
    (copy_dir / "keyring.json").write_bytes((tmp_path / "keyring.json").read_bytes())
    (copy_dir / "keyring.json").chmod(0o600)
    restored = keyed_context(backup_url, copy_dir)
    try:
        with restored.uow(write=False) as uow:
            wrapped = dict(
                uow.session.execute(
                    text("SELECT subject_id, wrapped_key FROM subject_keys WHERE subject_id IN (:a, :b)"),
                    {"a": a, "b": b},
                ).all()
            )
            assert wrapped[a] is not None  # the copy still holds A's wrapped key ...
            for kek in restored.crypto.material.keks.values():  # ... which no key left can open
                with pytest.raises(DecryptionFailed):
                    open_sealed(kek, bytes(wrapped[a]), b"dek|" + a.encode())
            # the raw copy cannot decrypt B either: its key is wrapped by the retired version,
            # which is why adopt_keys is the restore procedure
            for sid in (a, b):
                with pytest.raises(ConfigurationError, match=f"version {version_at_backup} is not"):
                    identities_of(uow.session, restored.crypto, sid)
        for sid in (a, b):
            with pytest.raises(ConfigurationError):
                history(restored, sid)

        assert backups.adopt_keys(keyed, backup_url) == {
            "adopted": 1,
            "erased": 1,
            "missing": 0,
            "reindexed": 1,
            "suppressions": 1,  # A's hashed address, kept by the erasure after the copy was taken
        }

        bert = history(restored, b)
        assert bert["identities"] == [{"type": "email", "value": email("bert").value}]
        assert [e["proof"] for e in bert["events"]] == [{"page": "bert-signup"}]
        anna = history(restored, a)
        assert anna["identities"] == [{"type": "email", "value": ERASED}]
        assert [e["proof"] for e in anna["events"]] == [ERASED]
        with restored.uow(write=False) as uow:
            assert resolve(uow.session, restored.crypto, email("bert")) == b  # re-indexed in the copy
            assert resolve(uow.session, restored.crypto, email("anna")) is None
            row = uow.session.execute(
                text("SELECT wrapped_key, shredded_at FROM subject_keys WHERE subject_id = :a"), {"a": a}
            ).one()
            assert row.wrapped_key is None and row.shredded_at is not None
            kept = uow.session.execute(text("SELECT email_sha256 FROM suppressed_addresses")).scalars().all()
            assert kept == [email_hash(email("anna").value)]  # A stays suppressed in the restore
    finally:
        restored.db.dispose()
    assert history(fresh(keyed), b)["identities"][0]["value"] == email("bert").value


def test_adopting_keys_refuses_the_live_database_and_an_unrelated_one(
    ctx: Context, tmp_path: Path, copy_of: Callable[[Context], str]
) -> None:
    from consent_service.errors import InvalidInput

    keyed_ctx = keyed_context(ctx.db.url, tmp_path)
    seed_subjects(keyed_ctx, 3)
    with pytest.raises(InvalidInput):
        backups.adopt_keys(keyed_ctx, keyed_ctx.db.url)
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    migrate(other_url)
    other = keyed_context(other_url, tmp_path)
    seed_subjects(other, 2)
    other.db.dispose()
    with pytest.raises(Conflict, match="no subject of the copy"):
        backups.adopt_keys(keyed_ctx, other_url)
    keyed_ctx.db.dispose()
