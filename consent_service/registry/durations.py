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


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> relativedelta:
    match = _PATTERN.match(text or "")
    if not match:
        raise DurationError(f"{text!r} is not an ISO 8601 duration such as P12M or P30D")
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    if not any(parts.values()):
        raise DurationError(f"{text!r} is an empty duration")
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
