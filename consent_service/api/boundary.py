"""The one place where bytes from the network become values: JSON, paths, query strings, bodies.

Everything the API reads passes here before any schema or service sees it, so that no view has
to defend itself against input that is not text or not a sane JSON document:

- JSON bodies are parsed by ``loads``: nesting at most ``MAX_DEPTH`` levels (a 30,000-deep array
  is a 400, not a RecursionError), integers of at most ``MAX_INT_DIGITS`` digits, finite floats
  only, no ``NaN``/``Infinity`` literals, and no string (value or key) holding a NUL character or
  a lone UTF-16 surrogate (both 422, naming where). Flask's ``request.get_json`` and the schema
  parser of every blueprint (``Blueprint`` below) use it.
- Paths and query strings must be UTF-8 without NUL (422): Werkzeug would otherwise replace
  undecodable bytes with U+FFFD and hand a different key to the view than the one sent.
- Bodies without a ``Content-Length`` (chunked) are read up to the route's limit and refused with
  413 when longer, instead of being cut silently at the limit.

Schemas then apply the field rules (types, lengths, ranges, patterns) that the OpenAPI shows.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

import flask_smorest
from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import RAISE, fields
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnprocessableEntity
from werkzeug.routing import BaseConverter
from werkzeug.wsgi import get_content_length

from consent_service.registry.service import COOKIE_NAME
from consent_service.stores.spec import KEY_RE

MAX_DEPTH = 32
MAX_INT_DIGITS = 19  # every integer the API takes fits in a signed 64-bit column


class _TooLarge(Exception):
    """Raised from inside the JSON scanner's hooks; not a ValueError, so nothing swallows it."""


def _unprocessable(errors: dict[str, Any], detail: str) -> UnprocessableEntity:
    exc = UnprocessableEntity(detail)
    exc.data = {"messages": {"json": errors}}  # type: ignore[attr-defined]
    return exc


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _TooLarge(f"an integer has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _TooLarge(f"the number {text[:40]} is out of range")
    return value


def _parse_constant(name: str) -> Any:
    raise _TooLarge(f"{name} is not a JSON number")


# Built once: json.loads with hooks would build a decoder (and its scanner) on every call.
_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain a lone surrogate (not valid Unicode text)"
    return None


def printable(text: str) -> str:
    """``text`` with NULs and lone surrogates written as escapes, safe to echo in an answer."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _walk(document: Any, check_text: bool) -> Iterator[tuple[list[str], str]]:
    """(path, problem) for every string that is not clean text and the first too-deep level."""
    stack: list[tuple[Any, list[str]]] = [(document, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise BadRequest(f"The JSON document is nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                problem = _bad_text(key) if check_text else None
                shown = printable(key) if problem else key
                if problem:
                    yield [*path, shown], "key " + problem
                stack.append((item, [*path, shown]))
        elif isinstance(value, list):
            stack.extend((item, [*path, str(i)]) for i, item in enumerate(value))
        elif check_text and isinstance(value, str) and (problem := _bad_text(value)):
            yield path, problem


def _nest(problems: list[tuple[list[str], str]]) -> dict[str, Any]:
    """``[(["subject", "value"], msg)]`` -> ``{"subject": {"value": [msg]}}``, like schema errors."""
    tree: dict[str, Any] = {}
    for path, problem in problems:
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if isinstance(child, list):  # a bad key whose value has bad text too
                child = node[part] = {"_schema": child}
            node = child
        leaf = path[-1] if path else "_schema"
        existing = node.setdefault(leaf, [])
        (existing.setdefault("_schema", []) if isinstance(existing, dict) else existing).append(problem)
    return tree


def loads(data: str | bytes) -> Any:
    """Parse a JSON request body or raise a 400/422 that says what is wrong with it.

    Decoding errors are ``json.JSONDecodeError`` (the schema parser's "not valid JSON" 400).
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"not UTF-8: {exc.reason}", str(exc.object), exc.start) from exc
    else:
        text = data
    try:
        document = _DECODER.decode(text)
    except RecursionError:
        raise BadRequest(f"The JSON document is nested deeper than {MAX_DEPTH} levels.") from None
    except _TooLarge as exc:
        raise _unprocessable({"_schema": [str(exc)]}, str(exc)) from None
    # A NUL or a lone surrogate can only arrive as a \u escape (raw ones are not valid UTF-8 or
    # JSON), and nesting needs brackets: most bodies are checked without walking them.
    check_text = "\\u" in text
    if check_text or text.count("[") + text.count("{") > MAX_DEPTH:
        problems = list(_walk(document, check_text))
        if problems:
            raise _unprocessable(_nest(problems), "A string in the body is not clean text; see errors.")
    return document


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with ``loads`` above, for ``request.get_json``."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


class StrictParser(FlaskParser):
    """The schema parser of every blueprint: request bodies are read by ``loads``, and a query
    parameter the operation does not define is refused (422) rather than silently ignored."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE}

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return core.missing
        return loads(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint reading its arguments through the strict parser."""

    ARGUMENTS_PARSER = StrictParser()


class KeyConverter(BaseConverter):
    """``<key:name>``: a registry key (purposes, stores, recipients, rules, holds) in a path.

    A path whose key cannot name anything is a 404 before any view runs, and the OpenAPI
    document shows the pattern (``init_api`` registers it with the spec)."""

    regex = KEY_RE.pattern.removeprefix("^").removesuffix("$")
    part_isolating = True

    @staticmethod
    def openapi(_: Any) -> dict[str, Any]:
        return {"type": "string", "pattern": KEY_RE.pattern}


class CookieConverter(KeyConverter):
    """``<cookie:name>``: a cookie name, an RFC 6265 token of at most 128 characters."""

    regex = COOKIE_NAME

    @staticmethod
    def openapi(_: Any) -> dict[str, Any]:
        return {"type": "string", "pattern": "^" + CookieConverter.regex + "$"}


class StrictBool(fields.Boolean):
    """A JSON boolean and nothing else: ``"yes"``, ``1`` and ``"off"`` are refused."""

    default_error_messages = {"invalid": "Not a boolean: use true or false."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _raw_url() -> tuple[bytes, bytes]:
    """The path and query as the client sent them (percent-escapes undone), as bytes."""
    environ = request.environ
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw_uri:
        path = unquote_to_bytes(raw_uri.partition("?")[0])
    else:  # WSGI hands the unquoted path as latin-1 text: these are the bytes that were sent
        path = environ.get("PATH_INFO", "").encode("latin-1", "replace")
    return path, unquote_to_bytes(request.query_string)


def _clean_url() -> None:
    """Paths and query strings must be UTF-8 text without NUL."""
    raw_uri = request.environ.get("RAW_URI")
    if raw_uri is not None and raw_uri.isascii() and "%" not in raw_uri:
        return  # nothing escaped: ASCII as sent (a server refuses control bytes in a request line)
    for part, raw in zip(("path", "query"), _raw_url(), strict=True):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problem = "is not valid UTF-8 text"
        else:
            if "\x00" not in text:
                continue
            problem = "must not contain a NUL character"
        exc = UnprocessableEntity(f"The request {part} {problem}.")
        exc.data = {"messages": {part: [problem]}}  # type: ignore[attr-defined]
        raise exc


def _bounded_stream() -> None:
    """A body without Content-Length is read up to the limit; one byte more is a 413."""
    environ = request.environ
    limit = request.max_content_length
    # Werkzeug ignores Content-Length on chunked requests and cuts their stream at the limit.
    if limit is None or get_content_length(environ) is not None:
        return
    if not environ.get("wsgi.input_terminated"):
        return  # the server cannot frame the body: Werkzeug reads none of it
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)  # now framed by the length above


def install(app: Flask) -> None:
    """Install the checks; call after any hook that changes a route's body limit."""
    provider = StrictJSONProvider(app)
    provider.sort_keys = app.json.sort_keys  # type: ignore[attr-defined]
    app.json = provider
    app.before_request(_clean_url)
    app.before_request(_bounded_stream)
