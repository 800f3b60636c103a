"""ISO 8601 durations as calendar arithmetic, and the consent-validity ceiling."""

import datetime as dt

import pytest

from consent_service.durations import DurationError, add_duration, at_most, parse_duration


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_months_are_calendar_months():
    assert add_duration(utc(2026, 1, 31), "P1M") == utc(2026, 2, 28)
    assert add_duration(utc(2028, 1, 31), "P1M") == utc(2028, 2, 29)
    assert add_duration(utc(2026, 3, 15, 10), "P12M") == utc(2027, 3, 15, 10)


def test_mixed_units():
    assert add_duration(utc(2026, 1, 1), "P1Y2M3DT4H5M6S") == utc(2027, 3, 4, 4, 5, 6)
    assert add_duration(utc(2026, 1, 1), "P2W") == utc(2026, 1, 15)


@pytest.mark.parametrize("text", ["", "P", "PT", "12M", "P1.5M", "P-1M", "P1MT", "1 year", "P1H"])
def test_bad_durations_are_refused(text):
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("P12M", True),
        ("P13M", True),
        ("P1Y1M", True),
        ("P395D", False),
        ("P14M", False),
        ("P1Y2M", False),
        ("P390D", True),
        ("P56W", True),
        ("P57W", False),
    ],
)
def test_thirteen_months_at_most(text, ok):
    assert at_most(text, "P13M") is ok
