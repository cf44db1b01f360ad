"""Hostile input stops at the door, for every route at once.

- ``ParleyRequest`` (the app's request class) decodes every JSON body through ``json_input``: only
  ``application/json`` (or ``+json``) bodies are read (anything else is 415); the body is decoded
  straight into the route's ``data`` type with strict types; invalid UTF-8, malformed or too deeply
  nested JSON is 400; a wrong type, unknown field or NUL character is 422 naming the field.
- ``QueryTextMiddleware`` refuses a NUL character in any query parameter (``q`` searches among
  them) with 422 naming the parameter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.middleware import ASGIMiddleware
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils.empty import value_or_default

from src.interfaces.http import json_input

JSON_MEDIA_TYPE = "application/json"
NUL_MESSAGE = "must not contain NUL (%00) characters"


def is_json_media_type(media_type: str) -> bool:
    return media_type == JSON_MEDIA_TYPE or (media_type.startswith("application/") and media_type.endswith("+json"))


class ParleyRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        cached = value_or_default(self._connection_state.json, None)
        if cached is not None:
            return cached
        media_type = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        # No Content-Type at all is read as JSON (a bare `curl -d` style client); any other type is not.
        if media_type and not is_json_media_type(media_type):
            raise HTTPException(
                status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                detail=f"Send the body as {JSON_MEDIA_TYPE}, not {media_type}",
            )
        field = self.route_handler.parsed_data_field
        target: Any = field.annotation if field is not None else Any
        value = json_input.decode(await self.body() or b"null", target)
        self._json = self._connection_state.json = value
        return value


class QueryTextMiddleware(ASGIMiddleware):
    """422 when a query parameter's name or value holds a NUL character."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            names = json_input.nul_fields(iter(parse_qsl(query.decode("latin-1"), keep_blank_values=True)))
            if names:
                raise ValidationException(
                    detail="; ".join(f"{name}: {NUL_MESSAGE}" for name in names),
                    extra=[{"key": name, "source": "query", "message": NUL_MESSAGE} for name in names],
                )
        await next_app(scope, receive, send)
