"""HEAD and OPTIONS for every route, answered the same way everywhere (RFC 9110 sections 9.3.2 and 9.3.7).

- ``HEAD`` is answered wherever ``GET`` is: the ``GET`` runs (guards, rate limits and the response
  cache included) and only its status and headers go out; a stream is ended at once.
- ``OPTIONS`` (not a CORS preflight, which the CORS middleware answers) is ``204`` with an ``Allow``
  header listing every method of the path, whichever controller declares them. It needs no sign-in:
  it says what the API offers, never anything about a resource.
"""

from __future__ import annotations

from typing import Any, cast

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils import normalize_path


def allowed_methods(app: Litestar) -> dict[str, str]:
    """Each route template's ``Allow`` value: its methods, ``HEAD`` with ``GET``, and ``OPTIONS``."""
    allowed: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            methods = allowed.setdefault(route.path_format, {"OPTIONS"})
            methods.update(str(method) for method in route.methods)
            if "GET" in methods:
                methods.add("HEAD")
    return {path: ", ".join(sorted(methods)) for path, methods in allowed.items()}


class MethodsMiddleware:
    def __init__(self, app: ASGIApp, litestar: Litestar) -> None:
        self.app = app
        self.litestar = litestar
        self._allow: dict[str, str] | None = None

    def _route_template(self, scope: Scope, method: str) -> str | None:
        """The template of the route serving ``method`` at the request's path, if one does."""
        try:
            *_, template = self.litestar.asgi_router.handle_routing(
                path=normalize_path(scope["path"]),
                method=method,
            )
        except Exception:  # noqa: BLE001 - no such route or method: the app answers 404 or 405
            return None
        return str(template)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "HEAD" and self._route_template(scope, "GET") is not None:
            await self._head(scope, receive, send)
            return
        if method == "OPTIONS" and not _is_preflight(scope):
            template = self._route_template(scope, "OPTIONS")
            if template is not None:
                if self._allow is None:
                    self._allow = allowed_methods(self.litestar)
                await _no_content(send, self._allow.get(template, "OPTIONS"))
                return
        await self.app(scope, receive, send)

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        answered = False

        async def receive_until_answered() -> Any:
            if answered:  # a streaming GET stops once the head has gone out
                return {"type": "http.disconnect"}
            return await receive()

        async def send_head(message: Any) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                await send(message)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                answered = True
            elif message["type"] != "http.response.body":
                await send(message)

        http_scope = cast(dict[str, Any], scope)
        http_scope["method"] = "GET"
        try:
            await self.app(scope, receive_until_answered, send_head)
        finally:
            http_scope["method"] = "HEAD"


def _is_preflight(scope: Scope) -> bool:
    return any(name == b"access-control-request-method" for name, _ in scope["headers"])


async def _no_content(send: Send, allow: str) -> None:
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": 204,
        "headers": [(b"allow", allow.encode("latin-1"))],
    }
    await send(start)  # type: ignore[arg-type]
    await send({"type": "http.response.body", "body": b"", "more_body": False})
