"""What a purpose tells people about automated decision-making and profiling (Art. 15(1)(h)).

A purpose either makes no automated decisions (``"none"``, the default) or describes them:
``{"logic": {lang: text}, "consequences": {lang: text}}`` — "meaningful information about the
logic involved, as well as the significance and the envisaged consequences of such processing
for the data subject", in every required language (like titles).

The information is given to people before they decide (Art. 13(2)(f)), so it is *material*:
it lives in the immutable purpose version and changes its content hash. A purpose without
automated decisions hashes exactly as it did before the field existed, so consents given to
such purposes stay current.
"""

from __future__ import annotations

from typing import Any

NONE = "none"
PARTS = ("logic", "consequences")
MAX_TEXT = 5000


def problems(value: Any, languages: tuple[str, ...]) -> list[str]:
    """What is wrong with an ``automated_decisions`` value (empty when it is valid)."""
    if value is None or value == NONE:
        return []
    if not isinstance(value, dict):
        return [f"either {NONE!r} or an object with {' and '.join(PARTS)}"]
    found = [f"unknown key {extra!r}" for extra in sorted(set(value) - set(PARTS), key=str)]
    for part in PARTS:
        texts = value.get(part)
        if not isinstance(texts, dict) or not all(
            isinstance(lang, str) and isinstance(text, str) and 0 < len(text.strip()) <= MAX_TEXT
            for lang, text in texts.items()
        ):
            found.append(f"{part}: an object language -> text (1-{MAX_TEXT} characters)")
            continue
        missing = [lang for lang in languages if not texts.get(lang)]
        if missing:
            found.append(f"{part}: missing language(s): {', '.join(missing)}")
    return found


def stored(value: Any) -> dict[str, dict[str, str]] | None:
    """The value kept in the purpose version: None for "no automated decisions"."""
    if value is None or value == NONE:
        return None
    return {part: dict(value[part]) for part in PARTS}


def shown(value: dict[str, Any] | None) -> Any:
    """The value as the API and the access package show it."""
    return NONE if value is None else value
