"""Fallback load generator when wrk is missing: one thread per connection, http.client keep-alive.

Run as its own process (``python -m bench.pyload``) so that it never shares a GIL with the
service; prints the same ``BENCH_JSON`` line as the wrk scripts. Being Python, it saturates
sooner than wrk, so its figures are a lower bound; the report says when it was used.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
from urllib.parse import urlsplit


def _bodies(scenario: str, worker: int) -> tuple[str, str, dict[str, str], object]:
    token = os.environ.get("BENCH_TOKEN", "")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if scenario == "health":
        return "GET", "/health", {}, iter(lambda: None, 0)
    if scenario == "inclusion":
        import random

        rng, leaves = random.Random(7919 * (worker + 1)), int(os.environ["BENCH_LEAVES"])
        paths = iter(lambda: f"/v1/ledger/proofs/inclusion?seq={rng.randint(1, leaves)}", None)
        return "GET", "", {}, paths
    if scenario == "decisions":
        with open(os.environ["BENCH_IDS_FILE"]) as fh:
            ids = [line.strip() for line in fh if line.strip()]

        def decisions() -> object:
            n = worker * 7919
            while True:
                n += 1
                yield json.dumps({"subject_id": ids[n % len(ids)], "purpose": "newsletter"})

        return "POST", "/v1/decisions", headers, decisions()
    if scenario == "vault_encrypt":
        with open(os.environ["BENCH_IDS_FILE"]) as fh:
            ids = [line.strip() for line in fh if line.strip()]

        def encrypts() -> object:
            n = worker * 7919
            while True:
                n += 1
                yield json.dumps(
                    {"subject_id": ids[n % len(ids)], "field": "email", "value": f"person-{n}@example.org"}
                )

        return "POST", "/v1/vault/encrypt", headers, encrypts()
    if scenario == "vault_decrypt":
        with open(os.environ["BENCH_TOKENS_FILE"]) as fh:
            tokens = [line.strip() for line in fh if line.strip()]

        def decrypts() -> object:
            n = worker * 101
            while True:
                n += 1
                yield json.dumps({"token": tokens[n % len(tokens)], "purpose": "newsletter"})

        return "POST", "/v1/vault/decrypt", headers, decrypts()
    prefix = os.environ.get("BENCH_PREFIX", "py")

    def consents() -> object:
        n = 0
        while True:
            n += 1
            yield json.dumps(
                {
                    "subject": {"type": "device_id", "value": f"{prefix}-{worker}-{n}"},
                    "decisions": [{"purpose": "analytics", "granted": True}],
                    "channel": "api",
                    "method": "api",
                }
            )

    return "POST", "/v1/consents", headers, consents()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--scenario",
        choices=("health", "decisions", "consents", "vault_encrypt", "vault_decrypt", "inclusion"),
        required=True,
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    target = urlsplit(args.url)
    latencies: list[list[float]] = [[] for _ in range(args.connections)]
    errors = {"connect": 0, "read": 0, "status": 0}
    stop_at = time.perf_counter() + args.seconds

    def worker(index: int) -> None:
        method, path, headers, bodies = _bodies(args.scenario, index)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
        while time.perf_counter() < stop_at:
            body = next(bodies)  # type: ignore[call-overload]
            started = time.perf_counter()
            try:
                if path:
                    conn.request(method, path, body=body, headers=headers)
                else:  # the generator gives the path (a GET)
                    conn.request(method, str(body), headers=headers)
                response = conn.getresponse()
                response.read()
            except OSError:
                errors["read"] += 1
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
                continue
            latencies[index].append(time.perf_counter() - started)
            if response.status >= 400:
                errors["status"] += 1
        conn.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    flat = sorted(x for per in latencies for x in per)

    def pct(p: float) -> int:
        return int(flat[min(len(flat) - 1, int(p / 100 * len(flat)))] * 1e6) if flat else 0

    print(
        "BENCH_JSON "
        + json.dumps(
            {
                "requests": len(flat),
                "duration_us": int(elapsed * 1e6),
                "bytes": 0,
                "p50_us": pct(50),
                "p90_us": pct(90),
                "p99_us": pct(99),
                "mean_us": int(sum(flat) / len(flat) * 1e6) if flat else 0,
                "max_us": int(flat[-1] * 1e6) if flat else 0,
                "err_connect": errors["connect"],
                "err_read": errors["read"],
                "err_write": 0,
                "err_status": errors["status"],
                "err_timeout": 0,
            }
        )
    )


if __name__ == "__main__":
    main()
