"""Load generation from a separate process: wrk with Lua scripts, or the Python fallback.

Every run returns the same figures: requests/s, p50/p90/p99 latency (ms) and error counts.
The batch probe (``batch``) posts 10,000 subject ids from this process, sequentially.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.server import machine_busy_seconds

LUA_DIR = Path(__file__).resolve().parent / "lua"
MARKER = "BENCH_JSON "
PATHS = {
    "health": "/health",
    "decisions": "/v1/decisions",
    "consents": "/v1/consents",
    "vault_encrypt": "/v1/vault/encrypt",
    "vault_decrypt": "/v1/vault/decrypt",
    "inclusion": "/v1/ledger/proofs/inclusion",
}


@dataclass
class LoadSettings:
    duration: float
    warmup: float
    connections: int = 8
    threads: int = 2
    rounds: int = 5  # health and decisions alternate in this many rounds of duration/rounds


def ensure_wrk() -> tuple[str | None, str]:
    """The wrk binary (installed with apt-get when missing and we are root) and a note."""
    found = shutil.which("wrk")
    if found:
        return found, ""
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        try:
            subprocess.run(
                ["apt-get", "install", "-y", "wrk"],
                capture_output=True,
                timeout=180,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        except (OSError, subprocess.SubprocessError):
            pass
        found = shutil.which("wrk")
        if found:
            return found, "wrk was installed with apt-get for this run"
    return None, "wrk is not available: figures come from the Python fallback load generator (bench.pyload)"


def wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
    return (done.stdout or done.stderr).splitlines()[0].split("Copyright")[0].strip()


def _parse(output: str) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            break
    else:
        raise RuntimeError(f"the load generator printed no result:\n{output[-2000:]}")
    seconds = raw["duration_us"] / 1e6
    errors = raw["err_connect"] + raw["err_read"] + raw["err_write"] + raw["err_status"] + raw["err_timeout"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": raw["mean_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "non_2xx": raw["err_status"],
        "raw": raw,
    }


def run_load(
    *,
    wrk: str | None,
    scenario: str,  # a key of PATHS; the wrk script is lua/<scenario>.lua
    base_url: str,
    seconds: float,
    settings: LoadSettings,
    env: dict[str, str],
    raw_path: Path,
    server_cpu: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """One timed run of ``scenario``; the raw output goes to ``raw_path``.

    Besides the load generator's figures: the server's CPU time per request (robust when other
    processes share the machine) and the share of all CPUs that other processes used meanwhile.
    """
    env = {**os.environ, **env, "BENCH_LUA_DIR": str(LUA_DIR)}
    path = PATHS[scenario]
    if wrk:
        command = [
            wrk,
            f"-t{settings.threads}",
            f"-c{settings.connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(LUA_DIR / f"{scenario}.lua"),
            base_url + path,
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "bench.pyload",
            "--scenario",
            scenario,
            "--url",
            base_url,
            "--seconds",
            str(seconds),
            "--connections",
            str(settings.connections),
        ]
    server0 = server_cpu() if server_cpu else 0.0
    busy0, children0, wall0 = machine_busy_seconds(), _children_cpu(), time.perf_counter()
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    wall = time.perf_counter() - wall0
    server = (server_cpu() - server0) if server_cpu else 0.0
    loader = _children_cpu() - children0
    other = max(0.0, machine_busy_seconds() - busy0 - server - loader)
    raw_path.write_text(f"$ {' '.join(command)}\n{done.stdout}\n{done.stderr}")
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed ({done.returncode}): {done.stderr[-2000:]}")
    figure = _parse(done.stdout)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if server_cpu and figure["requests"]:
        figure["server_cpu_ms_per_req"] = round(server * 1000 / figure["requests"], 3)
    figure["server_cpu_pct"] = round(100 * server / (cpus * wall), 1)
    figure["loadgen_cpu_pct"] = round(100 * loader / (cpus * wall), 1)
    figure["other_cpu_pct"] = round(100 * other / (cpus * wall), 1)
    return figure


def combine(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure from several rounds: rates over the total time; p50/p90 the median of the
    rounds' values, p99 and max the worst round's (percentiles cannot be merged exactly)."""
    requests = sum(f["requests"] for f in figures)
    seconds = sum(f["seconds"] for f in figures)
    out: dict[str, Any] = {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": statistics.median(f["p50_ms"] for f in figures),
        "p90_ms": statistics.median(f["p90_ms"] for f in figures),
        "p99_ms": max(f["p99_ms"] for f in figures),
        "mean_ms": sum(f["mean_ms"] * f["requests"] for f in figures) / requests if requests else 0.0,
        "max_ms": max(f["max_ms"] for f in figures),
        "errors": sum(f["errors"] for f in figures),
        "non_2xx": sum(f["non_2xx"] for f in figures),
        "rounds": len(figures),
        "rps_rounds": [f["rps"] for f in figures],
    }
    if requests and all("server_cpu_ms_per_req" in f for f in figures):
        cpu = sum(f["server_cpu_ms_per_req"] * f["requests"] for f in figures)
        out["server_cpu_ms_per_req"] = round(cpu / requests, 3)
    for key in ("server_cpu_pct", "loadgen_cpu_pct", "other_cpu_pct"):
        if seconds:
            out[key] = round(sum(f[key] * f["seconds"] for f in figures) / seconds, 1)
    return out


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _post(host: str, port: int, path: str, body: bytes, token: str) -> tuple[int, bytes, float]:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        started = time.perf_counter()
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        response = conn.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - started
    finally:
        conn.close()


def probe(host: str, port: int, path: str, payload: dict[str, Any], token: str) -> dict[str, Any]:
    """One request before the load runs: fail early on auth or schema problems."""
    status, data, _ = _post(host, port, path, json.dumps(payload).encode(), token)
    if status not in (200, 201):
        raise RuntimeError(f"POST {path} answered {status}: {data[:500]!r}")
    return json.loads(data)


def vault_tokens(host: str, port: int, token: str, subject_ids: list[str]) -> list[str]:
    """Vault tokens (an e-mail address each) for ``subject_ids``, 1,000 per batch request."""
    tokens: list[str] = []
    for start in range(0, len(subject_ids), 1000):
        items = [
            {"subject_id": sid, "field": "email", "value": f"person-{start + n}@example.org"}
            for n, sid in enumerate(subject_ids[start : start + 1000])
        ]
        tokens += probe(host, port, "/v1/vault/encrypt/batch", {"items": items}, token)["tokens"]
    if len(tokens) != len(subject_ids):
        raise RuntimeError(f"encrypt/batch gave {len(tokens)} tokens for {len(subject_ids)} subjects")
    return tokens


def batch(
    host: str, port: int, token: str, subject_ids: list[str], purpose: str, repeats: int
) -> dict[str, Any]:
    """Time ``repeats`` sequential batch requests (after one warm-up); subjects/s from the median."""
    body = json.dumps({"purpose": purpose, "subjects": subject_ids}).encode()
    times = []
    reasons: dict[str, int] = {}
    for attempt in range(repeats + 1):
        status, data, elapsed = _post(host, port, "/v1/decisions/batch", body, token)
        if status != 200:
            raise RuntimeError(f"POST /v1/decisions/batch answered {status}: {data[:500]!r}")
        if attempt == 0:
            results = json.loads(data)["results"]
            if len(results) != len(subject_ids):
                raise RuntimeError(f"batch answered {len(results)} of {len(subject_ids)} subjects")
            for item in results:
                reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
            continue
        times.append(elapsed)
    median = statistics.median(times)
    return {
        "subjects": len(subject_ids),
        "distinct": len(set(subject_ids)),
        "request_bytes": len(body),
        "times_s": [round(t, 4) for t in times],
        "median_s": round(median, 4),
        "subjects_per_s": round(len(subject_ids) / median, 1),
        "reasons": reasons,
    }
