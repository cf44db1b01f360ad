"""The last word on error bodies: an error answered as plain text or HTML leaves as problem JSON.

Parley's own errors are problem JSON already (problems.py). A few come from layers that do not go
through its exception handlers and answer ``text/plain`` or ``text/html``: the CORS middleware
refusing a preflight from an origin that is not allowed, the OpenAPI controller's 404s under
``/schema``. This wrapper rewrites those, so a client parses every error one way. JSON error bodies
(problem JSON, the token endpoint's RFC 6749 errors) pass untouched.
"""

from __future__ import annotations

import json
from typing import Any, cast

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from src.interfaces.http.problems import CODE_BY_STATUS, PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

_REWRITTEN = (b"text/plain", b"text/html")
_DETAIL_CHARS = 200


def problem_body(scope: Scope, status: int, text: str) -> bytes:
    code, title = CODE_BY_STATUS.get(status, (f"http_{status}", "HTTP error"))
    if status == 404:
        detail = f"Nothing is served at {scope['path']}"
    elif text and not text.lstrip().startswith("<"):
        detail = text.strip()[:_DETAIL_CHARS]
    else:
        detail = title
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": scope.get("state", {}).get("request_id"),
        "instance": scope["path"],
    }
    return json.dumps(body).encode()


class ProblemFallbackMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def send_problem(message: Any) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                if message["status"] >= 400 and _content_type(message).startswith(_REWRITTEN):
                    held = message  # rewritten once the whole (small) error body is in
                    return
                await send(message)
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = problem_body(scope, held["status"], b"".join(chunks).decode("utf-8", "replace"))
            headers = [
                (name, value)
                for name, value in held.get("headers", [])
                if name.lower() not in (b"content-type", b"content-length")
            ]
            headers += [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
            await send(cast(Any, {**held, "headers": headers}))
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, send_problem)


def _content_type(message: dict[str, Any]) -> bytes:
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value).lower()
    return b""
