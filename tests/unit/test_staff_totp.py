"""The second factor's rules without a database: the ±1 step window, no code used twice, and who
must enrol."""

from __future__ import annotations

import datetime as dt

import pyotp

from consent_service.config import Config
from consent_service.staff import totp

NOW = dt.datetime(2026, 1, 31, 12, 0, 10, tzinfo=dt.UTC)
SECRET = pyotp.random_base32()


def code_at(moment: dt.datetime) -> str:
    return pyotp.TOTP(SECRET).at(moment)


def test_a_code_is_accepted_one_step_either_side_and_not_further():
    step = int(NOW.timestamp()) // 30
    assert totp._matching_step(SECRET, code_at(NOW), NOW, None) == step
    assert totp._matching_step(SECRET, code_at(NOW + dt.timedelta(seconds=30)), NOW, None) == step + 1
    assert totp._matching_step(SECRET, code_at(NOW - dt.timedelta(seconds=30)), NOW, None) == step - 1
    assert totp._matching_step(SECRET, code_at(NOW + dt.timedelta(seconds=90)), NOW, None) is None
    assert totp._matching_step(SECRET, code_at(NOW - dt.timedelta(seconds=90)), NOW, None) is None


def test_a_used_step_and_the_ones_before_it_are_refused():
    step = int(NOW.timestamp()) // 30
    assert totp._matching_step(SECRET, code_at(NOW), NOW, step) is None
    assert totp._matching_step(SECRET, code_at(NOW - dt.timedelta(seconds=30)), NOW, step) is None
    assert totp._matching_step(SECRET, code_at(NOW + dt.timedelta(seconds=30)), NOW, step) == step + 1


def test_codes_with_spaces_are_read_and_malformed_ones_refused():
    code = code_at(NOW)
    assert totp._matching_step(SECRET, f" {code[:3]} {code[3:]} ", NOW, None) is not None
    for bad in ("", "12345", "1234567", "abcdef", code + "0"):
        assert totp._matching_step(SECRET, bad, NOW, None) is None


def test_only_admins_without_a_second_factor_must_enrol_and_only_when_required(tmp_path):
    required = Config(data_dir=tmp_path, console_require_2fa=True)
    assert totp.must_enrol(required, {"role": "admin", "totp": False})
    assert not totp.must_enrol(required, {"role": "admin", "totp": True})
    assert not totp.must_enrol(required, {"role": "dpo", "totp": False})
    assert not totp.must_enrol(Config(data_dir=tmp_path), {"role": "admin", "totp": False})
