"""Domain errors.

Every error a use case can raise is a ``DomainError`` with a stable ``code``. Front doors translate
codes (and, as a fallback, the error's ``kind``) into their own language: an HTTP status with
problem JSON, a WebSocket error frame, a CLI exit code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

ErrorKind = Literal[
    "invalid",
    "not_found",
    "conflict",
    "unauthenticated",
    "forbidden",
    "rate_limited",
    "unavailable",
]


class DomainError(Exception):
    """Base class of every error the domain and the use cases raise on purpose."""

    code: ClassVar[str] = "domain_error"
    kind: ClassVar[ErrorKind] = "invalid"
    title: ClassVar[str] = "The request could not be completed"

    def __init__(self, detail: str | None = None, *, extra: Mapping[str, Any] | None = None) -> None:
        self.detail = detail or self.title
        self.extra: dict[str, Any] = dict(extra or {})
        super().__init__(self.detail)


class InvalidInput(DomainError):
    code = "invalid_input"
    kind = "invalid"
    title = "Invalid input"


class NotFound(DomainError):
    code = "not_found"
    kind = "not_found"
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    kind = "conflict"
    title = "Conflict"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    kind = "unauthenticated"
    title = "Authentication required"


class PermissionDenied(DomainError):
    code = "permission_denied"
    kind = "forbidden"
    title = "Permission denied"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    kind = "unavailable"
    title = "A service Parley depends on is unavailable"


class FileStorageUnavailable(ServiceUnavailable):
    """The file store (the local folder or the object storage) did not answer or refused the call."""

    code = "file_storage_unavailable"
    title = "File storage is unavailable"
