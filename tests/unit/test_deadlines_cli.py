"""``consent-service deadlines RECEIVED_DATE [--calendar CODE]``: JSON for a DPO, exit 2 on bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from consent_service.cli import main


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CONSENT_HOLIDAYS", raising=False)
    monkeypatch.delenv("CONSENT_TIMEZONE", raising=False)

    def invoke(*args: str, **env: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return CliRunner().invoke(main, ["deadlines", *args])

    return invoke


def test_prints_the_deadlines_as_iso_dates(run):
    result = run("2027-01-31")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "received": "2027-01-31",
        "due": "2027-03-01",  # 28 February 2027 is a Sunday
        "extension_notice_by": "2027-03-01",
        "extended_due": "2027-04-30",
    }


def test_the_calendar_comes_from_the_option_or_consent_holidays(run):
    assert json.loads(run("2027-02-15").output)["extended_due"] == "2027-05-17"  # weekends only
    assert json.loads(run("2027-02-15", "--calendar", "DE").output)["extended_due"] == "2027-05-18"
    assert json.loads(run("2027-02-15", CONSENT_HOLIDAYS="DE").output)["extended_due"] == "2027-05-18"
    assert json.loads(run("2027-12-06", "--calendar", "DE-BY").output)["due"] == "2028-01-07"
    assert json.loads(run("2027-06-14", "--calendar", "FR").output)["due"] == "2027-07-15"
    assert json.loads(run("2027-02-17", "--calendar", "IE").output)["due"] == "2027-03-18"
    assert (
        json.loads(run("2027-02-17", "--calendar", "none", CONSENT_HOLIDAYS="IE").output)["due"]
        == "2027-03-17"
    )


def test_a_moment_with_offset_is_a_day_in_the_controllers_zone(run):
    out = json.loads(run("2027-01-31T23:30:00+00:00", CONSENT_TIMEZONE="Europe/Berlin").output)
    assert out["received"] == "2027-02-01" and out["due"] == "2027-03-01"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("31.01.2027",), {}, "not an ISO 8601 date"),
        (("2027-02-30",), {}, "not an ISO 8601 date"),
        (("2027-01-31T10:00:00",), {}, "no UTC offset"),
        (("9999-12-31",), {}, "too far in the future"),
        (("2027-01-31", "--calendar", "XX"), {}, "--calendar: unknown holiday calendar 'XX'"),
        (("2027-01-31", "--calendar", "DE-ZZ"), {}, "unknown region 'ZZ' of DE"),
        (("2027-01-31",), {"CONSENT_HOLIDAYS": "Narnia"}, "CONSENT_HOLIDAYS: unknown holiday calendar"),
        (("2027-01-31",), {"CONSENT_TIMEZONE": "Mars/Olympus"}, "CONSENT_TIMEZONE: unknown time zone"),
    ],
)
def test_bad_dates_and_unknown_calendars_exit_2_with_a_clear_message(run, args, env, message):
    result = run(*args, **env)
    assert result.exit_code == 2 and message in result.output
