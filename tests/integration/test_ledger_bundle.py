"""The auditor bundle end to end: consents recorded through the service, exported with
``consent-service ledger export``, verified by ``consent-service-verify bundle`` (also in a
virtual environment that holds nothing but the verifier and ``cryptography``); one changed byte
fails it; bad arguments are refused with a message; crypto-shredding a subject leaves the bundle
and a fresh export valid."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import or_, select

import consent_verify
from consent_service.cli import main as service_cli
from consent_service.context import Context
from consent_service.demo import seed
from consent_service.erasure.shred import shred_subject
from consent_service.ledger import tree
from consent_service.ledger.bundle import Selection, export
from consent_service.ledger.models import LedgerEvent
from consent_service.ledger.service import link_subjects
from consent_service.subjects.service import resolve
from consent_verify import bundle as checker
from consent_verify import note as tlog
from consent_verify.cli import main as verify_cli
from tests.integration.consent_writes import person, write


def record(ctx: Context, people: range, site_key: str | None = None) -> str:
    """Consents of ``people`` through the service, the tree extended after each (several
    checkpoints); returns the demo site's key."""
    site_key = site_key or str(seed(ctx)["site"]["site_key"])
    for i in people:
        write(ctx, site_key, ("consent", i, [("newsletter", i % 2 == 0), ("ads", True)], "api", "de"))
        write(ctx, site_key, ("banner", i, "accept_all", False, "en"))
        tree.extend(ctx)
    return site_key


def subject(ctx: Context, i: int) -> str:
    with ctx.uow(write=False) as uow:
        found = resolve(uow.session, ctx.crypto, person(i))
    assert found is not None
    return str(found)


def device(ctx: Context, i: int) -> str:
    from consent_service.subjects.service import IdentityRef

    with ctx.uow(write=False) as uow:
        found = resolve(uow.session, ctx.crypto, IdentityRef("device_id", f"dev-{i}"))
    assert found is not None
    return str(found)


def seqs_of(ctx: Context, members: list[str]) -> list[int]:
    e = LedgerEvent
    with ctx.uow(write=False) as uow:
        return list(
            uow.session.scalars(
                select(e.seq)
                .where(or_(e.subject_id.in_(members), e.related_subject_id.in_(members)))
                .order_by(e.seq)
            )
        )


def bundle_seqs(out: Path) -> list[int]:
    return [json.loads(line)["seq"] for line in (out / "events.jsonl").read_text().splitlines()]


@pytest.fixture
def same_keys(cli_env: dict[str, str], ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line with the test context's keys (the log's signing key among them)."""
    monkeypatch.setenv("CONSENT_MASTER_KEYS", ctx.config.master_keys)


def verify(out: Path, key: str, *extra: str) -> int:
    return verify_cli(["bundle", str(out), "--log-key", key, *extra])


def flip_byte(path: Path, offset: int) -> bytes:
    data = path.read_bytes()
    changed = bytearray(data)
    changed[offset] ^= 0x01
    path.write_bytes(bytes(changed))
    return data


def test_a_subject_bundle_exported_with_the_cli_verifies_and_one_changed_byte_fails(
    same_keys: None, ctx: Context, tmp_path: Path, capsys: Any
) -> None:
    record(ctx, range(1, 6))
    link_subjects(ctx, device(ctx, 3), subject(ctx, 3), actor_type="client", actor_id="crm")
    record(ctx, range(6, 8), _site(ctx))
    members = sorted({subject(ctx, 3), device(ctx, 3)})
    out = tmp_path / "bundle"
    result = CliRunner().invoke(
        service_cli, ["ledger", "export", "--subject", subject(ctx, 3), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "bundle written to" in result.output and "exported" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "checkpoint.note",
        "checkpoints",
        "consistency.jsonl",
        "events.jsonl",
        "log-key.txt",
        "manifest.json",
    ]
    key = tree.verifier_key(ctx)
    assert (out / "log-key.txt").read_text().strip() == key
    assert bundle_seqs(out) == seqs_of(ctx, members)  # the subject's and its linked device's, with the link
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["selection"] == {"subject": subject(ctx, 3), "subjects": members}
    assert manifest["counts"]["events"] == len(seqs_of(ctx, members)) >= 5
    assert manifest["counts"]["checkpoints"] >= 2  # the events were first held by several checkpoints
    capsys.readouterr()

    assert verify(out, key) == 0
    report = capsys.readouterr().out
    assert "bundle OK" in report and "WARN  witness cosignatures" in report and "FAIL" not in report
    # the README's commands are the verifier's
    assert "consent-service-verify bundle . --log-key" in (out / "README.md").read_text()
    # without --log-key: the bundle's own key, with a warning
    assert verify_cli(["bundle", str(out)]) == 0
    assert "obtain the log's key independently" in capsys.readouterr().out

    for name, offset in (("events.jsonl", 40), ("checkpoint.note", 3), ("checkpoints/" + _first(out), 3)):
        original = flip_byte(out / name, offset)
        assert verify(out, key) == 1, name
        assert (
            f"FAIL  files match the manifest: 1 of {len(manifest['files'])}: {name}"
            in capsys.readouterr().out
        )
        (out / name).write_bytes(original)
    assert verify(out, key) == 0

    # an event changed and the manifest made to match: its inclusion proof no longer holds
    lines = (out / "events.jsonl").read_text().splitlines()
    entry = json.loads(lines[0])
    event = json.loads(base64.b64decode(entry["leaf"]))
    event["decision"] = "denied" if event["decision"] != "denied" else "granted"
    leaf = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    entry.update(leaf=base64.b64encode(leaf).decode(), hash=hashlib.sha256(leaf).hexdigest())
    (out / "events.jsonl").write_text("\n".join([json.dumps(entry), *lines[1:]]) + "\n")
    manifest["files"]["events.jsonl"] = hashlib.sha256((out / "events.jsonl").read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert verify(out, key) == 1
    assert "FAIL  events are leaves of the checkpoint's tree: 1 of" in capsys.readouterr().out

    other = tlog.verifier_key(tree.origin(ctx), tlog_key())
    assert verify(out, other) == 1  # another key: nothing it signed


def tlog_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().public_key()


def _first(out: Path) -> str:
    return sorted(p.name for p in (out / "checkpoints").iterdir())[0]


def _site(ctx: Context) -> str:
    from consent_service.registry.models import Site

    with ctx.uow(write=False) as uow:
        return str(uow.session.scalars(select(Site.site_key)).first())


def test_a_time_range_bundle_and_the_refused_arguments(same_keys: None, ctx: Context, tmp_path: Path) -> None:
    record(ctx, range(1, 4))
    today = ctx.now().date().isoformat()
    out = tmp_path / "range"
    ok = CliRunner().invoke(
        service_cli, ["ledger", "export", "--from", today, "--to", today, "--out", str(out)]
    )
    assert ok.exit_code == 0, ok.output
    with ctx.uow(write=False) as uow:
        assert bundle_seqs(out) == list(
            uow.session.scalars(select(LedgerEvent.seq).order_by(LedgerEvent.seq))
        )
    assert verify(out, tree.verifier_key(ctx)) == 0
    empty = tmp_path / "none"
    ok = CliRunner().invoke(
        service_cli, ["ledger", "export", "--from", "2001-01-01", "--to", "2001-01-02", "--out", str(empty)]
    )
    assert ok.exit_code == 0 and bundle_seqs(empty) == []
    assert verify(empty, tree.verifier_key(ctx)) == 0

    (tmp_path / "file").write_text("x")
    for args, message in [
        (["--subject", "sub_x", "--out", str(out)], "is not empty"),
        (["--from", "yesterday", "--out", str(tmp_path / "a")], "'from' is not an ISO date"),
        (["--out", str(tmp_path / "b")], "select the events"),
        (["--subject", "sub_nobody", "--out", str(tmp_path / "c")], "sub_nobody"),
        (["--from", today, "--to", "2001-01-01", "--out", str(tmp_path / "d")], "'from' is not before 'to'"),
        (["--subject", "sub_x"], "Missing option '--out'"),
    ]:
        result = CliRunner().invoke(service_cli, ["ledger", "export", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output + result.stderr, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_crypto_shredding_leaves_the_bundle_and_a_fresh_export_valid(
    any_ctx: Context, tmp_path: Path
) -> None:
    ctx = any_ctx
    record(ctx, range(1, 5))
    who = subject(ctx, 2)
    before = tmp_path / "before"
    export(ctx, before, Selection(subject_id=who))
    key = tree.verifier_key(ctx)
    log_key = tlog.parse_verifier_key(key)
    assert checker.verify(before, log_key).ok

    record(ctx, range(5, 7), _site(ctx))
    shredded = shred_subject(ctx, who, actor_type="client", actor_id="admin")
    assert shredded["shredded_subjects"] == [who]  # its event not in the tree yet: export grows it

    report = checker.verify(before, log_key)  # nothing the bundle holds was rewritten
    assert report.ok, [c.detail for c in report.failures]
    after = tmp_path / "after"
    export(ctx, after, Selection(subject_id=who))
    report = checker.verify(after, log_key)
    assert report.ok, [c.detail for c in report.failures]
    old, new = bundle_seqs(before), bundle_seqs(after)
    assert new[: len(old)] == old and len(new) == len(old) + 1  # and the shredded event
    old_lines = (before / "events.jsonl").read_text().splitlines()
    assert (after / "events.jsonl").read_text().splitlines()[0].split('"inclusion_path"')[0] == old_lines[
        0
    ].split('"inclusion_path"')[0]
    # the later checkpoint extends the one the first bundle was against
    old_size = json.loads((before / "manifest.json").read_text())["tree_size"]
    new_size = json.loads((after / "manifest.json").read_text())["tree_size"]
    proof = tree.consistency(ctx, old_size, new_size)
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    args = [str(before / "checkpoint.note"), str(after / "checkpoint.note"), "--log-key", key]
    assert verify_cli(["consistency", *args, "--proof", str(tmp_path / "proof.json")]) == 0


# The verifier alone -------------------------------------------------------------------------


def test_the_verifier_runs_in_a_virtual_environment_with_nothing_but_cryptography(
    ctx: Context, tmp_path: Path
) -> None:
    record(ctx, range(1, 3))
    out = tmp_path / "bundle"
    export(ctx, out, Selection(subject_id=subject(ctx, 1)))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copytree(Path(consent_verify.__file__).parent, lib / "consent_verify")
    # cryptography, and the compiled backend of cffi (one module, its dependency) that its Rust
    # bindings load: nothing else, not even the cffi package
    import cryptography

    os.symlink(Path(cryptography.__file__).parent, lib / "cryptography")
    backend = importlib.util.find_spec("_cffi_backend")
    if backend is not None and backend.origin:
        os.symlink(backend.origin, lib / Path(backend.origin).name)
    (Path(site) / "verifier.pth").write_text(str(lib) + "\n")

    key = tree.verifier_key(ctx)
    run = subprocess.run(
        [str(python), "-I", "-m", "consent_verify.cli", "bundle", str(out), "--log-key", key],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "bundle OK" in run.stdout
    # python -m consent_verify is the same command
    again = subprocess.run(
        [str(python), "-I", "-m", "consent_verify", "bundle", str(out), "--log-key", key],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    absent = subprocess.run(
        [
            str(python),
            "-I",
            "-c",
            "import importlib.util as u, sys; import consent_verify.cli;"
            "print([m for m in ('consent_service', 'sqlalchemy', 'flask', 'cffi') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert absent.returncode == 0, absent.stderr
    assert absent.stdout.strip() == "[]"
    flip_byte(out / "events.jsonl", 10)
    broken = subprocess.run(
        [str(python), "-I", "-m", "consent_verify.cli", "bundle", str(out), "--log-key", key],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert broken.returncode == 1 and "FAIL" in broken.stdout


def _rehash(out: Path, name: str) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256((out / name).read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))


def test_changed_proofs_and_counts_fail_and_what_is_no_bundle_exits_2(
    ctx: Context, tmp_path: Path, capsys: Any
) -> None:
    record(ctx, range(1, 6))
    out = tmp_path / "bundle"
    export(ctx, out, Selection(subject_id=subject(ctx, 1)))
    key = tree.verifier_key(ctx)
    pristine = tmp_path / "pristine"
    shutil.copytree(out, pristine)
    assert verify(out, key) == 0

    proofs = (out / "consistency.jsonl").read_text().splitlines()
    assert proofs
    first = json.loads(proofs[0])
    raw = bytearray(base64.b64decode(first["consistency_path"][0]))
    raw[0] ^= 1
    first["consistency_path"][0] = base64.b64encode(bytes(raw)).decode()
    (out / "consistency.jsonl").write_text("\n".join([json.dumps(first), *proofs[1:]]) + "\n")
    _rehash(out, "consistency.jsonl")
    capsys.readouterr()
    assert verify(out, key) == 1
    assert "FAIL  latest checkpoint extends every earlier one: 1 of" in capsys.readouterr().out

    shutil.rmtree(out)
    shutil.copytree(pristine, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["counts"]["events"] += 1
    manifest["tree_size"] += 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert verify(out, key) == 1
    printed = capsys.readouterr().out
    assert (
        "FAIL  events counted as the manifest says" in printed
        and "FAIL  manifest states the checkpoint" in printed
    )

    shutil.rmtree(out)
    shutil.copytree(pristine, out)
    (out / "extra.txt").write_text("not listed")
    assert verify(out, key) == 0
    assert (
        "WARN  no files beside the manifest's: not in the manifest, not checked: extra.txt"
        in capsys.readouterr().out
    )
    (out / "checkpoint.note").unlink()
    assert verify(out, key) == 1

    (out / "manifest.json").write_text("{")
    assert verify(out, key) == 2
    (out / "manifest.json").unlink()
    assert verify(out, key) == 2
    assert verify(tmp_path / "nothing", key) == 2
    err = capsys.readouterr().err
    assert "has no manifest.json" in err and "is not a directory" in err and "Traceback" not in err
