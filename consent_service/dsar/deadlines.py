"""Legal deadlines of data subject requests (GDPR Art. 12(3)), counted in calendar months.

A request is due one calendar month after receipt, at the end of that day (UTC): received on
31 January, due at the end of 28 (or 29) February. The controller may extend by at most two
further months, with a reason, and only before the original deadline has passed.

Pure functions: no database, no clock.
"""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta

from consent_service.errors import Conflict, InvalidInput

MAX_EXTENSION_MONTHS = 2


def end_of_day(moment: dt.datetime) -> dt.datetime:
    moment = moment.astimezone(dt.UTC)
    return moment.replace(hour=23, minute=59, second=59, microsecond=999999)


def due_at(received_at: dt.datetime, extension_months: int = 0) -> dt.datetime:
    """End of the day one calendar month (plus any extension) after receipt."""
    return end_of_day(received_at + relativedelta(months=1 + extension_months))


def extend(
    *,
    received_at: dt.datetime,
    original_due_at: dt.datetime,
    extended: int,
    months: int,
    reason: str,
    now: dt.datetime,
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
    return total, due_at(received_at, total)
