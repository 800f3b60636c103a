"""The preference centre's signed tokens: each kind refuses the others, a forged or cut token is
refused, age is counted on the service's clock, and a master-key rotation keeps old tokens
working until the old key is retired."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest

from consent_service.preferences import tokens
from tests.fakes import FixedClock


def context(keks: dict[int, bytes], current: int, clock: FixedClock) -> Any:
    material = SimpleNamespace(keks=keks, current_kek=current)
    return SimpleNamespace(crypto=SimpleNamespace(material=material), now=clock)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def test_a_token_reads_back_only_as_its_own_kind(clock):
    ctx = context({1: os.urandom(32)}, 1, clock)
    token = tokens.make(ctx, "signin", ["sub_a", "de", None, "n"])
    assert tokens.read(ctx, "signin", token, tokens.SIGNIN_VALIDITY) == ["sub_a", "de", None, "n"]
    for other in ("session", "unsubscribe"):
        with pytest.raises(tokens.TokenInvalid):
            tokens.read(ctx, other, token, None)


def test_forged_cut_and_oversized_tokens_are_refused(clock):
    ctx = context({1: os.urandom(32)}, 1, clock)
    token = tokens.make(ctx, "unsubscribe", ["sub_a", "newsletter"])
    body, stamp, signature = token.split(".")
    forged_body = tokens.make(ctx, "unsubscribe", ["sub_b", "newsletter"]).split(".")[0]
    for bad in (f"{forged_body}.{stamp}.{signature}", token[:-1], "", "a" * (tokens.MAX_TOKEN + 1)):
        with pytest.raises(tokens.TokenInvalid):
            tokens.read(ctx, "unsubscribe", bad, None)
    other_key = context({1: os.urandom(32)}, 1, clock)
    with pytest.raises(tokens.TokenInvalid):
        tokens.read(other_key, "unsubscribe", token, None)


def test_age_is_counted_on_the_services_clock(clock):
    ctx = context({1: os.urandom(32)}, 1, clock)
    token = tokens.make(ctx, "session", ["sub_a", "n"])
    clock.advance(seconds=tokens.SESSION_VALIDITY)
    assert tokens.read(ctx, "session", token, tokens.SESSION_VALIDITY) == ["sub_a", "n"]
    clock.advance(seconds=1)
    with pytest.raises(tokens.TokenExpired):
        tokens.read(ctx, "session", token, tokens.SESSION_VALIDITY)
    assert tokens.read(ctx, "session", token, None) == ["sub_a", "n"]  # no limit: never expires


def test_a_rotation_keeps_old_links_until_the_old_key_is_retired(clock):
    old, new = os.urandom(32), os.urandom(32)
    token = tokens.make(context({1: old}, 1, clock), "unsubscribe", ["sub_a", "newsletter"])
    rotated = context({1: old, 2: new}, 2, clock)
    assert tokens.read(rotated, "unsubscribe", token, None) == ["sub_a", "newsletter"]
    fresh = tokens.make(rotated, "unsubscribe", ["sub_a", "newsletter"])
    retired = context({2: new}, 2, clock)
    assert tokens.read(retired, "unsubscribe", fresh, None) == [
        "sub_a",
        "newsletter",
    ]  # signed with the new key
    with pytest.raises(tokens.TokenInvalid):
        tokens.read(retired, "unsubscribe", token, None)
