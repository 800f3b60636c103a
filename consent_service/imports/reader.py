"""Reading an export file row by row: CSV with a header line, or JSON Lines (one object a line).

Rows are yielded one at a time as ``(row number, dict)`` so a file of a million rows is never
held in memory; row 1 is the first record (after a CSV's header). A line that cannot be read
is yielded as ``(number, RowError)`` so that validation can report it with the others.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import IO, Any

from consent_service.errors import InvalidInput
from consent_service.imports.mapping import RowError

FORMATS = ("csv", "jsonl")
Opener = Callable[[], IO[bytes]]


def rows(open_file: Opener, file_format: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    if file_format not in FORMATS:
        raise InvalidInput("unknown format", errors={"format": [f"choose from {', '.join(FORMATS)}"]})
    with open_file() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
        try:
            if file_format == "csv":
                yield from _csv_rows(text)
            else:
                yield from _jsonl_rows(text)
        except UnicodeDecodeError as exc:
            raise InvalidInput("the file is not UTF-8 text", errors={"file": [str(exc)]}) from exc
        finally:
            text.detach()


def _csv_rows(text: IO[str]) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    sample = text.read(4096)
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(_chain(sample, text), dialect=dialect)
    number = 0
    for number, record in enumerate(reader, start=1):
        if None in record:
            yield number, RowError("file", "more values than the header has columns")
            continue
        yield number, record


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield from io.StringIO(first + rest.readline())
    yield from rest


def _jsonl_rows(text: IO[str]) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            yield number, RowError("file", f"not a JSON object: {exc}")
            continue
        if not isinstance(doc, dict):
            yield number, RowError("file", "not a JSON object")
            continue
        yield number, doc
