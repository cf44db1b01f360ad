"""Errors as RFC 9457 problem JSON: the HTTP front door's one table of error codes.

A ``DomainError`` maps by its ``code`` (or, when its code is not listed, by its ``kind``);
Litestar's own exceptions (404, 405, 400, 413, validation) map by type. The database being out of
reach is a 503 ``service_unavailable`` with ``Retry-After``. Anything else is a 500 that is logged
once with its traceback and tells the client nothing about the internals.
"""

from __future__ import annotations

import math
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.params import ParameterKwarg
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from src.domain.shared.errors import DomainError
from src.infrastructure.logging import get_logger
from src.infrastructure.persistence.outage import DATABASE_RETRY_AFTER_SECONDS, is_database_outage
from src.interfaces.http.json_input import InvalidJson, MalformedJson

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://parley.dev/problems/"

logger = get_logger("parley.http")

#: DomainError.code -> HTTP status, only for codes whose status differs from their kind's (the
#: others, e.g. conversation_not_found or budget_exceeded, map by kind; a unit test keeps it so).
STATUS_BY_CODE: dict[str, int] = {
    # A wrong *current* password (changing it): the session itself is fine, and a 401 would make
    # clients throw their valid tokens away.
    "invalid_credentials": 403,
    # The paragraph source failed (down, too slow, garbage): an upstream's fault, nothing was stored.
    "paragraph_source_failed": 502,
    # Model providers (src/domain/llm/errors.py), all of kind "unavailable" (503, as an outage or an
    # open circuit breaker is): the upstream failed, not the client. A refused key or an unreadable
    # answer is a bad gateway; no answer in time, a gateway timeout; the provider rate limiting
    # Parley, 429 with its Retry-After. A request the provider rejects (provider_bad_request,
    # content_blocked) and an unknown model (model_unavailable) are the client's: 422 by their kind.
    "provider_error": 502,
    "provider_auth_failed": 502,
    "provider_timeout": 504,
    "provider_rate_limited": 429,
    # AI tools (src/domain/ai/errors.py): a model that twice answered unreadable JSON is a bad gateway;
    # prompt_injection_suspected, invalid_template_parameters and invalid_tool_input are 422 by kind.
    "invalid_model_output": 502,
    # Profiles (src/domain/identity/errors.py): an avatar above 2 MiB, as Litestar's own body limit answers.
    "image_too_large": 413,
}

#: DomainError.kind -> HTTP status.
STATUS_BY_KIND: dict[str, int] = {
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "unauthenticated": 401,
    "forbidden": 403,
    "rate_limited": 429,
    "unavailable": 503,
}

#: Codes for Litestar's own HTTP errors, by status.
CODE_BY_STATUS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("permission_denied", "Permission denied"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("body_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_failed", "Validation failed"),
    429: ("rate_limited", "Too many requests"),
    500: ("internal_error", "Internal server error"),
    503: ("service_unavailable", "Service unavailable"),
}


def request_id_of(request: Request[Any, Any, Any]) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id_of(request),
        "instance": request.url.path,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def challenge_headers(request: Request[Any, Any, Any], status: int, extra: dict[str, Any]) -> dict[str, str] | None:
    """``WWW-Authenticate`` on a 401 (RFC 6750: ``error="invalid_token"`` when a bearer token was sent
    and refused), ``Retry-After`` on a 429 that says when to retry."""
    if status == 401:
        sent_token = request.headers.get("authorization", "").lower().startswith("bearer ")
        return {"WWW-Authenticate": 'Bearer error="invalid_token"' if sent_token else "Bearer"}
    if status == 429 and isinstance(extra.get("retry_after"), int | float):
        return {"Retry-After": str(max(1, math.ceil(extra["retry_after"])))}
    return None


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    status = STATUS_BY_CODE.get(exc.code) or STATUS_BY_KIND.get(exc.kind, 400)
    return problem(
        request,
        status=status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=challenge_headers(request, status, exc.extra),
        **exc.extra,
    )


def client_name(request: Request[Any, Any, Any], key: Any) -> Any:
    """The name the client used for a handler argument: ``from`` for ``start``, ``Last-Event-ID`` for
    ``last_event_id_header``, ``body`` for the whole ``data``."""
    if key == "data":
        return "body"
    try:
        field = request.route_handler.parsed_fn_signature.parameters.get(key)
    except Exception:  # noqa: BLE001 - no route (the error came before routing): keep the key
        return key
    definition = getattr(field, "kwarg_definition", None)
    return (isinstance(definition, ParameterKwarg) and definition.name) or key


def validation_error_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = [
        {"field": client_name(request, e.get("key")), "source": e.get("source"), "message": e.get("message")}
        for e in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(e, dict)
    ]
    return problem(
        request,
        status=422,
        code="validation_failed",
        title="Validation failed",
        detail="; ".join(f"{e['field']}: {e['message']}" if e["field"] else str(e["message"]) for e in errors)
        or "The request does not match the expected shape",
        errors=errors,
    )


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    code, title = CODE_BY_STATUS.get(status, (f"http_{status}", "HTTP error"))
    detail = exc.detail if exc.detail and exc.detail != title else title
    if isinstance(exc, NotFoundException) and detail == "Not Found":
        detail = f"Nothing is served at {request.url.path}"
    if isinstance(exc, MethodNotAllowedException):
        detail = f"{request.method} is not allowed on {request.url.path}"
    if isinstance(exc.__cause__, SerializationException):
        # Litestar re-raises body decoding errors as a plain 400; name them for what they are.
        code, title = "malformed_json", "Malformed JSON"
        detail = f"The request body is not valid JSON: {exc.detail}"
    if status >= 500:
        # Never leak what went wrong inside; the log has it.
        detail = title
    headers = {**(challenge_headers(request, status, {}) or {}), **(exc.headers or {})}
    return problem(request, status=status, code=code, title=title, detail=detail, headers=headers or None)


def serialization_error_handler(
    request: Request[Any, Any, Any], exc: SerializationException
) -> Response[dict[str, Any]]:
    return problem(
        request, status=400, code="malformed_json", title="Malformed JSON", detail="The request body is not valid JSON"
    )


def malformed_json_handler(request: Request[Any, Any, Any], exc: MalformedJson) -> Response[dict[str, Any]]:
    return problem(request, status=400, code=exc.code, title="Malformed JSON", detail=exc.detail)


def invalid_json_handler(request: Request[Any, Any, Any], exc: InvalidJson) -> Response[dict[str, Any]]:
    return problem(
        request,
        status=422,
        code="validation_failed",
        title="Validation failed",
        detail=str(exc),
        errors=[{"field": exc.field, "source": "body", "message": exc.message}],
    )


def unhandled_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if is_database_outage(exc):
        # Not a bug: one line, no traceback, and the client is told to come back.
        logger.warning(
            "database_unavailable", method=request.method, path=request.url.path, error=f"{type(exc).__name__}: {exc}"
        )
        code, title = CODE_BY_STATUS[503]
        return problem(
            request,
            status=503,
            code=code,
            title=title,
            detail="The database cannot be reached; try again shortly",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            retry_after=DATABASE_RETRY_AFTER_SECONDS,
        )
    logger.error("unhandled_exception", method=request.method, path=request.url.path, exc_info=exc)
    code, title = CODE_BY_STATUS[HTTP_500_INTERNAL_SERVER_ERROR]
    return problem(request, status=500, code=code, title=title, detail="An unexpected error occurred")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    SerializationException: serialization_error_handler,
    MalformedJson: malformed_json_handler,
    InvalidJson: invalid_json_handler,
    HTTPException: http_error_handler,
    Exception: unhandled_error_handler,
}
