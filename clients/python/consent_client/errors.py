"""What the client raises."""

from __future__ import annotations

from typing import Any


class ConsentClientError(Exception):
    """Base of the client's errors."""


class ApiError(ConsentClientError):
    """The service answered with an error (an ``application/problem+json`` document).

    ``status`` is the HTTP status, ``problem`` the whole document (``type``, ``title``,
    ``detail`` and, for a 422, ``errors`` per field).
    """

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.title = str(problem.get("title") or f"HTTP {status}")
        self.detail = str(problem.get("detail") or "")
        super().__init__(f"{status} {self.title}: {self.detail}" if self.detail else f"{status} {self.title}")

    @property
    def errors(self) -> Any:
        """The per-field errors of a 422, if any."""
        return self.problem.get("errors")


class TransportError(ConsentClientError):
    """The service could not be reached, or did not answer in time."""
