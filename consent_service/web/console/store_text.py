"""A store description as the text the console's editor shows, and where in that text a problem is.

The editor holds the description as JSON, the body ``PUT /v1/stores/<key>`` takes. ``as_text``
writes a stored description (its connection already redacted: secrets are ``***``) with two
spaces of indentation, one key per line. ``key_lines`` reads a text back and tells on which line
each key stands, by its path (``collections.customers.fields.email.erase``; list items by index,
``a.0.b``), so that ``line_of`` can put each of the validator's problems next to its line; a path
whose last parts are missing from the text (a required key left out) goes to its nearest
ancestor that is there, and the whole document to line 1.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from consent_service.stores.secrets import redact

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
EDITED_KEYS = ("type", "description", "connection", "collections")


def as_text(store: dict[str, Any]) -> str:
    """The editable part of a store (as ``registry.read_store`` shows it) as indented JSON."""
    return json.dumps({k: store[k] for k in EDITED_KEYS if k in store}, indent=2, ensure_ascii=False)


class NotJson(ValueError):
    """The text is not JSON: where (line, column) and why."""

    def __init__(self, line: int, column: int, message: str):
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def parse(text: str) -> Any:
    """The JSON value of ``text``; NotJson (with line and column) when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotJson(exc.lineno, exc.colno, exc.msg) from exc
    except RecursionError as exc:
        raise NotJson(1, 1, "nested too deeply") from exc


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _skip(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


@dataclass(frozen=True)
class Span:
    line: int  # where the key (or list item) starts
    start: int  # where its value starts and ends in the text
    end: int


def spans(text: str) -> dict[str, Span]:
    """Path of every key (and list item) of a valid JSON text -> its line and its value's span."""
    found: dict[str, Span] = {}

    def value(pos: int, path: str, line: int) -> int:
        pos = _skip(text, pos)
        start = pos
        if text.startswith("{", pos):
            pos = _skip(text, pos + 1)
            while not text.startswith("}", pos):
                key, end = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
                child = f"{path}.{key}" if path else key
                pos = _skip(text, value(_skip(text, end) + 1, child, _line(text, pos)))  # past the colon
                if text.startswith(",", pos):
                    pos = _skip(text, pos + 1)
            end = pos + 1
        elif text.startswith("[", pos):
            pos, index = _skip(text, pos + 1), 0
            while not text.startswith("]", pos):
                child = f"{path}.{index}" if path else str(index)
                pos = _skip(text, value(pos, child, _line(text, pos)))
                if text.startswith(",", pos):
                    pos = _skip(text, pos + 1)
                index += 1
            end = pos + 1
        else:
            end = _DECODER.raw_decode(text, pos)[1]
        found.setdefault(path, Span(line, start, end))
        return end

    try:
        value(0, "", 1)
    except RecursionError:  # nested deeper than Python recurses: every problem goes to line 1
        return {}
    return found


def key_lines(text: str) -> dict[str, int]:
    """Path of every key (and list item) of a valid JSON text -> the line it starts on."""
    return {path: span.line for path, span in spans(text).items()}


def masked(text: str, doc: Any) -> str:
    """``text`` with the secrets of its connection shown as ``redact`` shows them, lines unchanged
    (a secret that spans lines: the whole text rewritten, connection redacted)."""
    connection = doc.get("connection") if isinstance(doc, dict) else None
    if not isinstance(connection, dict):
        return text
    shown = redact(connection, str(doc.get("type", "")))
    where = spans(text)
    hidden = [name for name in connection if shown[name] != connection[name]]
    if any(f"connection.{name}" not in where for name in hidden):
        return _rewritten(text, doc, shown)
    changes = sorted(
        ((where[f"connection.{name}"], json.dumps(shown[name])) for name in hidden),
        key=lambda change: change[0].start,
        reverse=True,
    )
    if any("\n" in text[span.start : span.end] for span, _ in changes):
        return _rewritten(text, doc, shown)
    for span, value in changes:
        text = text[: span.start] + value + text[span.end :]
    return text


def _rewritten(text: str, doc: dict[str, Any], connection: dict[str, Any]) -> str:
    try:
        return json.dumps({**doc, "connection": connection}, indent=2, ensure_ascii=False)
    except RecursionError:
        return masked_loosely(text)


_URL_PASSWORD = re.compile(r"(://[^:/@\s\"]*:)[^@\s\"]+@")
_SECRET_VALUE = re.compile(
    r'("[^"]*(?:secret|password|passwd|token|credential)[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"', re.I
)


def masked_loosely(text: str) -> str:
    """A text that is not JSON with what looks like a secret hidden: URL passwords and the values
    of keys named like secrets (``secret``, ``password``, ``token``, ...)."""
    return _SECRET_VALUE.sub(r'\1"***"', _URL_PASSWORD.sub(r"\1***@", text))


def line_of(path: str, lines: dict[str, int]) -> int:
    """The line a problem at ``path`` belongs to: its key's, else its nearest present ancestor's."""
    parts = re.sub(r"\[(\d+)\]", r".\1", path).split(".")
    while parts:
        line = lines.get(".".join(parts))
        if line is not None:
            return line
        parts.pop()
    return 1


@dataclass(frozen=True)
class Problem:
    line: int
    path: str
    message: str


def problems_by_line(text: str, errors: dict[str, Any]) -> list[Problem]:
    """The validator's ``errors`` ({path: [message]}, nested per store when several) placed on lines."""
    lines = key_lines(text)
    out = [
        Problem(line_of(path, lines), path, str(message))
        for path, messages in _flat(errors)
        for message in messages
    ]
    return sorted(out, key=lambda p: (p.line, p.path))


def _flat(errors: dict[str, Any], prefix: str = "") -> list[tuple[str, list[Any]]]:
    out: list[tuple[str, list[Any]]] = []
    for path, messages in errors.items():
        full = f"{prefix}.{path}" if prefix else str(path)
        if isinstance(messages, dict):
            out += _flat(messages, full)
        else:
            out.append((full, list(messages) if isinstance(messages, list | tuple) else [messages]))
    return out
