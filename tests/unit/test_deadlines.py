"""Deadlines as Regulation 1182/71 counts them: months, month ends, weekends, public holidays,
the controller's time zone, and the extension (Art. 12(3))."""

import datetime as dt
from calendar import monthrange

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_service.calendars import CalendarError, calendar
from consent_service.dsar.deadlines import (
    UTC_WEEKENDS,
    deadlines_for,
    due_at,
    extend,
    period_end_day,
)
from consent_service.errors import Conflict, InvalidInput

END = (23, 59, 59, 999999)


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def day(text):
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (utc(2027, 3, 15, 18), utc(2027, 4, 15, *END)),  # same date number, a Thursday
        (utc(2027, 12, 31), utc(2028, 1, 31, *END)),  # over the year end, a Monday
        (utc(2028, 1, 31, 9), utc(2028, 2, 29, *END)),  # leap year: 29 February, a Tuesday
        (utc(2027, 5, 31, 9), utc(2027, 6, 30, *END)),  # no 31 June: the month's last day
        (utc(2027, 1, 31, 9), utc(2027, 3, 1, *END)),  # 28 February 2027 is a Sunday
        (utc(2026, 1, 31, 9), utc(2026, 3, 2, *END)),  # 28 February 2026 is a Saturday
        (utc(2027, 4, 10, 9), utc(2027, 5, 10, *END)),  # 10 May is a Monday
        (utc(2027, 4, 9, 9), utc(2027, 5, 10, *END)),  # 9 May 2027 is a Sunday
    ],
)
def test_one_month_from_receipt_month_ends_leap_years_and_weekends(received, due):
    assert due_at(received) == due


@pytest.mark.parametrize(
    ("code", "received", "due"),
    [
        ("none", "2026-11-25", "2026-12-25"),  # weekends only: Christmas is a Friday like any other
        ("DE", "2026-11-25", "2026-12-28"),  # 25 and 26 December, then a Sunday
        ("DE", "2027-09-03", "2027-10-04"),  # 3 October (German Unity) is a Sunday anyway
        ("DE", "2027-02-28", "2027-03-30"),  # 28 March is Easter Sunday, 29 March Easter Monday
        ("DE", "2027-12-06", "2028-01-06"),  # Epiphany is no holiday in Germany as a whole...
        ("DE-BY", "2027-12-06", "2028-01-07"),  # ...but it is in Bavaria
        ("FR", "2027-06-14", "2027-07-15"),  # 14 July, a Wednesday
        ("DE", "2027-06-14", "2027-07-14"),  # not a holiday in Germany
        ("FR", "2027-10-11", "2027-11-12"),  # 11 November (Armistice), a Thursday
        ("IE", "2027-02-17", "2027-03-18"),  # St Patrick's Day, a Wednesday
        ("FR", "2027-02-17", "2027-03-17"),  # not a holiday in France
        ("IE", "2027-09-25", "2027-10-26"),  # the October Bank Holiday, last Monday of October
    ],
)
def test_a_period_ending_on_a_public_holiday_ends_on_the_next_working_day(code, received, due):
    assert period_end_day(day(received), 1, calendar(code)) == day(due)


def test_the_extended_period_is_three_months_from_receipt_rolled_the_same_way():
    # 15 May 2027 is a Saturday, 17 May Whit Monday in Germany.
    assert deadlines_for(day("2027-02-15"), calendar("none")).extended_due == day("2027-05-17")
    assert deadlines_for(day("2027-02-15"), calendar("DE")).extended_due == day("2027-05-18")
    assert deadlines_for(day("2027-01-31"), calendar("FR")).as_json() == {
        "received": "2027-01-31",
        "due": "2027-03-01",
        "extension_notice_by": "2027-03-01",
        "extended_due": "2027-04-30",
    }


def test_days_are_counted_in_the_controllers_time_zone():
    late_evening_utc = utc(2027, 3, 14, 23, 30)  # already 15 March in Berlin
    assert due_at(late_evening_utc) == utc(2027, 4, 14, *END)
    berlin = calendar("DE", "Europe/Berlin")
    # due at the end of 15 April in Berlin (summer time, UTC+2)
    assert due_at(late_evening_utc, cal=berlin) == utc(2027, 4, 15, 21, 59, 59, 999999)
    winter = calendar("none", "Europe/Dublin")
    assert due_at(utc(2027, 10, 15, 12), cal=winter) == utc(2027, 11, 15, *END)  # Dublin = UTC in winter


@pytest.mark.parametrize(
    ("holidays", "timezone", "message"),
    [
        ("XX", "UTC", "unknown holiday calendar 'XX'"),
        ("DE-XX", "UTC", "unknown region 'XX' of DE"),
        ("", "UTC", "unknown holiday calendar"),
        ("none", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("none", "../etc", "unknown time zone"),
    ],
)
def test_unknown_calendars_and_zones_are_refused_by_name(holidays, timezone, message):
    with pytest.raises(CalendarError, match=message):
        calendar(holidays, timezone)


def test_codes_are_read_without_regard_to_case():
    assert calendar("de-by").code == "DE-BY" and calendar("None").code == "none"


@given(
    received=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2090, 12, 31)),
    code=st.sampled_from(["none", "DE", "DE-BY", "FR", "IE"]),
    months=st.integers(1, 3),
)
def test_a_period_ends_on_the_first_working_day_at_or_after_its_nominal_end(received, code, months):
    cal = calendar(code)
    years, month = divmod(received.month - 1 + months, 12)
    year = received.year + years
    nominal = dt.date(year, month + 1, min(received.day, monthrange(year, month + 1)[1]))
    end = period_end_day(received, months, cal)
    assert cal.is_working_day(end) and end >= nominal
    assert all(not cal.is_working_day(nominal + dt.timedelta(d)) for d in range((end - nominal).days))


def test_extension_rules():
    received = utc(2027, 1, 31, 9)
    original = due_at(received)  # Monday 1 March 2027: 28 February is a Sunday
    total, due = extend(
        received_at=received, original_due_at=original, extended=0, months=2, reason="complex", now=received
    )
    assert (total, due) == (2, utc(2027, 4, 30, *END))
    total, due = extend(
        received_at=received, original_due_at=original, extended=0, months=1, reason="many", now=received
    )
    assert due == utc(2027, 3, 31, *END)
    # still possible on the day the rolled first month ends...
    assert (
        extend(
            received_at=received,
            original_due_at=original,
            extended=0,
            months=1,
            reason="x",
            now=utc(2027, 3, 1, 20),
        )[0]
        == 1
    )
    with pytest.raises(Conflict, match="at most 2"):
        extend(received_at=received, original_due_at=original, extended=1, months=2, reason="x", now=received)
    with pytest.raises(Conflict, match="passed"):  # ...but not after it
        extend(
            received_at=received,
            original_due_at=original,
            extended=0,
            months=1,
            reason="x",
            now=utc(2027, 3, 2),
        )
    with pytest.raises(InvalidInput):
        extend(
            received_at=received, original_due_at=original, extended=0, months=1, reason="  ", now=received
        )
    with pytest.raises(InvalidInput):
        extend(received_at=received, original_due_at=original, extended=0, months=3, reason="x", now=received)


def test_an_extension_is_rolled_in_the_controllers_calendar():
    received = utc(2027, 2, 15, 9)
    de = calendar("DE", "Europe/Berlin")
    _, due = extend(
        received_at=received,
        original_due_at=due_at(received, cal=de),
        extended=0,
        months=2,
        reason="complex",
        now=received,
        cal=de,
    )
    assert due == utc(2027, 5, 18, 21, 59, 59, 999999)  # after Whit Monday, end of day in Berlin


def test_the_default_calendar_is_utc_with_weekends_only():
    assert UTC_WEEKENDS.code == "none" and str(UTC_WEEKENDS.zone) == "UTC"
