"""Calendar-month deadlines and their extension (Art. 12(3))."""

import datetime as dt

import pytest

from consent_service.dsar.deadlines import due_at, extend
from consent_service.errors import Conflict, InvalidInput


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (utc(2027, 1, 31, 9), utc(2027, 2, 28, 23, 59, 59, 999999)),
        (utc(2028, 1, 31, 9), utc(2028, 2, 29, 23, 59, 59, 999999)),
        (utc(2027, 3, 15, 18), utc(2027, 4, 15, 23, 59, 59, 999999)),
        (utc(2027, 12, 31), utc(2028, 1, 31, 23, 59, 59, 999999)),
    ],
)
def test_due_one_calendar_month_after_receipt(received, due):
    assert due_at(received) == due


def test_extension_rules():
    received = utc(2027, 1, 31, 9)
    original = due_at(received)
    total, due = extend(
        received_at=received, original_due_at=original, extended=0, months=2, reason="complex", now=received
    )
    assert (total, due) == (2, utc(2027, 4, 30, 23, 59, 59, 999999))
    total, due = extend(
        received_at=received, original_due_at=original, extended=0, months=1, reason="many", now=received
    )
    assert due == utc(2027, 3, 31, 23, 59, 59, 999999)
    with pytest.raises(Conflict, match="at most 2"):
        extend(received_at=received, original_due_at=original, extended=1, months=2, reason="x", now=received)
    with pytest.raises(Conflict, match="passed"):
        extend(
            received_at=received,
            original_due_at=original,
            extended=0,
            months=1,
            reason="x",
            now=utc(2027, 3, 1),
        )
    with pytest.raises(InvalidInput):
        extend(
            received_at=received, original_due_at=original, extended=0, months=1, reason="  ", now=received
        )
    with pytest.raises(InvalidInput):
        extend(received_at=received, original_due_at=original, extended=0, months=3, reason="x", now=received)
