"""Request id, access log and security headers: pure ASGI middleware that wraps every request.

The request id comes from a well-formed incoming ``X-Request-ID`` or is generated; it is stored in
the ASGI scope, bound to every log line of the request, and returned in the response header.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS, labelled

REQUEST_ID_HEADER = "x-request-id"
_WELL_FORMED_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
access_logger = get_logger("parley.access")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
# The API serves JSON: nothing may be loaded or framed. The web app and the documentation viewers
# (web_ui.py) load everything from this origin and run no inline script; styles may be set inline
# (the viewers and the app's UI primitives inject style elements), never scripts.
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
APP_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    b"font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    b"frame-ancestors 'none'"
)
#: Answers under these prefixes are the API's (JSON, metrics): the API's policy.
API_PREFIXES = ("/api/", "/v1/", "/health", "/ready", "/metrics")
HSTS = b"max-age=31536000; includeSubDomains"


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _WELL_FORMED_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, docs_path: str = "/schema", hsts: bool = False) -> None:
        self.app = app
        self.docs_path = docs_path
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        is_api = scope["path"].startswith(API_PREFIXES)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                headers.extend(SECURITY_HEADERS)
                headers.append((b"content-security-policy", API_CSP if is_api else APP_CSP))
                if self.hsts:
                    headers.append((b"strict-transport-security", HSTS))
                message["headers"] = headers
            await send(message)

        is_http = scope["type"] == ScopeType.HTTP
        if is_http:
            METRICS.http_in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if is_http:
                METRICS.http_in_flight.dec()
                elapsed = time.perf_counter() - started
                method = str(scope.get("method"))
                # The route template, never the raw path: bounded label values.
                route = scope.get("path_template") or "<unmatched>"
                labelled(METRICS.http_requests, method, route, str(status)).inc()
                labelled(METRICS.http_latency, method, route).observe(elapsed)
                access_logger.info(
                    "request",
                    method=method,
                    route=route,
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.clear_contextvars()
