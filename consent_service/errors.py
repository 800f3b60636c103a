"""Domain errors. Feature code raises these and knows nothing of HTTP.

The tree::

    DomainError
    ├── NotFound             a named thing does not exist
    │   ├── UnknownPurpose
    │   ├── UnknownCookie
    │   └── UnknownSubject
    ├── InvalidInput         input that passed the schema but breaks a domain rule
    │                        (carries ``errors``: field -> messages)
    ├── Conflict             the request contradicts current state
    ├── Unauthorized         no or unknown credentials
    ├── Forbidden            credentials lack the right
    │   └── ProcessingDenied the processing gate says no (carries the gate's ``reason``)
    ├── Gone                 the data existed but was erased (crypto-shredded)
    ├── RateLimited          too many requests from one source
    └── ConfigurationError   the service is not set up to do this (keys missing, ...)

``consent_service.api.problems`` maps each class to an HTTP status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    title = "Domain error"
    slug = "domain-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Mapping[str, Sequence[str] | Mapping] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = dict(errors) if errors else None
        self.extra = dict(extra) if extra else {}


class NotFound(DomainError):
    title = "Not found"
    slug = "not-found"


class UnknownPurpose(NotFound):
    title = "Unknown purpose"
    slug = "unknown-purpose"


class UnknownCookie(NotFound):
    title = "Unknown cookie"
    slug = "unknown-cookie"


class UnknownSubject(NotFound):
    title = "Unknown subject"
    slug = "unknown-subject"


class UnknownReference(NotFound):
    """A body names a purpose, cookie, store, collection or subject that is not registered."""

    title = "Unknown reference"
    slug = "unknown-reference"


class InvalidInput(DomainError):
    title = "Invalid input"
    slug = "invalid-input"


def refused(
    detail: str, errors: Mapping[str, Sequence[str]], references: set[tuple[str, str]]
) -> DomainError:
    """The error for a document with ``errors``: ``UnknownReference`` (404) when every problem is
    one of ``references`` (a path and message naming something not registered), so that a body
    the schema accepts is refused only for what the schema cannot know; else ``InvalidInput``."""
    problems = {(path, message) for path, messages in errors.items() for message in messages}
    if problems and problems <= references:
        return UnknownReference(detail, errors=errors)
    return InvalidInput(detail, errors=errors)


class Conflict(DomainError):
    title = "Conflict"
    slug = "conflict"


class Unauthorized(DomainError):
    title = "Unauthorized"
    slug = "unauthorized"


class Forbidden(DomainError):
    title = "Forbidden"
    slug = "forbidden"


class ProcessingDenied(Forbidden):
    title = "Processing not allowed"
    slug = "processing-denied"


class Gone(DomainError):
    title = "Gone"
    slug = "erased"


class RateLimited(DomainError):
    title = "Too many requests"
    slug = "rate-limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ConfigurationError(DomainError):
    title = "Service not configured"
    slug = "configuration"
