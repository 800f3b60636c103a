"""``/v1/stats/consents`` and ``/v1/stats/requests``: JSON and CSV, the minimum-subjects rule for
clients without ``stats:unsuppressed``, and problems for bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from consent_service.dsar.request_models import DsarRequest
from consent_service.registry.sites import list_sites
from tests.api.helpers import assert_problem, consent_body


def decide(client: Any, headers: dict[str, str], who: str, granted: bool, purpose: str = "newsletter") -> str:
    body = consent_body(
        who, "customer_id", decisions=[{"purpose": purpose, "granted": granted}], method="api"
    )
    response = client.post("/v1/consents", headers=headers, json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["subject_id"])


def today(ctx: Any) -> str:
    return str(ctx.now().date().isoformat())


def test_counts_per_day_with_small_cells_suppressed_except_for_the_dpo(
    client, admin, demo, token, ctx
) -> None:
    for i in range(12):
        decide(client, admin, f"c{i}", True)
    for i in range(2):  # two of them change their mind the same day: withdrawals, not first events
        decide(client, admin, f"c{i}", False)
    for i in range(3):
        decide(client, admin, f"d{i}", False)
    day = today(ctx)
    reader = {"Authorization": f"Bearer {token('stats:read')}"}
    dpo = {"Authorization": f"Bearer {token('stats:read', 'stats:unsuppressed')}"}
    url = f"/v1/stats/consents?purpose=newsletter&from={day}&to={day}"

    shown = client.get(url, headers=reader)
    assert shown.status_code == 200, shown.get_data(as_text=True)
    body = shown.get_json()
    assert (body["min_subjects"], body["unsuppressed"], body["interval"]) == (10, False, "day")
    (bucket,) = body["buckets"]
    assert bucket["grants"] == 12
    assert bucket["withdrawals"] is None and bucket["denials"] is None and bucket["pending"] == 0
    assert bucket["opt_in_rate"] is None and set(bucket["methods"].values()) == {None}
    assert bucket["suppressed"] == ["denials", "withdrawals", "opt_in_rate", "methods"]

    full = client.get(url, headers=dpo).get_json()
    (bucket,) = full["buckets"]
    assert full["unsuppressed"] is True
    assert (bucket["grants"], bucket["denials"], bucket["withdrawals"]) == (12, 3, 2)
    assert bucket["opt_in_rate"] == round(12 / 17, 4)
    assert bucket["methods"]["api"] == 1.0 and bucket["methods"]["custom"] == 0.0
    assert bucket["suppressed"] == []

    as_csv = client.get(url + "&format=csv", headers=dpo)
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [(r["start"], r["grants"], r["denials"], r["withdrawals"], r["suppressed"]) for r in rows] == [
        (day, "12", "3", "2", "")
    ]
    hidden = list(
        csv.DictReader(io.StringIO(client.get(url + "&format=csv", headers=reader).get_data(as_text=True)))
    )
    assert (hidden[0]["denials"], hidden[0]["share_api"]) == ("", "")
    assert hidden[0]["suppressed"] == "denials withdrawals opt_in_rate methods"


def test_weeks_and_months_are_cut_to_the_range_and_other_purposes_stay_out(
    client, admin, demo, token, ctx
) -> None:
    for i in range(3):
        decide(client, admin, f"a{i}", True, purpose="analytics")
    day = ctx.now().date()
    start = day - dt.timedelta(days=40)
    reader = {"Authorization": f"Bearer {token('stats:read')}"}
    weeks = client.get(
        f"/v1/stats/consents?purpose=newsletter&from={start}&to={day}&interval=week", headers=reader
    ).get_json()["buckets"]
    assert weeks[0]["start"] == start.isoformat() and weeks[-1]["end"] == day.isoformat()
    assert all(dt.date.fromisoformat(w["start"]).weekday() == 0 for w in weeks[1:])
    assert all(w["grants"] == 0 and w["opt_in_rate"] is None and w["suppressed"] == [] for w in weeks)
    months = client.get(f"/v1/stats/consents?from={start}&to={day}&interval=month", headers=reader).get_json()
    assert months["purpose"] is None
    assert months["buckets"][-1]["grants"] is None  # 3 analytics grants: fewer than 10 subjects
    assert sum(1 for b in months["buckets"] if b["start"][8:] == "01") == len(months["buckets"]) - 1


def test_site_none_counts_the_decisions_made_not_through_a_banner(client, admin, demo, token, ctx) -> None:
    for i in range(12):
        decide(client, admin, f"n{i}", True)  # by an API client: no site
    with ctx.uow(write=False) as uow:
        site = list_sites(uow.session)[0].id
    reader = {"Authorization": f"Bearer {token('stats:read', 'stats:unsuppressed')}"}
    url = f"/v1/stats/consents?purpose=newsletter&from={today(ctx)}&to={today(ctx)}"
    none = client.get(url + "&site=none", headers=reader)
    assert none.status_code == 200, none.get_data(as_text=True)
    assert none.get_json()["site"] == "" and none.get_json()["buckets"][0]["grants"] == 12
    assert client.get(url + f"&site={site}", headers=reader).get_json()["buckets"][0]["grants"] == 0


def test_the_buckets_served_are_the_schemas_own_dump_and_the_answer_names_its_time_zone(
    client, admin, demo, token, ctx
) -> None:
    """The endpoint writes its buckets without marshmallow's per-field dump; what it serves must
    still be exactly what the documented ConsentBucketOut gives, suppressed numbers included."""
    from consent_service.api.schemas.stats import ConsentBucketOut
    from consent_service.ledger.stats import consent_stats

    for i in range(11):
        decide(client, admin, f"b{i}", True)
    decide(client, admin, "b0", False)
    day = ctx.now().date()
    start = day - dt.timedelta(days=20)
    reader = {"Authorization": f"Bearer {token('stats:read')}"}
    for interval in ("day", "week"):
        body = client.get(
            f"/v1/stats/consents?from={start}&to={day}&interval={interval}", headers=reader
        ).get_json()
        answer = consent_stats(ctx, start=start, end=day, interval=interval)
        assert body["buckets"] == ConsentBucketOut(many=True).dump(answer["buckets"])
        assert any(b["grants"] == 11 for b in body["buckets"]) and any(
            b["suppressed"] for b in body["buckets"]
        )
        assert (body["time_zone"], body["configured_time_zone"]) == ("UTC", "UTC")


def test_bad_input_is_a_problem(client, admin, demo, token, ctx) -> None:
    reader = {"Authorization": f"Bearer {token('stats:read')}"}
    day = ctx.now().date()
    later = day + dt.timedelta(days=1)
    cases = {
        f"/v1/stats/consents?from={later}&to={day}": "from",
        "/v1/stats/consents?interval=year": "interval",
        "/v1/stats/consents?purpose=nope": "purpose",
        "/v1/stats/consents?site=nope": "site",
        "/v1/stats/consents?from=1900-01-01": "from",
        f"/v1/stats/consents?from=2000-01-01&to={day}": "from",  # longer than ten years
        f"/v1/stats/requests?from={later}&to={day}": "from",
        "/v1/stats/requests?format=xml": "format",
    }
    for url, field in cases.items():
        problem = assert_problem(client.get(url, headers=reader), 422)
        assert field in str(problem.get("errors", {})), (url, problem)
    assert_problem(client.get("/v1/stats/consents"), 401)
    assert_problem(
        client.get(
            "/v1/stats/requests", headers=admin | {"Authorization": f"Bearer {token('consent:read')}"}
        ),
        403,
    )


def test_request_statistics_per_type(client, admin, demo, token, ctx) -> None:
    now = ctx.now()
    subjects = [decide(client, admin, f"r{i}", True) for i in range(12)]
    with ctx.uow() as uow:
        for i, subject in enumerate(subjects):
            received = now - dt.timedelta(days=20)
            done = i < 10  # ten completed after 2..11 days (one late), two access requests overdue
            uow.session.add(
                DsarRequest(
                    id=f"req_{i}",
                    type="access",
                    state="completed" if done else "in_progress",
                    subject_id=subject,
                    purposes=[],
                    verification_method="dpo",
                    received_at=received,
                    original_due_at=received + dt.timedelta(days=10),
                    due_at=received + dt.timedelta(days=10),
                    closed_at=received + dt.timedelta(days=2 + i) if done else None,
                    updated_at=now,
                )
            )
        uow.session.add(
            DsarRequest(
                id="req_erasure",
                type="erasure",
                state="received",
                subject_id=subjects[0],
                purposes=[],
                verification_method="dpo",
                received_at=now - dt.timedelta(days=1),
                original_due_at=now + dt.timedelta(days=29),
                due_at=now + dt.timedelta(days=29),
                updated_at=now,
            )
        )
        uow.commit()
    reader = {"Authorization": f"Bearer {token('stats:read')}"}
    dpo = {"Authorization": f"Bearer {token('stats:read', 'stats:unsuppressed')}"}
    body = client.get("/v1/stats/requests", headers=reader).get_json()
    by_type = {t["type"]: t for t in body["types"]}
    assert set(by_type) == {"access", "erasure", "rectification", "restriction", "objection", "portability"}
    access = by_type["access"]
    assert access["received"] == 12
    # 10 completed but only 2 not completed: the completion figures would give those 2 away
    assert access["completed"] is None and access["overdue_now"] is None
    assert access["suppressed"] == ["completed", "median_days", "p95_days", "within_deadline", "overdue_now"]
    assert by_type["erasure"]["received"] is None and by_type["portability"]["received"] == 0

    full = {t["type"]: t for t in client.get("/v1/stats/requests", headers=dpo).get_json()["types"]}
    access = full["access"]
    assert (access["completed"], access["overdue_now"]) == (10, 2)
    assert access["median_days"] == 6.0 and access["p95_days"] == 11.0
    assert access["within_deadline"] == 0.9  # closed after 11 days, due after 10
    assert full["erasure"]["received"] == 1 and full["erasure"]["median_days"] is None

    as_csv = client.get("/v1/stats/requests?format=csv", headers=dpo)
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert as_csv.mimetype == "text/csv" and rows[0]["type"] == "access" and rows[0]["p95_days"] == "11.0"
