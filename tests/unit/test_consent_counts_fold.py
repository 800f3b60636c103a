"""The fold behind the consent counts and the buckets and suppression of the statistics (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from consent_service.ledger import counts, stats

NOON = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def event(subject: str, purpose: str, decision: str, at: dt.datetime = NOON, **extra: Any) -> tuple[Any, ...]:
    """A consent event on a purpose as the fold reads it (``counts.FOLD_FIELDS``)."""
    values = {
        "subject_id": subject,
        "target_key": purpose,
        "decision": decision,
        "channel": "banner",
        "method": "accept_all",
        "language": "de",
        "recorded_at": at,
        "actor_type": "site",
        "actor_id": "site_1",
        **extra,
    }
    return tuple(values.get(name) for name in counts.FOLD_FIELDS)


def test_first_events_count_each_subject_once_per_purpose_and_day() -> None:
    tally: counts.Tally = {}
    counts.fold(
        [
            event("a", "ads", "granted"),
            event("a", "ads", "withdrawn"),  # same day: not a first event
            event("a", "ads", "granted", NOON + dt.timedelta(days=1)),  # next day: first again
            event("b", "ads", "granted"),
            event("a", "newsletter", "granted"),  # other purpose: first
        ],
        set(),
        tally,
    )
    day = NOON.date()
    assert tally == {
        ("ads", day, "site_1", "banner", "accept_all", "de", "granted"): [2, 2],
        ("ads", day, "site_1", "banner", "accept_all", "de", "withdrawn"): [1, 0],
        ("ads", day + dt.timedelta(days=1), "site_1", "banner", "accept_all", "de", "granted"): [1, 1],
        ("newsletter", day, "site_1", "banner", "accept_all", "de", "granted"): [1, 1],
    }


def test_an_imported_event_counts_on_its_source_day_and_other_actors_have_no_site() -> None:
    source = dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))  # 1 Jan UTC
    tally: counts.Tally = {}
    counts.fold(
        [
            event(
                "a",
                "ads",
                "denied",
                recorded_at_source=source,
                actor_type="client",
                actor_id="crm",
                method=None,
            )
        ],
        set(),
        tally,
    )
    assert list(tally) == [("ads", dt.date(2026, 1, 1), "", "banner", "", "de", "denied")]


def test_earlier_marks_make_an_event_not_first() -> None:
    tally: counts.Tally = {}
    counts.fold([event("a", "ads", "granted")], {("a", "ads", NOON.date())}, tally)
    assert list(tally.values()) == [[1, 0]]


def test_buckets_are_cut_to_the_range() -> None:
    assert stats.buckets(dt.date(2026, 3, 4), dt.date(2026, 3, 17), "week") == [
        (dt.date(2026, 3, 4), dt.date(2026, 3, 8)),
        (dt.date(2026, 3, 9), dt.date(2026, 3, 15)),
        (dt.date(2026, 3, 16), dt.date(2026, 3, 17)),
    ]
    assert stats.buckets(dt.date(2026, 1, 31), dt.date(2026, 3, 1), "month") == [
        (dt.date(2026, 1, 31), dt.date(2026, 1, 31)),
        (dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        (dt.date(2026, 3, 1), dt.date(2026, 3, 1)),
    ]
    assert len(stats.buckets(dt.date(2025, 1, 1), dt.date(2025, 12, 31), "day")) == 365


def test_a_bucket_bound_is_the_largest_per_day_and_purpose_not_the_sum() -> None:
    # 6 new subjects on each of two days (per_day's rows): 12 grants, but only 6 certain subjects
    rows = [(dt.date(2026, 3, d), 0, "granted", 6, 6) for d in (2, 3)]
    rows += [(dt.date(2026, 3, d), 1, "accept_all", 6, 6) for d in (2, 3)]
    period = (dt.date(2026, 3, 2), dt.date(2026, 3, 8))
    [sums], [bounds] = stats.bucket_sums(rows, [period], "week")
    assert sums["grants"] == 12 and bounds["grants"] == 6
    hidden = stats._bucket(period, sums, bounds, 10, unsuppressed=False)
    assert hidden["grants"] is None and hidden["denials"] == 0
    assert hidden["suppressed"] == ["grants", "opt_in_rate", "methods"]
    shown = stats._bucket(period, sums, bounds, 6, unsuppressed=False)
    assert shown["grants"] == 12 and shown["opt_in_rate"] == 1.0 and shown["methods"]["accept_all"] == 1.0
    assert stats._bucket(period, sums, bounds, 10, unsuppressed=True)["suppressed"] == []
