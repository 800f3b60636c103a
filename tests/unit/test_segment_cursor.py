"""The segment cursor: opaque base64url JSON that round-trips, and anything else is refused."""

from __future__ import annotations

import base64
import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_service.errors import InvalidInput
from consent_service.ledger.segments import Cursor, decode_cursor, encode_cursor
from consent_service.ledger.suppressions import email_hash


@given(
    st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=40),
    st.integers(min_value=0, max_value=2**62),
)
def test_a_cursor_round_trips_and_is_url_safe(after: str, feed: int) -> None:
    token = encode_cursor(Cursor(after, feed))
    assert token.isascii() and not set(token) & set("+/= ")
    assert decode_cursor(token) == Cursor(after, feed)


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _b64([1, 2]),
        _b64({"after": "sub_a"}),
        _b64({"after": "", "feed": 0}),
        _b64({"after": "x" * 41, "feed": 0}),
        _b64({"after": "sub_a", "feed": -1}),
        _b64({"after": "sub_a", "feed": True}),
        _b64({"after": "sub_a", "feed": 0, "extra": 1}),
        "A" * 401,
    ],
)
def test_anything_not_handed_out_is_invalid_input(token: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_cursor(token)
    assert raised.value.errors == {"cursor": ["invalid cursor"]}


def test_addresses_are_hashed_trimmed_and_lower_cased() -> None:
    assert email_hash("  Anna@Example.ORG ") == email_hash("anna@example.org")
    # the SHA-256 of the UTF-8 bytes of "anna@example.org", as a mail platform computes it
    assert (
        email_hash("anna@example.org") == "a3bf86238a1c59bd2f0a648af9293620f90d18dad133d8fe2341cf9664a5d6d0"
    )
