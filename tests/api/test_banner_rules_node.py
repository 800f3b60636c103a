"""The banner's rules for asking again (frontend/banner/src/rules.js), run by node without a browser:
its calendar arithmetic agrees with the service's (consent_service.durations), and due() asks
exactly when a purpose needs a choice."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

from consent_service.durations import add_duration

RULES = Path(__file__).resolve().parents[2] / "frontend" / "banner" / "src" / "rules.js"
NOW = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)

# reads [[function, args...], ...] from stdin, answers each result; dates as ISO strings
RUNNER = """
import * as rules from %s;
let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(([name, ...args]) => {
    if (name === "addDuration") {
      const d = rules.addDuration(...args);
      return d ? d.toISOString() : null;
    }
    if (name === "dueReason") { return rules.dueReason(args[0], args[1], args[2], new Date(args[3]), args[4]); }
    if (name === "due") { return rules.due(args[0], args[1], new Date(args[2]), args[3]).map((p) => p.key); }
    throw new Error("unknown " + name);
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def run(calls: list[list[Any]]) -> list[Any]:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CONSENT_TEST_REQUIRE_SERVERS") == "1":
            pytest.fail("node is needed to test the banner's rules")
        pytest.skip("node is not installed")
    script = RUNNER % json.dumps(RULES.as_uri())
    done = subprocess.run(
        [node, "--no-warnings", "--input-type=module", "-e", script],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return list(json.loads(done.stdout))


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_months_and_years_count_like_the_service():
    starts = [
        dt.datetime(2024, 1, 31, 10, 30, tzinfo=dt.UTC),
        dt.datetime(2024, 2, 29, tzinfo=dt.UTC),
        dt.datetime(2025, 8, 31, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(2025, 12, 15, tzinfo=dt.UTC),
        dt.datetime(2023, 3, 1, tzinfo=dt.UTC),
    ]
    durations = ["P1M", "P6M", "P13M", "P1Y", "P1Y2M10D", "P2W", "P30D", "PT12H", "P1M2W3DT12H30M5S", "P100M"]
    pairs = [(start, text) for start in starts for text in durations]
    answers = run([["addDuration", iso(start), text] for start, text in pairs])
    assert answers == [iso(add_duration(start, text)) for start, text in pairs]
    assert answers[0] == "2024-02-29T10:30:00.000Z"  # 31 January + P1M: the end of February


def test_a_duration_or_date_it_cannot_read_gives_no_date():
    bad = ["", "P", "PT", "13M", "P1.5M", "P-1M", "soon"]
    calls = [["addDuration", "2026-01-01T00:00:00Z", text] for text in bad] + [
        ["addDuration", "not a date", "P1M"]
    ]
    assert run(calls) == [None] * (len(bad) + 1)


PURPOSES = [
    {"key": "essential", "version": 1, "strictly_necessary": True, "honor_gpc": False},
    {"key": "analytics", "version": 2, "strictly_necessary": False, "honor_gpc": True},
    {"key": "ads", "version": 1, "strictly_necessary": False, "honor_gpc": False},
]


def state(decisions: dict[str, bool], decided: dt.datetime, **extra: Any) -> dict[str, Any]:
    return {
        "decisions": decisions,
        "decided": {k: iso(decided) for k in decisions},
        "versions": {"analytics": 2, "ads": 1},
        "valid_until": {},
        "cookies": {},
        **extra,
    }


def months_ago(n: int, days: int = 0) -> dt.datetime:
    return NOW - relativedelta(months=n, days=days)


def reasons(cases: list[tuple[str, dict[str, Any] | None, dict[str, Any], bool, str | None]]) -> None:
    """Each case: (purpose, stored state, site settings, GPC on, the reason expected)."""
    spec = {p["key"]: p for p in PURPOSES}
    calls = [
        ["dueReason", spec[key], stored, settings, iso(NOW), gpc] for key, stored, settings, gpc, _ in cases
    ]
    assert run(calls) == [expected for *_, expected in cases]


def test_nothing_decided_asks_every_purpose_but_the_strictly_necessary():
    config = {"purposes": PURPOSES, "settings": {}}
    fresh = state({"analytics": True, "ads": True}, NOW)
    new_purpose = state({"analytics": True}, NOW)  # ads was added to the offer later
    assert run(
        [
            ["due", config, None, iso(NOW), False],
            ["due", config, fresh, iso(NOW), False],
            ["due", config, new_purpose, iso(NOW), False],
        ]
    ) == [["analytics", "ads"], [], ["ads"]]


def test_a_grant_is_asked_again_when_it_expires_changes_or_grows_old():
    granted = state({"analytics": True}, months_ago(1))
    soon = {"analytics": iso(NOW + dt.timedelta(days=1))}
    reasons(
        [
            ("analytics", granted, {}, False, None),
            (
                "analytics",
                {**granted, "valid_until": {"analytics": iso(NOW - dt.timedelta(seconds=1))}},
                {},
                False,
                "expired",
            ),
            ("analytics", {**granted, "valid_until": soon}, {}, False, None),
            (
                "analytics",
                {**granted, "versions": {"analytics": 1}},
                {},
                False,
                "changed",
            ),  # a material change
            # at the latest after 13 months (the default; 28 February + P13M is 28 March), or reask_after
            (
                "analytics",
                state({"analytics": True}, dt.datetime(2025, 3, 1, tzinfo=dt.UTC)),
                {},
                False,
                None,
            ),
            (
                "analytics",
                state({"analytics": True}, dt.datetime(2025, 2, 28, 12, tzinfo=dt.UTC)),
                {},
                False,
                "reask_after",
            ),
            (
                "analytics",
                state({"analytics": True}, months_ago(4)),
                {"reask_after": "P3M"},
                False,
                "reask_after",
            ),
            ("analytics", state({"analytics": True}, months_ago(2)), {"reask_after": "P3M"}, False, None),
        ]
    )


def test_a_refusal_rests_for_refusal_reask_and_while_gpc_asks_for_it():
    old_refusal = state({"analytics": False}, months_ago(8))
    # an older stored state without per-purpose times counts from its decided_at
    legacy = {
        "decisions": {"ads": False},
        "decided": {},
        "decided_at": iso(months_ago(7)),
        "versions": {},
        "valid_until": {},
    }
    reasons(
        [
            (
                "ads",
                state({"ads": False}, months_ago(5, days=27)),
                {},
                False,
                None,
            ),  # the default: six months
            ("ads", state({"ads": False}, months_ago(6, days=1)), {}, False, "refusal_reask"),
            ("ads", state({"ads": False}, months_ago(7)), {"refusal_reask": "P1Y"}, False, None),
            ("ads", state({"ads": False}, months_ago(13)), {"refusal_reask": "P1Y"}, False, "refusal_reask"),
            # a refusal of an honor_gpc purpose is not asked again while the browser sends GPC
            ("analytics", old_refusal, {}, True, None),
            ("analytics", old_refusal, {}, False, "refusal_reask"),
            ("ads", legacy, {}, False, "refusal_reask"),
        ]
    )
