"""Structured logs that hold nothing personal or secret: one JSON object per line.

Both the application's log records and gunicorn's access and error logs go through
``JsonFormatter`` (python-json-logger). What can reach a log is cut down at the source:

- the access log (``GunicornLogger.access``) writes method, path, status, size, duration,
  the client IP truncated like consent proofs (/24, IPv6 /48) and the request id; never the
  User-Agent, the Referer or the query string (``"query": "[redacted]"`` says there was one),
  and secret path segments (``SECRET_PATHS``: the package-link token) are replaced;
- every formatted message is scrubbed as well (e-mail addresses, secret path segments, query
  strings, ``ip=`` addresses), which covers gunicorn's own "Error handling request <uri>";
- tracebacks name each exception's type and frames but not its message, because messages
  carry values (a SQL error's parameters, a parsing error's input).

The request id (``X-Request-Id``: taken from the request when well-formed, else generated, and
returned on the response) is set in ``request_id_var`` for the request's duration
(``consent_service.api.request_ids``); ``RequestIdFilter`` puts it on every record.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from gunicorn.glogging import Logger as _GunicornBase
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from consent_service.errors import InvalidInput
from consent_service.ledger.service import truncate_ip

REDACTED = "[redacted]"
REQUEST_ID_HEADER = "X-Request-Id"
# A request id we accept from a caller: letters, digits, '-' and '_' (UUIDs, ULIDs, hex), so
# that no e-mail address, URL or other value can be smuggled into the logs through it.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
# Path segments that are secrets: whoever has one can fetch what it opens.
SECRET_PATHS = (re.compile(r"(/v1/packages/)[^/?#\s\"']+"),)
_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
_QUERY = re.compile(r"(/[\w/.%~-]*)\?[^\s\"']*")
_IP_FIELD = re.compile(r"\bip=([0-9A-Fa-f:.]+)")

request_id_var: ContextVar[str | None] = ContextVar("consent_request_id", default=None)


def redact_path(path: str) -> str:
    """``path`` with every secret segment replaced by ``[redacted]``."""
    for pattern in SECRET_PATHS:
        path = pattern.sub(lambda m: m.group(1) + REDACTED, path)
    return path


def client_ip(value: str | None) -> str | None:
    """The client address as proofs keep it (/24, IPv6 /48); None when it is not an address."""
    if not value:
        return None
    try:
        return truncate_ip(value)
    except InvalidInput:
        return None


def scrub(text: str) -> str:
    """``text`` without e-mail addresses, secret path segments, query strings or full IPs."""
    text = _QUERY.sub(lambda m: m.group(1) + "?" + REDACTED, text)
    text = redact_path(text)
    text = _EMAIL.sub("[email]", text)
    return _IP_FIELD.sub(lambda m: "ip=" + (client_ip(m.group(1)) or REDACTED), text)


def well_formed_request_id(value: str | None) -> bool:
    return value is not None and REQUEST_ID_RE.fullmatch(value) is not None


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or None) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter with scrubbed messages and message-free tracebacks."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__("%(levelname)s %(name)s %(message)s", **kwargs)

    def formatException(self, ei: ExcInfo) -> str:  # noqa: N802 - logging's name
        if ei[1] is None:
            return ""
        lines: list[str] = []
        exc: BaseException | None = ei[1]
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            frames = traceback.extract_tb(exc.__traceback__)
            lines.insert(0, "".join(traceback.format_list(frames)) + f"{type(exc).__qualname__}\n")
            exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        return "Traceback (exception messages are not logged):\n" + "---\n".join(lines)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        for key in ("message", "exc_info"):
            if isinstance(log_data.get(key), str):
                log_data[key] = scrub(log_data[key])
        return log_data


def json_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    return handler


def configure(level: str) -> None:
    """JSON logging on the root logger, unless something (a test runner) already set it up."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(json_handler())
    root.setLevel(level)


class GunicornLogger(_GunicornBase):
    """Gunicorn's logger with JSON error and access logs (``--logger-class``)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if getattr(handler, "_gunicorn", False):
                    handler.setFormatter(JsonFormatter())
                    handler.addFilter(RequestIdFilter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        request_id = next((v for k, v in headers if k.lower() == REQUEST_ID_HEADER.lower()), None)
        method = environ.get("REQUEST_METHOD", "-")
        path = redact_path(environ.get("PATH_INFO") or "/")
        fields: dict[str, Any] = {
            "http_method": method,
            "path": path,
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "client_ip": client_ip(environ.get("REMOTE_ADDR")),
            "request_id": request_id if well_formed_request_id(request_id) else None,
            "protocol": environ.get("SERVER_PROTOCOL"),
        }
        if environ.get("QUERY_STRING"):
            fields["query"] = REDACTED
        try:
            self.access_log.info("%s %s %s", method, path, fields["status"], extra=fields)
        except Exception:  # noqa: BLE001 - a broken log line must not break the request
            self.error("access log line failed")
