"""``keys rotate`` over many data keys on a temporary PostgreSQL database.

The database is migrated (``consent_service.migrate.upgrade``) and given a key file; subjects
and their wrapped data keys are made here (a random data key each, sealed under the master key
exactly as ``Crypto.new_data_key`` does) and loaded with COPY, which takes seconds where a
million ``record_consent`` calls would take hours. Then ``consent-service keys rotate`` runs as
a subprocess, as an operator would run it, and its progress lines are shown and kept. Afterwards
every data key must be on the new master key version and a sample must unwrap, under the new
keyring, to the data key that was seeded.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import make_url

from bench import backends

SAMPLE_EVERY = 1000  # keep the data key of every 1000th subject to check the rotation
COPY_CHUNK = 50_000


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _cli_command() -> list[str]:
    import sys

    exe = Path(sys.executable).with_name("consent-service")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "consent_service.cli"]


def seed_keys(database_url: str, kek: bytes, version: int, count: int) -> tuple[dict[str, bytes], float]:
    """``count`` subjects with a data key wrapped by ``kek``, loaded with COPY; returns a sample
    of the plain data keys (subject id -> key) and the seconds it took."""
    import secrets

    import psycopg

    started = time.perf_counter()
    aead = AESGCM(kek)
    now = dt.datetime.now(dt.UTC)
    sample: dict[str, bytes] = {}
    with psycopg.connect(_libpq(database_url)) as conn:
        with conn.cursor() as cur:
            done = 0
            while done < count:
                n = min(COPY_CHUNK, count - done)
                rows = []
                randomness = os.urandom(n * 44)  # 32-byte data key + 12-byte nonce per subject
                for i in range(n):
                    sid = "sub_" + secrets.token_urlsafe(16)
                    dek = randomness[i * 44 : i * 44 + 32]
                    nonce = randomness[i * 44 + 32 : i * 44 + 44]
                    wrapped = nonce + aead.encrypt(nonce, dek, b"dek|" + sid.encode())
                    rows.append((sid, wrapped))
                    if (done + i) % SAMPLE_EVERY == 0:
                        sample[sid] = dek
                with cur.copy("COPY subjects (id, root_id, created_at) FROM STDIN") as copy:
                    for sid, _ in rows:
                        copy.write_row((sid, sid, now))
                with cur.copy(
                    "COPY subject_keys (subject_id, kek_version, wrapped_key, created_at) FROM STDIN"
                ) as copy:
                    for sid, wrapped in rows:
                        copy.write_row((sid, version, wrapped, now))
                done += n
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE subjects")
        conn.execute("ANALYZE subject_keys")
    return sample, time.perf_counter() - started


def vacuum(database_url: str) -> None:
    """Clean up after a previous rotation, as autovacuum would, so that each run starts alike."""
    import psycopg

    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE subject_keys")


def keys_by_version(database_url: str) -> dict[int, int]:
    import psycopg

    with psycopg.connect(_libpq(database_url)) as conn:
        rows = conn.execute(
            "SELECT kek_version, count(*) FROM subject_keys WHERE wrapped_key IS NOT NULL "
            "GROUP BY kek_version ORDER BY kek_version"
        ).fetchall()
    return {int(v): int(n) for v, n in rows}


def check_sample(database_url: str, key_file: Path, sample: dict[str, bytes]) -> dict[str, Any]:
    """Unwrap the sampled data keys under the key file's current master key."""
    import psycopg

    from consent_service.crypto.envelope import DecryptionFailed, open_sealed
    from consent_service.crypto.keyring import LocalFileProvider

    material = LocalFileProvider(key_file).load()
    kek = material.keks[material.current_kek]
    with psycopg.connect(_libpq(database_url)) as conn:
        rows = conn.execute(
            "SELECT subject_id, kek_version, wrapped_key FROM subject_keys WHERE subject_id = ANY(%s)",
            (list(sample),),
        ).fetchall()
    ok = wrong_version = bad = 0
    for sid, version, wrapped in rows:
        if version != material.current_kek:
            wrong_version += 1
            continue
        try:
            ok += open_sealed(kek, bytes(wrapped), b"dek|" + sid.encode()) == sample[sid]
        except DecryptionFailed:
            bad += 1
    return {
        "sampled": len(sample),
        "found": len(rows),
        "unwrapped": ok,
        "wrong_version": wrong_version,
        "failed": bad,
        "current_version": material.current_kek,
        "ok": ok == len(sample),
    }


def run_rotate(
    env: dict[str, str], batch_size: int, timeout: float, log: Callable[[str], None], raw_path: Path
) -> dict[str, Any]:
    """``consent-service keys rotate --batch-size N`` with its output shown as it comes."""
    command = [*_cli_command(), "keys", "rotate", "--batch-size", str(batch_size)]
    lines: list[str] = []
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=backends.REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip()
            lines.append(f"{time.perf_counter() - started:7.1f} s  {line}")
            log(f"    | {line}")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = process.wait(timeout=timeout)
    except BaseException:  # time limit, signal or timeout: stop the rotation we started
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)
        raise
    finally:
        reader.join(timeout=5)
        raw_path.write_text(f"$ {' '.join(command)}\n" + "\n".join(lines) + "\n")
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"keys rotate --batch-size {batch_size} exited with {code}: {lines[-3:]}")
    progress = [line for line in lines if "re-wrapped" in line and "%)" in line]
    return {
        "batch_size": batch_size,
        "seconds": round(seconds, 1),
        "progress_lines": len(progress),
        "output_tail": lines[-3:],
    }


def measure(
    entry: dict[str, Any],
    admin_url: str,
    batch_sizes: list[int],
    deadline: float,
    log: Callable[[str], None],
    out: Path,
) -> None:
    """Seed ``entry["keys"]`` data keys, rotate once per batch size (while time allows), verify
    after each run; figures go into ``entry`` as they come, so a failure keeps what was measured.
    The temporary database and directory are removed whatever happens."""
    from consent_service.crypto.keyring import KeyMaterial, LocalFileProvider
    from consent_service.migrate import upgrade

    count = entry["keys"]
    entry["runs"] = []
    backend = backends.postgres_backend(admin_url)
    try:
        entry["version"] = backend.version
        upgrade(backend.database_url)
        key_file = backend.data_dir / "rotation-keys.json"
        material = KeyMaterial.generate()
        LocalFileProvider(key_file).save(material)
        log(f"rotation: seeding {count:,} subjects and wrapped data keys with COPY")
        sample, seconds = seed_keys(
            backend.database_url, material.keks[material.current_kek], material.current_kek, count
        )
        entry["seed_seconds"] = round(seconds, 1)
        entry["seed_keys_per_s"] = round(count / seconds, 1)
        entry["initial_versions"] = keys_by_version(backend.database_url)
        log(f"rotation: seeded in {seconds:.1f} s ({count / seconds:,.0f}/s); {entry['initial_versions']}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
        env.update(
            CONSENT_DATA_DIR=str(backend.data_dir),
            CONSENT_DATABASE_URL=backend.database_url,
            CONSENT_KEY_FILE=str(key_file),
        )
        for index, batch_size in enumerate(batch_sizes):
            left = deadline - time.monotonic()
            if index and entry["runs"]:
                needed = entry["runs"][-1]["seconds"] * 1.3 + 20
                if left < needed:
                    entry["skipped_batch_sizes"] = batch_sizes[index:]
                    log(f"rotation: not enough time left for --batch-size {batch_size} ({left:.0f} s)")
                    break
            if index:
                vacuum(backend.database_url)  # the previous run left a million dead row versions
            log(f"rotation: consent-service keys rotate --batch-size {batch_size}")
            run = run_rotate(env, batch_size, max(left, 30.0), log, out / f"rotate-{batch_size}.txt")
            run["keys_per_s"] = round(count / run["seconds"], 1)
            run["versions"] = keys_by_version(backend.database_url)
            run["sample"] = check_sample(backend.database_url, key_file, sample)
            current = run["sample"]["current_version"]
            run["all_on_current"] = run["versions"] == {current: count}
            entry["runs"].append(run)
            log(
                f"rotation: batch {batch_size}: {run['seconds']:.1f} s ({run['keys_per_s']:,.0f} keys/s), "
                f"{run['progress_lines']} progress lines; keys by version {run['versions']}; sample "
                f"{run['sample']['unwrapped']}/{run['sample']['sampled']} unwrap under version {current}"
            )
    finally:
        problems = backend.cleanup()
        if problems:
            entry["cleanup_problems"] = problems
