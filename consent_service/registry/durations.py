"""ISO 8601 durations (``P12M``, ``P1Y6M``, ``P30D``, ``PT12H``) as calendar arithmetic.

Months and years are calendar units: 31 January + P1M is the end of February.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from dateutil.relativedelta import relativedelta

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


MAX_DAYS = 36_600  # no period the service keeps or waits for is longer than 100 years
_DAYS_PER_UNIT = {
    "years": 366,
    "months": 31,
    "weeks": 7,
    "days": 1,
    "hours": 1 / 24,
    "minutes": 1 / 1440,
    "seconds": 1 / 86400,
}


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> relativedelta:
    match = _PATTERN.match(text or "")
    if not match:
        raise DurationError(f"{text!r} is not an ISO 8601 duration such as P12M or P30D")
    groups = {name: value for name, value in match.groupdict().items() if value}
    # Bounded before int() and datetime arithmetic: P99999999999Y would overflow both.
    if any(len(value) > 9 for value in groups.values()):
        raise DurationError(f"{text[:40]!r} is longer than 100 years")
    parts = {name: int(value) for name, value in groups.items()}
    if not any(parts.values()):
        raise DurationError(f"{text!r} is an empty duration")
    if sum(_DAYS_PER_UNIT[name] * value for name, value in parts.items()) > MAX_DAYS:
        raise DurationError(f"{text!r} is longer than 100 years")
    return relativedelta(**parts)


def add_duration(start: dt.datetime, text: str) -> dt.datetime:
    return start + parse_duration(text)


def at_most(text: str, limit: str) -> bool:
    """True when ``text`` never reaches past ``limit`` from any start in a leap and common year."""
    duration, maximum = parse_duration(text), parse_duration(limit)
    for year in (2023, 2024):
        for month in range(1, 13):
            for day in (1, 28, calendar.monthrange(year, month)[1]):
                start = dt.datetime(year, month, day)
                if start + duration > start + maximum:
                    return False
    return True
