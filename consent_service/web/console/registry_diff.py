"""A side-by-side comparison of two versions of a purpose (``difflib`` of the standard library).

Texts are compared sentence by sentence (lists item by item), so a changed sentence is one row:
the earlier version on the left, the later on the right, and inside a changed row the removed
words in ``<del>``, the added ones in ``<ins>``. Each row also says in words what happened
(``kind``: same, changed, removed, added), so the page never marks a change by colour alone.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Row:
    kind: str  # same | changed | removed | added
    left: Markup | None
    right: Markup | None


@dataclass(frozen=True)
class Section:
    label: str
    rows: list[Row]
    language: str | None = None  # the language of the texts, for the page's lang attributes

    @property
    def changed(self) -> bool:
        return any(row.kind != "same" for row in self.rows)


def sentences(text: str) -> list[str]:
    return [part.strip() for part in SENTENCE_END.split(text or "") if part.strip()]


def side_by_side(before: list[str], after: list[str]) -> list[Row]:
    """Rows pairing ``before`` and ``after`` (sentences or list items) in order."""
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [Row("same", escape(unit), escape(unit)) for unit in before[i1:i2]]
            continue
        left, right = before[i1:i2], after[j1:j2]
        paired = min(len(left), len(right))
        rows += [
            Row("changed", *_words(old, new)) for old, new in zip(left[:paired], right[:paired], strict=True)
        ]
        rows += [Row("removed", escape(unit), None) for unit in left[paired:]]
        rows += [Row("added", None, escape(unit)) for unit in right[paired:]]
    return rows


def _words(old: str, new: str) -> tuple[Markup, Markup]:
    """Both sides of a changed sentence, the removed words in <del>, the added in <ins> (a run
    of changed words is one element, so "a year" → "two years" reads as one change)."""
    a, b = old.split(), new.split()
    left: list[Markup] = []
    right: list[Markup] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        gone, came = " ".join(a[i1:i2]), " ".join(b[j1:j2])
        if tag == "equal":
            left.append(escape(gone))
            right.append(escape(came))
            continue
        if gone:
            left.append(Markup("<del>{}</del>").format(gone))
        if came:
            right.append(Markup("<ins>{}</ins>").format(came))
    return Markup(" ").join(left), Markup(" ").join(right)


def compare(
    a: dict[str, Any], b: dict[str, Any], *, labels: dict[str, Any], basis_name: Callable[[str], str]
) -> list[Section]:
    """The sections of two purpose versions (``version_dict``) side by side, in reading order.

    ``labels`` names the parts ("title", "description", "legal_basis", "data_categories",
    "data_uses", "logic", "consequences") and the languages (``labels["languages"][code]``)."""
    return list(_sections(a, b, labels, basis_name))


def _sections(
    a: dict[str, Any], b: dict[str, Any], labels: dict[str, Any], basis_name: Callable[[str], str]
) -> Iterator[Section]:
    languages = labels["languages"]

    def named(part: str, language: str) -> str:
        return f"{labels[part]} ({languages.get(language, language)})"

    for part, field in (("title", "titles"), ("description", "descriptions")):
        for language in _languages(a[field], b[field]):
            yield Section(
                named(part, language),
                side_by_side(sentences(a[field].get(language, "")), sentences(b[field].get(language, ""))),
                language,
            )
    yield Section(
        labels["legal_basis"], side_by_side([basis_name(a["legal_basis"])], [basis_name(b["legal_basis"])])
    )
    for field in ("data_categories", "data_uses"):
        yield Section(labels[field], side_by_side(sorted(a[field]), sorted(b[field])))
    adm_a, adm_b = _automated(a), _automated(b)
    if adm_a or adm_b:
        for part in ("logic", "consequences"):
            texts_a, texts_b = adm_a.get(part, {}), adm_b.get(part, {})
            for language in _languages(texts_a, texts_b):
                yield Section(
                    named(part, language),
                    side_by_side(sentences(texts_a.get(language, "")), sentences(texts_b.get(language, ""))),
                    language,
                )


def _automated(version: dict[str, Any]) -> dict[str, dict[str, str]]:
    value = version.get("automated_decisions")
    return value if isinstance(value, dict) else {}


def _languages(*texts: dict[str, str]) -> list[str]:
    """English and German first, then any other language a version has."""
    found = set().union(*texts)
    return [code for code in ("en", "de") if code in found] + sorted(found - {"en", "de"})
