"""``consent-service-verify``: check what the consent service's transparency log hands out,
offline, with the standard library and ``cryptography`` alone.

    consent-service-verify receipt FILE --log-key VKEY [--witness VKEY ...] [--quorum K]
    consent-service-verify consistency OLD NEW --log-key VKEY [--proof FILE]
    consent-service-verify bundle DIR [--log-key VKEY] [--witness VKEY ...] [--quorum K]

A key is given as its text or as a file holding it. One line per check (``--json``: a JSON
report). Exit status: 0 every check passed, 1 a check failed, 2 the input could not be read
or the command line is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from consent_verify import bundle, consistency, receipt
from consent_verify import note as tlog
from consent_verify.report import FAIL, PASS, Malformed, Report, load_key, read_text

_MARK = {PASS: "PASS", FAIL: "FAIL", "warn": "WARN"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consent-service-verify",
        description="Verify consent receipts, checkpoints and auditor bundles of the consent "
        "service's transparency log, offline.",
        epilog="Exit status: 0 all checks passed, 1 a check failed, 2 unreadable input or usage error.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def witnesses(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--witness",
            action="append",
            default=[],
            metavar="VKEY",
            help="a witness's cosignature/v1 verifier key (text or file); repeat for several",
        )
        sub.add_argument(
            "--quorum",
            type=int,
            metavar="K",
            help="witnesses whose cosignature is required (default: all given)",
        )
        sub.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print the report as JSON"
        )

    sub = commands.add_parser("receipt", help="verify a consent receipt and its inclusion in the log")
    sub.add_argument("file", metavar="FILE", help="the receipt (JSON)")
    sub.add_argument("--log-key", required=True, metavar="VKEY", help="the log's verifier key (text or file)")
    witnesses(sub)

    sub = commands.add_parser("consistency", help="verify that a newer checkpoint extends an older one")
    sub.add_argument("old", metavar="OLD", help="the older checkpoint (signed note file)")
    sub.add_argument("new", metavar="NEW", help="the newer checkpoint (signed note file)")
    sub.add_argument("--log-key", required=True, metavar="VKEY", help="the log's verifier key (text or file)")
    sub.add_argument("--proof", metavar="FILE", help="the answer of GET /v1/ledger/proofs/consistency (JSON)")
    sub.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print the report as JSON"
    )

    sub = commands.add_parser("bundle", help="verify an auditor bundle (consent-service ledger export)")
    sub.add_argument("directory", metavar="DIR", help="the bundle's directory")
    sub.add_argument(
        "--log-key", metavar="VKEY", help="the log's verifier key (text or file); default: the bundle's own"
    )
    witnesses(sub)
    return parser


def _witnesses(args: argparse.Namespace) -> tuple[list[tlog.Verifier], int | None]:
    keys = [load_key(value, tlog.COSIGNATURE_V1, "the witness key") for value in args.witness]
    if args.quorum is not None and not 1 <= args.quorum <= len(keys):
        raise Malformed(f"--quorum must be from 1 to the number of --witness keys given ({len(keys)})")
    return keys, args.quorum


def run(args: argparse.Namespace) -> Report:
    """The report of the command ``args`` asks for; ``Malformed`` for unreadable input."""
    if args.command == "receipt":
        key = load_key(args.log_key, tlog.ED25519, "the log key")
        keys, quorum = _witnesses(args)
        doc = receipt.parse(read_text(args.file, "the receipt"))
        return receipt.verify(doc, key, keys, quorum)
    if args.command == "consistency":
        key = load_key(args.log_key, tlog.ED25519, "the log key")
        proof = consistency.parse_proof(read_text(args.proof, "the proof")) if args.proof else None
        return consistency.verify(read_text(args.old, "OLD"), read_text(args.new, "NEW"), key, proof)
    given = load_key(args.log_key, tlog.ED25519, "the log key") if args.log_key else None
    keys, quorum = _witnesses(args)
    return bundle.verify(args.directory, given, keys, quorum)


def render(report: Report) -> str:
    lines = [f"{_MARK[c.status]}  {c.name}" + (f": {c.detail}" if c.detail else "") for c in report.checks]
    failed = len(report.failures)
    counts = ", ".join(f"{name} {value}" for name, value in report.counts.items())
    if failed:
        lines.append(f"{report.subject} FAILED: {failed} of {len(report.checks)} checks failed")
    else:
        lines.append(f"{report.subject} OK: every check passed" + (f" ({counts})" if counts else ""))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        report = run(args)
    except Malformed as exc:
        print(f"consent-service-verify: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"consent-service-verify: error: cannot read {exc.filename or 'the input'}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(report.as_dict(), indent=2) if args.json else render(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
