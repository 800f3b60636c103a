"""The Sec-GPC header read as the GPC specification (§ 3.3) says a server reads it."""

from __future__ import annotations

import pytest

from consent_service.ledger.gpc import signal_in, support_resource


@pytest.mark.parametrize(
    ("values", "signal"),
    [
        ([], False),  # absent
        (["1"], True),
        ([" 1 "], True),  # spaces around a field value are not part of it (RFC 9110 § 5.5)
        (["\t1"], True),
        (["0"], False),
        (["true"], False),
        (["1, 1"], True),  # two headers, joined by the WSGI server
        (["1,0"], True),  # one of several is exactly "1"
        (["0, 1"], True),
        (["0, 0"], False),
        ([""], False),
        (["01"], False),
        (["1 1"], False),
        (["1.0"], False),
        (["1", "0"], True),  # two headers handed over separately
        (["0", ""], False),
    ],
)
def test_only_a_field_value_of_exactly_1_is_the_signal(values, signal):
    assert signal_in(values) is signal


def test_the_support_resource_states_support_as_of_its_date():
    assert support_resource("2025-04-15") == {"gpc": True, "lastUpdate": "2025-04-15"}
