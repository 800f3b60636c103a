"""ISO 8601 durations (``P12M``, ``P1Y6M``, ``P30D``, ``PT12H``) as calendar arithmetic.

Months and years are calendar units: 31 January + P1M is the end of February.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from dateutil.relativedelta import relativedelta

# The digits per unit are bounded so that no duration can overflow date arithmetic (at most
# about 2,500 years in all); a duration of only zeros is refused. ``PATTERN`` is the same rule
# in the regular-expression dialect of JSON Schema, for the OpenAPI document.
_NAMED = (
    r"^P(?![0YMWDTHS]*$)(?:(?P<years>[0-9]{1,3})Y)?(?:(?P<months>[0-9]{1,4})M)?"
    r"(?:(?P<weeks>[0-9]{1,4})W)?(?:(?P<days>[0-9]{1,5})D)?"
    r"(?:T(?=[0-9])(?:(?P<hours>[0-9]{1,6})H)?(?:(?P<minutes>[0-9]{1,7})M)?(?:(?P<seconds>[0-9]{1,9})S)?)?$"
)
_PATTERN = re.compile(_NAMED)
_LOOSE = re.compile(r"^P(?:[0-9]+[YMWD])*(?:T(?:[0-9]+[HMS])+)?$")  # any digits, for messages
PATTERN = re.sub(r"\?P<[a-z]+>", "", _NAMED)


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> relativedelta:
    text = text or ""
    match = _PATTERN.match(text) if len(text) <= 64 else None
    if not match:
        shown = repr(text[:40])
        if not _LOOSE.match(text) or text in ("P", "PT"):
            raise DurationError(f"{shown} is not an ISO 8601 duration such as P12M or P30D")
        if not re.search(r"[1-9]", text):
            raise DurationError(f"{shown} is an empty duration")
        raise DurationError(
            f"{shown} is too long: at most 3 digits of years, 4 of months or weeks, 5 of days"
        )
    return relativedelta(**{name: int(value) for name, value in match.groupdict().items() if value})


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
