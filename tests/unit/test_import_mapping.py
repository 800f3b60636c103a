"""Import mappings: each shipped mapping parses, and a row becomes the decisions it says, or a
RowError naming the field (pure functions, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from consent_service.errors import InvalidInput
from consent_service.imports.mapping import SHIPPED, RowError, extract, load, parse

MAPPING = {
    "source": "oldtool",
    "fields": {
        "identity_type": {"value": "email"},
        "identity": "mail",
        "timestamp": {"column": "at", "format": "%d.%m.%Y %H:%M"},
        "method": {"column": "how", "values": {"all": "accept_all", "own": "custom"}, "default": "api"},
        "notice": "text",
    },
    "proof": {"ip": "ip"},
    "decisions": [
        {
            "purpose": {"value": "newsletter"},
            "decision": {"column": "nl", "values": {"ja": "granted", "": "skip"}},
        },
        {"purpose": {"value": "ads"}, "decision": {"column": "cats", "contains": "3"}},
    ],
}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_mapping_parses(name) -> None:
    assert load(name).source == name


def test_a_row_becomes_its_decisions() -> None:
    row = {
        "mail": " erika@example.org ",
        "at": "03.11.2026 09:15",
        "how": "ALL",
        "text": "v3",
        "ip": "1.2.3.4",
        "nl": "ja",
        "cats": "1,3",
    }
    first, second = extract(parse("x", MAPPING), row)
    assert (first.identity, first.target_key, first.decision, first.method) == (
        "erika@example.org",
        "newsletter",
        "granted",
        "accept_all",
    )
    assert first.recorded_at_source == dt.datetime(2026, 11, 3, 9, 15, tzinfo=dt.UTC)
    assert first.proof == {"ip": "1.2.3.4", "notice": "v3"}
    assert (second.target_key, second.decision) == ("ads", "granted")


def test_skip_and_contains_deny() -> None:
    row = {"mail": "a@example.org", "at": "03.11.2026 09:15", "nl": "", "cats": "1,2"}
    (only,) = extract(parse("x", MAPPING), row)
    assert (only.target_key, only.decision, only.method) == ("ads", "denied", "api")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"mail": ""}, "identity", "missing"),
        ({"mail": "nobody"}, "identity", "'nobody' is not an e-mail address"),
        ({"at": "2026-11-03"}, "timestamp", "'2026-11-03' is not a time in format %d.%m.%Y %H:%M"),
        ({"how": "phone"}, "method", "'phone' is not one of all, own"),
        ({"nl": "vielleicht"}, "decisions.0.decision", "'vielleicht' is not one of ja, "),
    ],
)
def test_a_bad_row_names_its_field(change, field, message) -> None:
    row = {"mail": "a@example.org", "at": "03.11.2026 09:15", "nl": "ja", "cats": ""} | change
    with pytest.raises(RowError) as error:
        extract(parse("x", MAPPING), row)
    assert (error.value.field, error.value.message) == (field, message)


def test_a_bad_mapping_names_every_problem() -> None:
    with pytest.raises(InvalidInput) as error:
        parse("x", {"fields": {"identity": "mail", "colour": "c"}, "decisions": [{"purpose": "p"}]})
    assert set(error.value.errors) == {
        "source",
        "fields.colour",
        "fields.identity_type",
        "fields.timestamp",
        "decisions.0",
    }
