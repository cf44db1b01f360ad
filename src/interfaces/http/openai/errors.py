"""The gateway's one table of error codes: Parley's ``DomainError`` codes in OpenAI's shape.

``{"error": {"message", "type", "param", "code"}}`` with the status OpenAI would answer, so that the
official SDKs raise their matching exception class (400 ``BadRequestError``, 401
``AuthenticationError``, 404 ``NotFoundError``, 429 ``RateLimitError``, 5xx ``InternalServerError``).
A code that is not listed maps by its error's ``kind``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgspec

from src.domain.shared.errors import DomainError


@dataclass(frozen=True, slots=True)
class OpenAIError:
    status: int
    type: str
    #: OpenAI's ``code``; ``None`` keeps Parley's own code (it says more than nothing).
    code: str | None


_INVALID_KEY = OpenAIError(401, "invalid_request_error", "invalid_api_key")
_UPSTREAM = OpenAIError(502, "server_error", None)

#: DomainError.code -> how OpenAI says it.
BY_CODE: dict[str, OpenAIError] = {
    "invalid_token": _INVALID_KEY,
    "authentication_required": _INVALID_KEY,
    "account_inactive": _INVALID_KEY,
    "model_unavailable": OpenAIError(404, "invalid_request_error", "model_not_found"),
    # Parley's per-user AI requests a minute (the chat's allowance).
    "rate_limited": OpenAIError(429, "requests", "rate_limit_exceeded"),
    # The month's budget is spent: OpenAI's "You exceeded your current quota".
    "budget_exceeded": OpenAIError(429, "insufficient_quota", "insufficient_quota"),
    "context_length_exceeded": OpenAIError(400, "invalid_request_error", "context_length_exceeded"),
    "invalid_completion_request": OpenAIError(400, "invalid_request_error", "invalid_value"),
    "permission_denied": OpenAIError(403, "permission_error", None),
    "forbidden": OpenAIError(403, "permission_error", None),
    # The provider rejected the request itself: the caller's to fix, as OpenAI would say it.
    "provider_bad_request": OpenAIError(400, "invalid_request_error", None),
    "content_blocked": OpenAIError(400, "invalid_request_error", "content_filter"),
    # Every model of the chain failed: a bad gateway (a timeout: a gateway timeout).
    "provider_error": _UPSTREAM,
    "provider_auth_failed": _UPSTREAM,
    "provider_unavailable": _UPSTREAM,
    "provider_rate_limited": _UPSTREAM,
    "provider_timeout": OpenAIError(504, "server_error", None),
}

BY_KIND: dict[str, OpenAIError] = {
    "invalid": OpenAIError(400, "invalid_request_error", None),
    "not_found": OpenAIError(404, "invalid_request_error", None),
    "conflict": OpenAIError(409, "invalid_request_error", None),
    "unauthenticated": _INVALID_KEY,
    "forbidden": OpenAIError(403, "permission_error", None),
    "rate_limited": OpenAIError(429, "requests", "rate_limit_exceeded"),
    "unavailable": OpenAIError(503, "server_error", None),
}


def error_body(message: str, type_: str, *, param: str | None = None, code: str | None = None) -> bytes:
    return msgspec.json.encode({"error": {"message": message, "type": type_, "param": param, "code": code}})


def translate(exc: DomainError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """(status, body, extra headers) for ``exc``."""
    mapped = BY_CODE.get(exc.code) or BY_KIND.get(exc.kind) or BY_KIND["invalid"]
    param = exc.extra.get("param")
    body = error_body(
        exc.detail, mapped.type, param=param if isinstance(param, str) else None, code=mapped.code or exc.code
    )
    headers: list[tuple[bytes, bytes]] = []
    retry_after: Any = exc.extra.get("retry_after")
    if mapped.status == 401:
        headers.append((b"www-authenticate", b'Bearer error="invalid_token"'))
    if mapped.status == 429 and isinstance(retry_after, int | float):
        headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
    if mapped.code == "insufficient_quota":
        # Retrying cannot help before the budget renews: the official SDKs honour this header.
        headers.append((b"x-should-retry", b"false"))
    return mapped.status, body, headers


def stream_error_event(code: str, detail: str) -> bytes:
    """The ``data:`` event that ends a stream that failed after its first chunk."""
    mapped = BY_CODE.get(code, _UPSTREAM)
    return b"data: " + error_body(detail, mapped.type, code=mapped.code or code) + b"\n\n"
