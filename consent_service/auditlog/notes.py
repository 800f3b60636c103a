"""Free-text notes and reasons (a DPO's "ID checked at the desk", a rejection's reason, a hold's
reason) sealed under the data key of the subject they are about.

They can hold personal data, yet they sit in append-only audit logs that nothing may erase.
So only non-personal facts (action, state, months, dates, store) stay in the clear, and the
text is stored as ``sealed:v1:<base64 AES-GCM box>``: an audit entry's hash covers that string,
so crypto-shredding the subject makes the note unreadable while the chain still verifies.
Reading gives the text while the key exists and ``NOTE_ERASED`` once it is gone. A note written
when the subject is already shredded is not kept at all (``NOTE_ERASED`` from the start).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from consent_service.crypto.envelope import DecryptionFailed, field_aad, open_sealed, seal

PREFIX = "sealed:v1:"
NOTE_ERASED = "[erased: the subject was crypto-shredded]"
NOTE_FIELDS = ("note", "reason", "release_reason")  # the free-text keys of audit details


def _aad(subject_id: str, where: str) -> bytes:
    return field_aad(subject_id, "notes", where)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal_note(key: bytes | None, text: str, *, subject_id: str, where: str) -> str:
    """``text`` sealed under the subject's data key; ``where`` (the log or column) is bound to it."""
    if key is None:
        return NOTE_ERASED
    box = seal(key, text.encode(), _aad(subject_id, where))
    return PREFIX + base64.b64encode(box).decode()


def open_note(key: bytes | None, value: str | None, *, subject_id: str, where: str) -> str | None:
    """The note's text, ``NOTE_ERASED`` once the subject's key is gone; unsealed values as they are."""
    if value is None or not is_sealed(value):
        return value
    if key is None:
        return NOTE_ERASED
    try:
        box = base64.b64decode(value[len(PREFIX) :], validate=True)
        return open_sealed(key, box, _aad(subject_id, where)).decode()
    except (binascii.Error, DecryptionFailed, UnicodeDecodeError):
        return NOTE_ERASED


def open_details(
    key: bytes | None, details: Mapping[str, Any], *, subject_id: str, where: str
) -> dict[str, Any]:
    """A copy of audit ``details`` with its sealed notes opened (or ``NOTE_ERASED``)."""
    out = dict(details)
    for name in NOTE_FIELDS:
        if is_sealed(out.get(name)):
            out[name] = open_note(key, out[name], subject_id=subject_id, where=where)
    return out
