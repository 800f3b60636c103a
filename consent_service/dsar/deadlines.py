"""Legal deadlines of data subject requests (GDPR Art. 12(3)), counted as Regulation 1182/71 does.

A period of months (Art. 3(2)(c) of the Regulation) ends at the end of the day of the last month
that has the same date number as the day of receipt, or of that month's last day where there is
no such date: received on 31 January, due at the end of 28 (or 29) February. When that day is a
Saturday, Sunday or public holiday the period ends at the end of the next working day
(Art. 3(4)). Days are those of the controller's time zone (``CONSENT_TIMEZONE``); public holidays
come from the ``holidays`` library for the controller's country and region (``CONSENT_HOLIDAYS``:
``DE``, ``DE-BY``, ``FR``, ``IE``…, or ``none`` for weekends only).

The controller may extend by at most two further months, with a reason, and only before the
first month has ended; the extended period is counted as months from receipt (three at most) and
rolled the same way. A due date is the end of its day in the controller's zone, given in UTC.

Pure functions: no database, no clock. The calendar itself is ``consent_service.calendars``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from consent_service.calendars import Calendar, calendar
from consent_service.errors import Conflict, InvalidInput

MAX_EXTENSION_MONTHS = 2


UTC_WEEKENDS = calendar()


def period_end_day(received: dt.date, months: int, cal: Calendar) -> dt.date:
    """The day a period of ``months`` from ``received`` ends on, rolled to a working day."""
    day = received + relativedelta(months=months)  # the month's last day where the date is missing
    while not cal.is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def due_at(received_at: dt.datetime, extension_months: int = 0, cal: Calendar = UTC_WEEKENDS) -> dt.datetime:
    """End of the working day that ends the period of one month (plus any extension) from receipt."""
    return cal.end_of(period_end_day(cal.local_date(received_at), 1 + extension_months, cal))


@dataclass(frozen=True)
class Deadlines:
    """What a DPO needs to know of a receipt date: when the answer is due, by when an extension
    must be notified (the end of the first month, Art. 12(3)), and the latest extended date."""

    received: dt.date
    due: dt.date
    extension_notice_by: dt.date
    extended_due: dt.date

    def as_json(self) -> dict[str, str]:
        return {name: getattr(self, name).isoformat() for name in self.__dataclass_fields__}


def parse_received(text: str, cal: Calendar) -> dt.date:
    """The day of receipt from an ISO date (``2027-01-31``) or an ISO date and time with its UTC
    offset (placed in the controller's zone); ValueError saying what is wrong otherwise."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date such as 2027-01-31") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has a time but no UTC offset (e.g. 2027-01-31T10:00:00+01:00)")
    return cal.local_date(moment)


def deadlines_for(received: dt.date, cal: Calendar) -> Deadlines:
    """The deadlines of a request received on ``received``; ValueError when they fall outside
    the years a date can hold."""
    if received.year > dt.MAXYEAR - 1:
        raise ValueError(f"{received.isoformat()} is too far in the future to count deadlines from")
    due = period_end_day(received, 1, cal)
    return Deadlines(
        received=received,
        due=due,
        extension_notice_by=due,
        extended_due=period_end_day(received, 1 + MAX_EXTENSION_MONTHS, cal),
    )


def extend(
    *,
    received_at: dt.datetime,
    original_due_at: dt.datetime,
    extended: int,
    months: int,
    reason: str,
    now: dt.datetime,
    cal: Calendar = UTC_WEEKENDS,
) -> tuple[int, dt.datetime]:
    """(total extension months, new due date); refuses what Art. 12(3) does not allow."""
    if months not in (1, 2):
        raise InvalidInput("bad extension", errors={"months": ["1 or 2"]})
    if not reason.strip():
        raise InvalidInput("an extension needs a reason", errors={"reason": ["required"]})
    if now > original_due_at:
        raise Conflict("the original deadline has passed; it can no longer be extended")
    total = extended + months
    if total > MAX_EXTENSION_MONTHS:
        raise Conflict(
            f"the deadline may be extended by at most {MAX_EXTENSION_MONTHS} months in all "
            f"({extended} already used)"
        )
    return total, due_at(received_at, total, cal)
