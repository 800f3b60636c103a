"""The controller's calendar: its time zone and the public holidays that are not working days.

``CONSENT_HOLIDAYS`` names the holidays (``DE``, ``DE-BY``, ``FR``, ``IE``…, or ``none`` for weekends
only; from the maintained ``holidays`` library), ``CONSENT_TIMEZONE`` the zone in which days are
counted. Used by the deadlines of data subject requests and by the configuration's checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

NO_HOLIDAYS = "none"
SATURDAY = 5


class CalendarError(ValueError):
    """An unknown holiday calendar code or time zone name."""


@dataclass(frozen=True)
class Calendar:
    """The controller's days: its time zone and the public holidays that are not working days."""

    code: str
    zone: dt.tzinfo
    public_holidays: Container[dt.date]

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < SATURDAY and day not in self.public_holidays

    def local_date(self, moment: dt.datetime) -> dt.date:
        if moment.tzinfo is None:
            raise ValueError("a moment without a time zone cannot be placed in the calendar")
        return moment.astimezone(self.zone).date()

    def end_of(self, day: dt.date) -> dt.datetime:
        """The last instant of ``day`` in the controller's zone, in UTC."""
        return dt.datetime.combine(day, dt.time.max, tzinfo=self.zone).astimezone(dt.UTC)


@lru_cache(maxsize=32)
def calendar(holidays_code: str = NO_HOLIDAYS, timezone: str = "UTC") -> Calendar:
    """The calendar for a ``CONSENT_HOLIDAYS`` code and a ``CONSENT_TIMEZONE`` name.

    Raises CalendarError naming the bad value. A code is a country (``FR``) or a country and a
    subdivision (``DE-BY``) as the ``holidays`` library knows them, or ``none``.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"unknown time zone {timezone!r} (an IANA name such as Europe/Berlin)") from None
    code = holidays_code.strip()
    if code.lower() == NO_HOLIDAYS:
        return Calendar(NO_HOLIDAYS, zone, frozenset())
    country, _, subdiv = code.upper().partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise CalendarError(f"unknown holiday calendar {holidays_code!r} (e.g. DE, DE-BY, FR, IE or none)")
    if subdiv and subdiv not in supported[country]:
        raise CalendarError(
            f"unknown region {subdiv!r} of {country} in {holidays_code!r} "
            f"(known: {', '.join(s for s in supported[country] if s.isupper())})"
        )
    days = holidays.country_holidays(country, subdiv=subdiv or None)
    return Calendar(f"{country}-{subdiv}" if subdiv else country, zone, days)
