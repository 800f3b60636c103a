"""What sealing the consent proof costs a consent write, measured in-process (no HTTP).

The service has no switch to store the proof unencrypted, and should not get one. So this calls
``record_consent`` directly, on a fresh database of the backend under test, once as the service
does (the proof sealed under the subject's data key) and once with
``consent_service.ledger.service.seal`` replaced, in this bench process only and for the
duration of those calls, by a function that returns the plaintext bytes. Everything else (new
subject, its data key, identity, ledger append, projection, receipt) is the same in both modes.
The two modes alternate in rounds so that other load on the machine hits both alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from unittest import mock

from bench import backends

# A proof as a cookie banner sends it: IP (truncated to its /24 before sealing), user agent, URL.
PROOF = {
    "ip": "203.0.113.77",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "url": "https://shop.example.org/checkout?step=consent",
}
WARMUP_CALLS = 50


def _plaintext_seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return bytes(plaintext)


def measure(
    backend: backends.Backend,
    calls: int,
    rounds: int,
    budget_s: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """``calls`` consent writes per mode (sealed proof, plaintext proof) in ``rounds`` rounds;
    stops after a round once ``budget_s`` is spent (both modes then have the same count)."""
    from consent_service.config import Config
    from consent_service.hashing import canonical_json
    from consent_service.ledger import service as ledger
    from consent_service.subjects.service import IdentityRef
    from consent_service.wiring import bootstrap

    ctx = bootstrap(Config(data_dir=backend.data_dir, database_url=backend.database_url))
    plain_proof = canonical_json({**PROOF, "ip": ledger.truncate_ip(PROOF["ip"])})
    counter = 0

    def write(mode: str, n: int) -> tuple[float, float]:
        nonlocal counter
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            counter += 1
            result = ledger.record_consent(
                ctx,
                ledger.RecordConsent(
                    decisions=[ledger.DecisionInput("purpose", "analytics", True)],
                    channel="api",
                    method="api",
                    actor_type="client",
                    actor_id="bench-proof-cost",
                    subject=IdentityRef("device_id", f"proofcost-{mode}-{counter}"),
                    proof=PROOF,
                ),
            )
            stored = result.events[0]["proof_ct"]
            if (stored == plain_proof) != (mode == "plaintext"):
                raise RuntimeError(f"{mode} mode stored a proof of the other kind")
        return time.perf_counter() - wall0, time.process_time() - cpu0

    def run(mode: str, n: int) -> tuple[float, float]:
        if mode == "sealed":
            return write(mode, n)
        with mock.patch.object(ledger, "seal", _plaintext_seal):
            return write(mode, n)

    totals = {"sealed": [0, 0.0, 0.0], "plaintext": [0, 0.0, 0.0]}  # calls, wall s, cpu s
    rates: dict[str, list[float]] = {"sealed": [], "plaintext": []}
    per_round = max(1, calls // rounds)
    started = time.perf_counter()
    note = ""
    try:
        run("sealed", WARMUP_CALLS)
        run("plaintext", WARMUP_CALLS)
        for r in range(rounds):
            for mode in ("sealed", "plaintext") if r % 2 == 0 else ("plaintext", "sealed"):
                wall, cpu = run(mode, per_round)
                totals[mode][0] += per_round
                totals[mode][1] += wall
                totals[mode][2] += cpu
                rates[mode].append(round(per_round / wall, 1))
            if r + 1 < rounds and time.perf_counter() - started > budget_s:
                note = f"time budget reached after {r + 1} of {rounds} rounds"
                break
    finally:
        ctx.db.dispose()
    out: dict[str, Any] = {"rounds": len(rates["sealed"]), "calls_per_round": per_round, "proof": PROOF}
    for mode, (n, wall, cpu) in totals.items():
        out[mode] = {
            "calls": n,
            "seconds": round(wall, 2),
            "per_s": round(n / wall, 1) if wall else 0.0,
            "cpu_ms_per_call": round(cpu * 1000 / n, 3) if n else 0.0,
            "per_s_rounds": rates[mode],
        }
    if out["plaintext"]["per_s"]:
        out["ratio"] = round(out["sealed"]["per_s"] / out["plaintext"]["per_s"], 3)
    if out["sealed"]["cpu_ms_per_call"]:
        out["cpu_ratio"] = round(out["plaintext"]["cpu_ms_per_call"] / out["sealed"]["cpu_ms_per_call"], 3)
    if note:
        out["note"] = note
    out["seal_us"] = round(_seal_seconds(plain_proof) * 1e6, 2)
    log(
        f"  proof sealing: {out['sealed']['per_s']:,.0f} writes/s sealed vs "
        f"{out['plaintext']['per_s']:,.0f}/s plaintext (ratio {out.get('ratio', 0):.3f}; CPU "
        f"{out['sealed']['cpu_ms_per_call']:.2f} vs {out['plaintext']['cpu_ms_per_call']:.2f} ms/call; "
        f"one seal alone {out['seal_us']:.1f} µs)"
    )
    return out


def _seal_seconds(plaintext: bytes, n: int = 20_000) -> float:
    """Seconds one proof seal takes on its own (AES-256-GCM, fresh nonce, as in the service)."""
    import os

    from consent_service.crypto.envelope import field_aad, seal

    key = os.urandom(32)
    aads = [field_aad("sub_bench", "ledger_events", "proof", str(i)) for i in range(n)]
    started = time.perf_counter()
    for aad in aads:
        seal(key, plaintext, aad)
    return (time.perf_counter() - started) / n


def fresh_backend(name: str, admin_url: str) -> backends.Backend:
    """A second, empty database of the same kind, prepared like the first (keys, schema, demo)."""
    backend = backends.sqlite_backend() if name == "sqlite" else backends.postgres_backend(admin_url)
    try:
        backends.prepare(backend)
    except BaseException:
        backend.cleanup()
        raise
    return backend
