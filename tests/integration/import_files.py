"""Export files as the shipped mappings read them, generated row by row (tests and bench/imports.py).

Each row is one person's decision on the demo purposes ``analytics`` and ``ads`` (the purposes
the shipped mappings name), some time before ``start``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

FORMAT = {"generic": "csv", "commanders_act": "csv", "ccm19": "jsonl"}


def write_export(
    mapping: str, rows: int, path: Path, start: dt.datetime, *, bad_row: int | None = None
) -> Path:
    """``rows`` rows for ``mapping``; row ``bad_row`` (1-based) gets a time that does not parse."""
    with path.open("w", newline="", encoding="utf-8") as out:
        if mapping == "ccm19":
            for n in range(1, rows + 1):
                stamp: object = int((start - dt.timedelta(minutes=n)).timestamp())
                accepted = {"41ba25c": "Technically necessary", "9c1e2f0": "Statistics"}
                if n % 2:
                    accepted["77aa3b1"] = "Marketing"
                doc = {
                    "consent": True,
                    "ucid": f"{n:064x}",
                    "timestamp": "yesterday" if n == bad_row else stamp,
                    "purposes": accepted,
                    "embeddings": {},
                    "manipulationPrevention": True,
                }
                out.write(json.dumps(doc) + "\n")
            return path
        writer = csv.writer(out)
        if mapping == "generic":
            writer.writerow(
                [
                    "identity_type",
                    "identity",
                    "purpose",
                    "decision",
                    "recorded_at",
                    "method",
                    "ip",
                    "user_agent",
                ]
            )
            for n in range(1, rows + 1):
                when = (start - dt.timedelta(minutes=n)).isoformat()
                writer.writerow(
                    [
                        "email",
                        f"person{n}@example.org",
                        "analytics" if n % 3 else "ads",
                        "granted" if n % 4 else "denied",
                        "not a time" if n == bad_row else when,
                        "custom",
                        "203.0.113.7",
                        "Mozilla/5.0",
                    ]
                )
            return path
        writer.writerow(
            [
                "id_hit",
                "id_tagcommander",
                "id_privacy",
                "version",
                "cookie",
                "tcpid",
                "date_hit",
                "privacy_action",
                "type_action",
                "device",
            ]
        )
        for n in range(1, rows + 1):
            when = (start - dt.timedelta(minutes=n)).strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow(
                [
                    n,
                    1,
                    4,
                    7,
                    "1,2" if n % 2 else "1,2,3",
                    f"tc{n:012d}",
                    "31/12" if n == bad_row else when,
                    "1",
                    "save",
                    3,
                ]
            )
    return path
